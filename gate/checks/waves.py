"""Argo CD sync ordering: what must exist before what.

Argo CD waits for each (phase, wave) step to be Healthy before the next and applies one step back
to back (`gate.domain.argocd`), so only a dependency in a *later step* leaves its dependent broken
for as long as that step takes: that is what `sync-wave-order` reports.
"""

from __future__ import annotations

from collections.abc import Iterator

from gate.checks.base import Check, Context, Hit, collector
from gate.domain.argocd import SYNC_WAVE, Step, integer, multi_step, step_of
from gate.domain.certmanager import http01_gateway_parents, issuer_for, issuer_ref
from gate.domain.kube import GATEWAY_GROUP
from gate.index import Index
from gate.model import Resource

CHECKS: list[Check] = []
check = collector(CHECKS)


@check("sync-wave-invalid", "error", item="order",
       why="Argo CD silently falls back to the Helm hook weight, then wave 0, for a sync-wave that is not an integer, "
           "so the intended order is lost without a word (gitops-engine pkg/sync/syncwaves).",
       title="An Argo CD sync-wave annotation is not an integer",
       remediation='Set argocd.argoproj.io/sync-wave to a quoted integer such as "-1" or "5".')
def sync_wave_invalid(ctx: Context) -> Iterator[Hit]:
    for resource in ctx.index.resources:
        value = resource.annotations.get(SYNC_WAVE)
        if value is None:
            continue
        where = ("metadata", "annotations", SYNC_WAVE)
        if not isinstance(value, str):
            yield Hit(resource, f"{SYNC_WAVE} is the {type(value).__name__} {value!r}: annotation values must "
                                f"be strings, and kubectl and Argo CD refuse the object", path=where)
        elif integer(value) is None:
            yield Hit(resource, f"{SYNC_WAVE} is {value!r}, not an integer: Argo CD silently uses wave 0 "
                                f"(or the Helm hook weight) instead", path=where)


def dependencies(index: Index) -> Iterator[tuple[Resource, Resource, str]]:
    """(dependent, dependency, why) for every ordering constraint the render implies."""
    for resource in index.resources:
        namespace = index.namespaces.get(resource.namespace) if resource.namespace else None
        if namespace is not None and namespace.origin == "render":
            yield resource, namespace, f"{resource.ref} lives in that namespace"
    for listener in index.listeners:
        gateway = listener.gateway
        for ref in listener.certificate_refs:
            if ref.target is not None:
                yield gateway, ref.target, f"listener '{listener.name}' of {gateway.ref} serves it"
            for cert in index.certificates_by_secret.get((ref.namespace, ref.name), ()):
                if cert.derived_from is None:
                    yield gateway, cert, (f"it produces Secret {ref.namespace}/{ref.name}, which listener "
                                          f"'{listener.name}' of {gateway.ref} serves")
            if ref.namespace != gateway.namespace:
                grant = index.permitting_grant(GATEWAY_GROUP, "Gateway", gateway.namespace, ref.group, ref.kind,
                                               ref.namespace, ref.name)
                if grant is not None:
                    yield gateway, grant, f"it allows {gateway.ref} to use {ref.kind} {ref.namespace}/{ref.name}"
    for route in index.routes:
        res = route.resource
        for ref in route.backends:
            if ref.target is None:
                continue
            yield res, ref.target, f"{res.ref} sends traffic to it"
            if ref.kind == "Service":
                for workload, _ in index.workloads_for(ref.target):
                    yield res, workload, f"{res.ref} sends traffic to it through {ref.target.ref}"
            if ref.namespace != res.namespace:
                grant = index.permitting_grant(res.group, res.kind, res.namespace, ref.group, ref.kind,
                                               ref.namespace, ref.name)
                if grant is not None:
                    yield res, grant, f"it allows {res.ref} to reach {ref.kind} {ref.namespace}/{ref.name}"
    for cert in index.certificates:
        if cert.derived_from is not None:
            continue
        issuer = issuer_for(index, cert) if issuer_ref(cert)[1] in ("Issuer", "ClusterIssuer") else None
        if issuer is not None:
            yield cert, issuer, f"{cert.ref} is issued by it"


@check("sync-wave-order", "error", item="order",
       why="Argo CD applies phase by phase and wave by wave and waits for each step to be Healthy before the next "
           "(gitops-engine pkg/sync/sync_context.go): a dependency in a later step than its dependent leaves the "
           "dependent broken until then.",
       title="Argo CD applies a resource in a later step than something that depends on it",
       remediation="Give the dependency a lower argocd.argoproj.io/sync-wave than the resource that needs it "
                   "(Argo CD waits for each wave to be Healthy before the next). Where a Certificate's HTTP-01 "
                   "solver needs the very Gateway whose listener serves its Secret, neither order works in one sync: "
                   "put the HTTP listener in a Gateway that goes live first, and the HTTPS listener in a later wave "
                   "(or a later sync, gateway-shim, or a ListenerSet).")
