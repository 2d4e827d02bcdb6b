"""Routes to their backends, and cross-namespace references to the ReferenceGrants that allow them."""

from __future__ import annotations

from collections.abc import Iterator

from gate.checks.base import Check, Context, Hit, collector
from gate.domain.kube import as_list

CHECKS: list[Check] = []
check = collector(CHECKS)


def _is_service(ref) -> bool:
    return ref.group == "" and ref.kind == "Service"


@check("route-backend-missing", "error", item="backend", unresolved=True,
       why="A route to a missing Service gets ResolvedRefs=False/BackendNotFound; Traefik before v3.1 drops the whole "
           "Gateway configuration on such a route (traefik #9158), which is how the incident's solver routes broke "
           "ingress.",
       title="A route sends traffic to a Service that does not exist",
       remediation="Deploy the backend Service (and its workload) before or with the route, or fix the "
                   "backendRef name and namespace.")
def route_backend_missing(ctx: Context) -> Iterator[Hit]:
    # Traefik refuses to load a route whose Service is missing (traefik #9158), and the solver
    # traffic for the incident's names died on exactly that.
    for route in ctx.index.routes:
        for ref in route.backends:
            if _is_service(ref) and ref.target is None:
                yield Hit(route.resource, f"{ref.path} names Service {ref.namespace}/{ref.name}, "
                                          f"{ctx.unresolved_note()}", path=ref.path)


@check("route-backend-port-missing", "error", item="backend",
       why="A Service backendRef needs a port the Service exposes; otherwise the controller has no endpoint to send "
           "traffic to (Gateway API BackendRef spec: port is required for Service).",
       title="A route's backendRef has no port, or a port the Service does not expose",
       remediation="Set backendRefs[].port to one of the Service's spec.ports[].port values.")
def route_backend_port_missing(ctx: Context) -> Iterator[Hit]:
    for route in ctx.index.routes:
        for ref in route.backends:
            if not _is_service(ref):
                continue
            if ref.port is None:
                yield Hit(route.resource, f"{ref.path} names Service {ref.namespace}/{ref.name} without a "
                                          f"port (required for a Service backend)", path=ref.path)
            elif ref.target is not None and ref.service_port is None:
                ports = sorted(str(p.get("port")) for p in as_list(ref.target.spec.get("ports"))
                               if isinstance(p, dict))
                yield Hit(route.resource, f"{ref.path} uses port {ref.port}, which Service "
                                          f"{ref.namespace}/{ref.name} does not expose (ports: "
                                          f"{', '.join(ports) or 'none'})", path=f"{ref.path}.port")


@check("reference-not-permitted", "error", item="listener",
       why="A cross-namespace certificateRef or backendRef needs a ReferenceGrant in the target namespace, otherwise "
           "ResolvedRefs=False/RefNotPermitted (Gateway API ReferenceGrant spec).",
       title="A cross-namespace reference has no ReferenceGrant allowing it",
       remediation="Add a ReferenceGrant in the target namespace whose `from` names the referring kind and "
                   "namespace and whose `to` names the target kind (and name), or move the object.")
def reference_not_permitted(ctx: Context) -> Iterator[Hit]:
    for listener in ctx.index.listeners:
        for ref in listener.certificate_refs:
            if not ref.permitted:
                yield Hit(listener.gateway, f"listener '{listener.name}' uses {ref.kind} "
                                            f"{ref.namespace}/{ref.name} from another namespace, and no "
                                            f"ReferenceGrant in '{ref.namespace}' allows Gateways from "
                                            f"'{listener.gateway.namespace}' (ResolvedRefs=False/RefNotPermitted)",
                          hostname=listener.hostname, path=ref.path)
    for route in ctx.index.routes:
        for ref in route.backends:
            if not ref.permitted:
                yield Hit(route.resource, f"{ref.path} names {ref.kind} {ref.namespace}/{ref.name} in another "
                                          f"namespace, and no ReferenceGrant in '{ref.namespace}' allows "
                                          f"{route.resource.kind}s from '{route.resource.namespace}' "
                                          f"(ResolvedRefs=False/RefNotPermitted)", path=ref.path, item="backend")
