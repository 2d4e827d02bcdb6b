"""Checklist scaling: the run's time per service must stay flat as the number of services grows.

Writes renders of N HTTPS services (a Certificate, an HTTPRoute, a Service and a Deployment each, all
behind one wildcard listener) and times the offline run at several N, best of --repeat. The time per
1,000 services at the largest N over that at the smallest is the linearity ratio (1.0 = linear; the
checklist used to be quadratic: 31.8 s for 3,000 services before the hostname lookups).

    python benchmarks/services.py [--sizes 500,1500,3000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from gate.run import RunConfig, run

HEAD = """apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: x
  listeners:
  - {name: https, protocol: HTTPS, port: 443, hostname: "*.example.com",
     tls: {certificateRefs: [{name: wild-tls}]}, allowedRoutes: {namespaces: {from: All}}}
---
apiVersion: v1
kind: Secret
metadata: {name: wild-tls, namespace: infra}
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: ca}
spec: {selfSigned: {}}
"""
SERVICE = """---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {{name: app{i}, namespace: ns{ns}}}
spec: {{secretName: app{i}-tls, dnsNames: [app{i}.example.com], issuerRef: {{name: ca, kind: ClusterIssuer}}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: app{i}, namespace: ns{ns}}}
spec:
  parentRefs: [{{name: gw, namespace: infra}}]
  hostnames: [app{i}.example.com]
  rules: [{{backendRefs: [{{name: app{i}, port: 80}}]}}]
---
apiVersion: v1
kind: Service
metadata: {{name: app{i}, namespace: ns{ns}}}
spec: {{selector: {{app: app{i}}}, ports: [{{port: 80}}]}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app{i}, namespace: ns{ns}}}
spec:
  selector: {{matchLabels: {{app: app{i}}}}}
  template:
    metadata: {{labels: {{app: app{i}}}}}
    spec: {{containers: [{{name: c, image: "registry.example.com/app{i}:1.0"}}]}}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,1500,3000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    per_thousand = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp, f"services-{n}.yaml")
            path.write_text(HEAD + "".join(SERVICE.format(i=i, ns=i % 50) for i in range(n)), encoding="utf-8")
            best = float("inf")
            for _ in range(args.repeat):
                start = time.perf_counter()
                report = run(RunConfig(paths=[str(path)], offline=True))
                best = min(best, time.perf_counter() - start)
            assert len(report.services) == n + 1  # every app name and the wildcard
            per_thousand[n] = best / n * 1000
            print(f"{n:>6} services  {best:7.3f} s  {per_thousand[n]:6.3f} s per 1,000")
    print(f"linearity: {per_thousand[sizes[-1]] / per_thousand[sizes[0]]:.2f} "
          f"(time per 1,000 services at {sizes[-1]} over at {sizes[0]}; 1.0 = linear)")


if __name__ == "__main__":
    main()
