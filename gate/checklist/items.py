"""The checklist items (lines) a finding can land on, in the order a person reads a service top to bottom."""

from __future__ import annotations

ITEMS: dict[str, str] = {
    "dns": "DNS A record points to the load balancer",
    "certificate": "Certificate can be issued for the name",
    "issuer": "Issuer and ACME solver can validate the name",
    "listener": "Gateway listener has its TLS Secret",
    "route": "Route attaches to the Gateway",
    "backend": "Backend Service exists",
    "workload": "Workload runs behind the Service",
    "image": "Image present in the registry",
    "order": "Argo CD sync-wave order is safe",
    "manifest": "Manifests are valid",
}