def sync_wave_order(ctx: Context) -> Iterator[Hit]:
    steps: dict[int, Step | None] = {}

    def step(resource: Resource) -> Step | None:
        if id(resource) not in steps:
            steps[id(resource)] = step_of(resource)
        return steps[id(resource)]

    late: dict[int, list[tuple[Resource, Step, str]]] = {}  # dependency -> dependents it is late for
    # One Namespace or ClusterIssuer is the dependency of thousands of resources: which dependents a
    # dependency already has is a set lookup, not a scan of its list (quadratic at that scale).
    seen: set[tuple[int, int]] = set()
    for dependent, dependency, why in dependencies(ctx.index):
        if dependency.origin != "render" or dependent.origin != "render":
            continue  # already in the cluster: nothing to wait for
        first, then = step(dependency), step(dependent)
        if first is None or then is None or first.rank <= then.rank:
            continue
        pair = (id(dependency), id(dependent))
        if pair not in seen:
            seen.add(pair)
            late.setdefault(id(dependency), []).append((dependent, then, why))
    resources = {id(r): r for r in ctx.index.resources}
    for key, entries in late.items():
        dependency = resources[key]
        dependent, then, why = entries[0]
        more = f" (and {len(entries) - 1} more that need it)" if len(entries) > 1 else ""
        yield Hit(dependency, f"applied in {step(dependency)}, after {dependent.ref} in "
                              f"{then}, which needs it: {why}{more}")


@check("certificate-wait-deadlock", "error", item="order",
       why="In a multi-step sync Argo CD waits for every resource of a wave to be Healthy before the next; a "
           "Certificate stays Progressing while its HTTP-01 challenge is pending, and the challenge's solver route "
           "cannot attach to a Gateway or listener that a later wave creates: the sync waits for ever "
           "(gitops-engine pkg/sync/sync_context.go; Argo CD's cert-manager Certificate health check).",
       title="An HTTP-01 Certificate waits for a Gateway that Argo CD applies only after it",
       remediation="Apply the Gateway with its HTTP listener before the Certificate (an earlier wave, or a Gateway "
                   "of its own for the solver), or make sure it exists already; keep the HTTPS listener after "
                   "issuance (a later wave, gateway-shim or a ListenerSet). Pass --cluster-state or --kube when the "
                   "Gateway exists already.")
def certificate_wait_deadlock(ctx: Context) -> Iterator[Hit]:
    index = ctx.index
    if not multi_step(index.resources):
        return  # one step: everything is applied back to back, nothing is waited for
    for cert in index.certificates:
        if cert.derived_from is not None or cert.origin != "render":
            continue
        secret = cert.spec.get("secretName")
        if isinstance(secret, str) and index.secret_exists(cert.namespace, secret) is not None:
            continue  # issued already: Argo CD finds it Healthy and does not wait
        cert_step = step_of(cert)
        if cert_step is None:
            continue
        for parent in http01_gateway_parents(index, cert):
            gateway = index.get(GATEWAY_GROUP, "Gateway", parent.namespace, parent.name)
            if gateway is None or gateway.origin != "render":
                continue  # absent: http01-solver-unroutable says so; known: it exists already
            gateway_step = step_of(gateway)
            if gateway_step is None or gateway_step.rank <= cert_step.rank:
                continue
            live = next((r for r in index.known if r.key == gateway.key), None)
            if live is not None and (parent.section_name is None or any(
                    isinstance(raw, dict) and raw.get("name") == parent.section_name
                    for raw in live.spec.get("listeners") or [])):
                continue  # the Gateway (and listener) is live: the solver route attaches now
            which = f"listener '{parent.section_name}' of " if parent.section_name else ""
            message = (f"is applied in {cert_step} and validated over HTTP-01 through {which}{gateway.ref}, which "
                       f"Argo CD applies only in {gateway_step}: it waits for the Certificate to be Healthy, and the "
                       f"Certificate cannot be issued before the Gateway exists")
            if not index.cluster_state_consulted:
                # Without cluster state the gate cannot tell a first install from a Gateway that runs already.
                yield Hit(cert, f"{message}, unless the Gateway exists already (no cluster state consulted: pass "
                                f"--cluster-state or --kube)", unverified=True, severity="warning")
            else:
                yield Hit(cert, f"{message}; the Gateway is {ctx.unresolved_note()}")
            break
