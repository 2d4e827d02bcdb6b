"""Every stage linear: each stage's time over N = 1k, 5k, 20k, 50k, and its growth exponent.

Three shapes, each written to a temporary folder (files of at most 10,000 services, so that no file
comes near the 64 MiB default limit):
- `solvers`: N cert-manager solver HTTPRoutes, no sync waves (benchmarks/make_solver_render.py);
- `solvers-waves`: the incident's manifests with their Argo CD waves plus N solver routes, each a
  wave before its Namespace: one Namespace is then a late dependency of N/4 routes;
- `services`: N complete HTTPS services, each in its own Namespace and wave: a Namespace, a
  ReferenceGrant, a Certificate (issued by one shared ClusterIssuer), a listener on a shared Gateway
  (16 listeners per Gateway, applied before the Certificates: the incident's deadlock, N times),
  an HTTPRoute, a Service and a Deployment.

Each (shape, N) runs in a child process of its own (peak RSS is that run's), best of --repeat per
stage. Stages: load, index, each check, checklist, each report format. The exponent between two
sizes is log(t2/t1)/log(N2/N1): 1.0 is linear, 2.0 quadratic; stages under --floor seconds at the
larger size are too small to tell and show as "-". tests/test_scaling.py runs the two smallest sizes.

    python benchmarks/scaling.py [--sizes 1000,5000,20000,50000] [--shapes solvers,...] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_solver_render import render as render_solvers  # noqa: E402

SHAPES = ("solvers", "solvers-waves", "services")
PER_FILE = 10_000
PER_GATEWAY = 16

_SERVICE = """---
apiVersion: v1
kind: Namespace
metadata:
  name: svc-{i}
  annotations:
    argocd.argoproj.io/sync-wave: "{wave}"
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata:
  name: gateway-tls
  namespace: svc-{i}
  annotations:
    argocd.argoproj.io/sync-wave: "{wave}"
spec:
  from:
  - group: gateway.networking.k8s.io
    kind: Gateway
    namespace: gateways
  to:
  - group: ""
    kind: Secret
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: svc-{i}-tls
  namespace: svc-{i}
  annotations:
    argocd.argoproj.io/sync-wave: "{wave}"
spec:
  secretName: svc-{i}-tls
  dnsNames:
  - svc-{i}.example.com
  issuerRef:
    name: letsencrypt-prod
    kind: ClusterIssuer
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: svc-{i}
  namespace: svc-{i}
  annotations:
    argocd.argoproj.io/sync-wave: "{wave}"
spec:
  parentRefs:
  - name: gw-{gateway}
    namespace: gateways
    sectionName: svc-{i}
  hostnames:
  - svc-{i}.example.com
  rules:
  - backendRefs:
    - name: svc-{i}
      port: 80
---
apiVersion: v1
kind: Service
metadata:
  name: svc-{i}
  namespace: svc-{i}
  annotations:
    argocd.argoproj.io/sync-wave: "{wave}"
spec:
  selector:
    app: svc-{i}
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc-{i}
  namespace: svc-{i}
  annotations:
    argocd.argoproj.io/sync-wave: "{wave}"
spec:
  selector:
    matchLabels:
      app: svc-{i}
  template:
    metadata:
      labels:
        app: svc-{i}
    spec:
      containers:
      - name: app
        image: registry.example.com/svc-{i}:1.0.{i}
        ports:
        - containerPort: 8080
"""
_GATEWAY_HEAD = """---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw-{gateway}
  namespace: gateways
  annotations:
    argocd.argoproj.io/sync-wave: "-5"
spec:
  gatewayClassName: traefik
  listeners:
"""
_LISTENER = """  - name: svc-{i}
    protocol: HTTPS
    port: 8443
    hostname: svc-{i}.example.com
    tls:
      mode: Terminate
      certificateRefs:
      - name: svc-{i}-tls
        namespace: svc-{i}
    allowedRoutes:
      namespaces:
        from: All
"""
_SHARED = """---
apiVersion: v1
kind: Namespace
metadata:
  name: gateways
  annotations:
    argocd.argoproj.io/sync-wave: "-6"
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: letsencrypt-prod
  annotations:
    argocd.argoproj.io/sync-wave: "-6"
spec:
  acme:
    server: https://acme-v02.api.letsencrypt.org/directory
    privateKeySecretRef:
      name: letsencrypt-prod-account
    solvers:
    - http01:
        gatewayHTTPRoute:
          parentRefs:
          - name: gw-0
            namespace: gateways
"""


def write_services(folder: Path, n: int) -> int:
    """N complete services in files of PER_FILE; returns the number of objects written."""
    objects = 2
    (folder / "shared.yaml").write_text(_SHARED, encoding="utf-8")
    for first in range(0, n, PER_FILE):
        with (folder / f"services-{first // PER_FILE:03d}.yaml").open("w", encoding="utf-8") as out:
            last = min(first + PER_FILE, n)
            for gateway_first in range(first, last, PER_GATEWAY):
                members = range(gateway_first, min(gateway_first + PER_GATEWAY, last))
                out.write(_GATEWAY_HEAD.format(gateway=gateway_first // PER_GATEWAY))
                out.write("".join(_LISTENER.format(i=i) for i in members))
                objects += 1
            for i in range(first, last):
                out.write(_SERVICE.format(i=i, wave=i, gateway=i // PER_GATEWAY))
                objects += 6
    return objects


def write_shape(shape: str, n: int, folder: Path) -> int:
    """Write one shape at size n into `folder`; returns the number of objects."""
    folder.mkdir(parents=True, exist_ok=True)
    if shape == "services":
        return write_services(folder, n)
    with (folder / "render.yaml").open("w", encoding="utf-8") as out:
        render_solvers(out, waves=shape == "solvers-waves", routes=n)
    return n


# The child: one offline run with stage timings, then every report format from that Report.
CHILD = """
import json, resource, sys, time
import os
from gate.report import FORMATS, WRITERS
from gate.run import RunConfig, run
timings = {}
# As the CLI runs: the pipeline pauses the cyclic collector itself, the reports render with it on, and
# the formats that can be written in pieces are (to /dev/null here).
start = time.perf_counter()
report = run(RunConfig(paths=[sys.argv[1]], offline=True), timings=timings)
timings["run"] = time.perf_counter() - start
with open(os.devnull, "w", encoding="utf-8") as sink:
    for name, renderer in FORMATS.items():
        start = time.perf_counter()
        if name in WRITERS:
            WRITERS[name](report, sink.write)
        else:
            renderer(report, False)
        timings["report:" + name] = time.perf_counter() - start
