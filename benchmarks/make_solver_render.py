"""Write the incident's scale as a render: 22,514 cert-manager HTTP-01 solver HTTPRoutes (about 14 MB).

The routes look like the ones cert-manager's gatewayHTTPRoute solver creates (pkg/issuer/acme/http/
httproute.go): one per challenge, in the Certificate's namespace, an Exact path match on the token,
backend Service port 8089. Used by benchmarks/loader.py; written to a temporary file, never committed.
"""

from __future__ import annotations

import hashlib
import sys

NAMESPACES = {"acme-pay-production": 5445, "acme-pay-sandbox": 5675, "acme-rbac-production": 5697,
              "acme-rbac-sandbox": 5697}
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
  ownerReferences:
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


def render(out) -> int:
    count = 0
    for namespace, routes in NAMESPACES.items():
        for i in range(routes):
            digest = hashlib.sha256(f"{namespace}/{i}".encode()).hexdigest()
            out.write(TEMPLATE.format(
                suffix=digest[:5], namespace=namespace, domain_hash=digest[5:15], token_hash=digest[15:25],
                certificate=namespace.split("-", 1)[1] + "-tls", challenge=digest[25:35],
                uid=f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}",
                host=HOSTS[namespace], token=digest[:43]))
            count += 1
    return count


if __name__ == "__main__":
    with open(sys.argv[1], "w", encoding="utf-8") as handle:
        print(render(handle), "routes")
