"""Backends behind routes and Ingresses: the Service exists, has the port, and selects a workload."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gate.checks.base import Check, Context, Hit, collector
from gate.domain.ingress import ingress_backends
from gate.domain.kube import as_dict, as_list, containers
from gate.model import Resource

CHECKS: list[Check] = []
check = collector(CHECKS)


def _service_has_port(service: Resource, port: Any) -> bool:
    ports = [as_dict(p) for p in as_list(service.spec.get("ports"))]
    if isinstance(port, str) and not port.isdigit():
        return any(p.get("name") == port for p in ports)
    return any(str(p.get("port")) == str(port) for p in ports)


@check("ingress-backend-missing", "error", item="backend", unresolved=True,
       why="An Ingress controller serves 503 (ingress-nginx) or drops the route for a backend Service that does not "
           "exist; the Service must exist when the Ingress goes live (Kubernetes Ingress docs).",
       title="An Ingress backend names a Service (or Service port) that does not exist",
       remediation="Deploy the Service the Ingress names (with or before the Ingress), or fix the backend's "
                   "service name and port.")
def ingress_backend_missing(ctx: Context) -> Iterator[Hit]:
    for ingress in ctx.index.of(None, "Ingress"):
        for where, name, port in ingress_backends(ingress):
            service = ctx.index.get("", "Service", ingress.namespace, name)
            if service is None:
                yield Hit(ingress, f"{where} names Service {ingress.namespace}/{name}, {ctx.unresolved_note()}",
                          path=where)
            elif port is not None and not _service_has_port(service, port):
                yield Hit(ingress, f"{where} uses port {port}, which Service {ingress.namespace}/{name} does not "
                                   f"expose", path=where, points_at_nothing=False)


def backend_services(ctx: Context) -> list[Resource]:
    """Rendered Services that a route or an Ingress sends traffic to."""
    found: dict[int, Resource] = {}
    for route in ctx.index.routes:
        for ref in route.backends:
            if ref.target is not None and (ref.group, ref.kind) == ("", "Service"):
                found[id(ref.target)] = ref.target
    for ingress in ctx.index.of(None, "Ingress"):
        for _, name, _ in ingress_backends(ingress):
            service = ctx.index.get("", "Service", ingress.namespace, name)
            if service is not None:
                found[id(service)] = service
    return [s for s in found.values() if s.origin == "render"]


@check("service-selects-nothing", "error", item="workload", unresolved=True,
       why="A Service whose selector matches no pod has no endpoints, so every request behind it fails; a targetPort "
           "name no container declares resolves to no port (Kubernetes Service docs).",
       title="A backend Service selects no workload, or targets a port name no container declares",
       remediation="Make the Service selector match the pod template labels of a Deployment/StatefulSet/"
                   "DaemonSet (deployed with it), and name a targetPort that its containers declare.")
def service_selects_nothing(ctx: Context) -> Iterator[Hit]:
    for service in backend_services(ctx):
        selector = service.spec.get("selector")
        if service.spec.get("type") == "ExternalName" or not isinstance(selector, dict) or not selector:
            continue  # no selector: Endpoints are managed by hand or by another controller
        workloads = ctx.index.workloads_for(service)
        if not workloads:
            labels = ", ".join(f"{k}={v}" for k, v in selector.items())
            yield Hit(service, f"selector {labels} matches no workload pod template: {ctx.unresolved_note()}")
            continue
        # only string names count: a name that is a mapping or a list is no port name (and unhashable)
        declared = {p.get("name") for w, _ in workloads for _, c in containers(w)
                    for p in as_list(c.get("ports")) if isinstance(p, dict) and isinstance(p.get("name"), str)}
        for port in as_list(service.spec.get("ports")):
            target = as_dict(port).get("targetPort")
            if isinstance(target, str) and not target.isdigit() and target not in declared:
                names = ", ".join(sorted(str(n) for n in declared if n)) or "none"
                yield Hit(service, f"port {as_dict(port).get('port')} targets the port name '{target}', which no "
                                   f"container of {workloads[0][0].ref} declares (named ports: {names})",
                          points_at_nothing=False)
