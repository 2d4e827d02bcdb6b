"""Write the incident's scale as a render: 22,514 cert-manager HTTP-01 solver HTTPRoutes (about 14 MB).

The routes look like the ones cert-manager's gatewayHTTPRoute solver creates (pkg/issuer/acme/http/
httproute.go): one per challenge, in the Certificate's namespace, an Exact path match on the token,
backend Service port 8089. Used by benchmarks/loader.py; written to a temporary file, never committed.

With `--waves` (the render the budget is measured on) the incident itself comes first:
examples/incident (the shared Gateway and its Namespace, the ClusterIssuer, the Certificates, the four
application Namespaces, ReferenceGrants and routes, all with their Argo CD sync waves), and every
solver route carries a sync wave one step before its Namespace's. One Namespace is then a late
dependency of about 5,600 routes: one dependency with thousands of dependents, the shape that hides
quadratic code in the ordering checks when a benchmark has no waves.

    python benchmarks/make_solver_render.py [--waves] FILE
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

INCIDENT = Path(__file__).resolve().parent.parent / "examples" / "incident"
ROUTE_WAVE = "-4"  # the incident's Namespaces are in wave -3

NAMESPACES = {"acme-pay-production": 5445, "acme-pay-sandbox": 5675, "acme-rbac-production": 5697,
              "acme-rbac-sandbox": 5697}
TOTAL = sum(NAMESPACES.values())  # 22,514, the incident's count
HOSTS = {"acme-pay-production": "pay.example.com", "acme-pay-sandbox": "pay.sandbox.example.com",
         "acme-rbac-production": "rbac.example.com", "acme-rbac-sandbox": "rbac.sandbox.example.com"}

TEMPLATE = """---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: cm-acme-http-solver-{suffix}
  namespace: {namespace}
  generateName: cm-acme-http-solver-
  labels:
    acme.cert-manager.io/http-domain: "{domain_hash}"
    acme.cert-manager.io/http-token: "{token_hash}"
    acme.cert-manager.io/http01-solver: "true"
{annotations}  ownerReferences:
  - apiVersion: acme.cert-manager.io/v1
    blockOwnerDeletion: true
    controller: true
    kind: Challenge
    name: {certificate}-1-{challenge}
    uid: {uid}
spec:
  hostnames:
  - {host}
  parentRefs:
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: traefik-gateway
    namespace: traefik
    sectionName: web
  rules:
  - backendRefs:
    - group: ""
      kind: Service
      name: cm-acme-http-solver-{suffix}
      port: 8089
      weight: 1
    matches:
    - path:
        type: Exact
        value: /.well-known/acme-challenge/{token}
"""


def incident_documents() -> str:
    """The incident's own manifests, one stream, in a stable order."""
    return "".join("---\n" + path.read_text(encoding="utf-8").strip("\n-") + "\n"
                   for path in sorted(INCIDENT.rglob("*.yaml")))


def render(out, waves: bool = False, routes: int = TOTAL) -> int:
    """Write the render (`routes` solver routes, split over the namespaces as in the incident);
    returns the number of solver routes."""
    count = 0
    annotations = f'  annotations:\n    argocd.argoproj.io/sync-wave: "{ROUTE_WAVE}"\n' if waves else ""
    if waves:
        out.write(incident_documents())
    shares = [round(routes * share / TOTAL) for share in NAMESPACES.values()]
    shares[-1] = routes - sum(shares[:-1])
    for namespace, share in zip(NAMESPACES, shares):
        for i in range(share):
            digest = hashlib.sha256(f"{namespace}/{i}".encode()).hexdigest()
            out.write(TEMPLATE.format(
                suffix=digest[:5], namespace=namespace, domain_hash=digest[5:15], token_hash=digest[15:25],
                certificate=namespace.split("-", 1)[1] + "-tls", challenge=digest[25:35],
                uid=f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}",
                host=HOSTS[namespace], token=digest[:43], annotations=annotations))
            count += 1
    return count


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--waves", action="store_true", help="the incident's manifests and sync waves too")
    parser.add_argument("--routes", type=int, default=TOTAL, help=f"solver routes (default {TOTAL:,})")
    args = parser.parse_args()
    with open(args.file, "w", encoding="utf-8") as handle:
        print(render(handle, waves=args.waves, routes=args.routes), "routes")
