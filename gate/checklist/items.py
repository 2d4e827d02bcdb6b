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

# `gate audit`: the lines of one hostname as it runs in the cluster, top to bottom.
AUDIT_ITEMS: dict[str, str] = {
    "controller": "cert-manager runs with the Gateway API support its solver needs",
    "certificate": "Certificate is Ready",
    "challenge": "ACME Challenges complete",
    "solver": "Solver routes: one per Challenge, owner and backend alive",
    "gateway": "Gateway is accepted by its controller",
    "listener": "Gateway listener resolves its TLS Secret",
    "route": "Route is accepted by its Gateway",
}
PIPELINES = {"check": ITEMS, "audit": AUDIT_ITEMS}
