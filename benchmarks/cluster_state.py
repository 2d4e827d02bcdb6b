"""Cluster-state cost: the incident's scale with and without a snapshot of what exists.

The render is the 22,514 solver HTTPRoutes of benchmarks/make_solver_render.py; the snapshot is a
`kind: List` (as `kubectl get svc,secret -A -o json` prints it) holding the 22,514 solver Services
they point at plus as many TLS Secrets with data (dropped on load), as JSON. Each configuration runs in a
fresh child process, best of N; the ratio is against the render-only run of this same invocation.

    python benchmarks/cluster_state.py [--repeat N]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_solver_render import NAMESPACES, render

GATE = """
import resource, sys, time
from gate.config import ClusterOptions
from gate.run import RunConfig, run
start = time.perf_counter()
report = run(RunConfig(paths=[sys.argv[1]], offline=True, cluster=ClusterOptions(state_paths=tuple(sys.argv[2:]))))
missing = sum(f.check == "route-backend-missing" for f in report.findings)
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, report.known, missing)
"""

DATA = base64.b64encode(b"x" * 300).decode()  # keeps the snapshot under the 64 MiB input limit


def snapshot(out) -> int:
    # JSON, as `kubectl get ... -A -o json` prints it: a YAML List of this size would be one
    # document over the loader's 8 MiB per-document bound (README, Cluster state).
    items = []
    for namespace, routes in NAMESPACES.items():
        for i in range(routes):
            suffix = hashlib.sha256(f"{namespace}/{i}".encode()).hexdigest()[:5]
            items.append({"apiVersion": "v1", "kind": "Service",
                          "metadata": {"name": f"cm-acme-http-solver-{suffix}", "namespace": namespace},
                          "spec": {"ports": [{"port": 8089, "targetPort": 8089}],
                                   "selector": {"acme.cert-manager.io/http01-solver": "true"}}})
            items.append({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                          "metadata": {"name": f"tls-{suffix}-{i}", "namespace": namespace},
                          "data": {"tls.crt": DATA, "tls.key": DATA}})
    json.dump({"apiVersion": "v1", "kind": "List", "items": items}, out, indent=4)
    return len(items)


def measure(args: list[str], repeat: int) -> tuple[float, float, int, int]:
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", GATE, *args], capture_output=True, text=True,
                             check=True).stdout.split()
        runs.append((float(out[0]), float(out[1]), int(out[2]), int(out[3])))
    return min(r[0] for r in runs), max(r[1] for r in runs), runs[0][2], runs[0][3]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        render_path, state_path = Path(tmp, "render.yaml"), Path(tmp, "state.json")
        with render_path.open("w") as handle:
            routes = render(handle)
        with state_path.open("w") as handle:
            objects = snapshot(handle)
        base = measure([str(render_path)], args.repeat)
        with_state = measure([str(render_path), str(state_path)], args.repeat)
        assert with_state[2] and not with_state[3], "the snapshot was not loaded or did not resolve the backends"
        sizes = render_path.stat().st_size / 1e6, state_path.stat().st_size / 1e6
    print(f"render: {routes} routes ({sizes[0]:.0f} MB); snapshot: {objects} objects ({sizes[1]:.0f} MB)")
    print(f"render only      {base[0]:6.2f} s  {base[1]:6.0f} MB  route-backend-missing: {base[3]}")
    print(f"with snapshot    {with_state[0]:6.2f} s  {with_state[1]:6.0f} MB  route-backend-missing: "
          f"{with_state[3]}  known: {with_state[2]}")
    print(f"ratio            {with_state[0] / base[0]:6.2f} x time, {with_state[1] / base[1]:.2f} x peak memory")


if __name__ == "__main__":
    main()