print(json.dumps({"timings": timings, "findings": len(report.findings), "resources": report.resources,
                  "documents": report.documents,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure_once(folder: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(folder)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def measure(shape: str, sizes: list[int], repeat: int, tmp: Path) -> dict[int, dict]:
    """Per size: the best time of each stage over `repeat` runs (sizes alternated), peak RSS, counts."""
    folders = {}
    for n in sizes:
        folders[n] = tmp / f"{shape}-{n}"
        objects = write_shape(shape, n, folders[n])
        folders[n] = (folders[n], objects)
    results: dict[int, dict] = {}
    for _ in range(repeat):
        for n in sizes:
            folder, objects = folders[n]
            run = measure_once(folder)
            best = results.setdefault(n, {"timings": {}, "peak_mb": 0.0, "objects": objects})
            for stage, seconds in run["timings"].items():
                best["timings"][stage] = min(seconds, best["timings"].get(stage, math.inf))
            best["peak_mb"] = max(best["peak_mb"], run["peak_mb"])
            best["findings"], best["resources"], best["documents"] = run["findings"], run["resources"], run["documents"]
    return results


def exponent(t1: float, t2: float, n1: int, n2: int, floor: float) -> float | None:
    """Growth exponent between two sizes; None when the stage is too small to tell."""
    if t2 < floor or t1 <= 0:
        return None
    return math.log(t2 / t1) / math.log(n2 / n1)


def complete(result: dict) -> bool:
    """Whether the run read every document written (one object each): a render past the document limit
    (200,000 documents: services at N=50,000) is cut short, its findings change shape, and its times say
    nothing of growth. Documents, not the index's objects: solver routes' five-character name suffixes
    collide now and then (about 50 of 22,514), and the index keeps one of two copies."""
    return result.get("documents", 0) >= result.get("objects", 0)


def exponents(results: dict[int, dict], floor: float) -> dict[str, list[float | None]]:
    """Per stage, the growth exponent between neighbouring sizes (None: too small to tell, or a size
    that was cut short)."""
    sizes = sorted(results)
    pairs = [(a, b) if complete(results[a]) and complete(results[b]) else None for a, b in zip(sizes, sizes[1:])]
    stages = sorted({s for r in results.values() for s in r["timings"]})
    out = {}
    for stage in stages:
        out[stage] = [None if pair is None else
                      exponent(results[pair[0]]["timings"].get(stage, 0.0), results[pair[1]]["timings"].get(stage, 0.0),
                               *pair, floor) for pair in pairs]
    out["peak RSS"] = [None if pair is None else exponent(results[pair[0]]["peak_mb"], results[pair[1]]["peak_mb"],
                                                          *pair, 0.0) for pair in pairs]
    return out


def table(shape: str, results: dict[int, dict], floor: float) -> str:
    sizes = sorted(results)
    growth = exponents(results, floor)
    head = f"{shape}: " + ", ".join(
        f"N={n:,}: {results[n]['objects']:,} objects, {results[n]['findings']:,} findings"
        + ("" if complete(results[n]) else f" (read {results[n]['documents']:,}: the document limit; not judged)")
        for n in sizes)
    lines = [head, f"{'stage':<34}" + "".join(f"{f'{n:,} s':>11}" for n in sizes)
             + "".join(f"{f'exp {a // 1000}k-{b // 1000}k':>13}" for a, b in zip(sizes, sizes[1:]))]
    for stage in sorted(growth):
        if stage == "peak RSS":
            values = "".join(f"{results[n]['peak_mb']:>9.0f}MB" + " " for n in sizes)
        else:
            values = "".join(f"{results[n]['timings'].get(stage, 0.0):>11.4f}" for n in sizes)
        exps = "".join(f"{'-' if e is None else f'{e:.2f}':>13}" for e in growth[stage])
        lines.append(f"{stage:<34}{values}{exps}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,5000,20000,50000")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--floor", type=float, default=0.02, help="seconds below which a stage is not judged")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    sizes = sorted(int(n) for n in args.sizes.split(","))
    everything = {}
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for shape in args.shapes.split(","):
            results = measure(shape, sizes, args.repeat, Path(tmp))
            everything[shape] = results
            print(table(shape, results, args.floor), "\n", flush=True)
            for stage, values in exponents(results, args.floor).items():
                if stage != "peak RSS":
                    worst = max([worst, *(v for v in values if v is not None)])
    print(f"highest stage exponent: {worst:.2f} (1.0 = linear; the budget is 1.1)")
    if args.json:
        args.json.write_text(json.dumps(everything, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
