"""Gateways as the API server and their controller judge them: listener validity, pending Secrets,
routes that attach to nothing, and how many listeners share one listener's fate.
"""

from __future__ import annotations

from collections.abc import Iterator

from gate.checks.base import Check, Context, Hit, collector
from gate.domain.argocd import multi_step, step_of, step_rank
from gate.domain.certmanager import certificate_names, http01_gateway_parents
from gate.domain.controllers import blast_radius, takes_gateway_down
from gate.domain.gateway_api import (
    Listener,
    attachable,
    hostname_problem,
    terminating_listeners,
)
from gate.domain.kube import GATEWAY_GROUP, as_dict, as_list, as_port, hashable, hostname_covers

CHECKS: list[Check] = []
check = collector(CHECKS)

def _blast_radius(ctx: Context, listener: Listener) -> str:
    gateway = f"{listener.gateway.namespace}/{listener.gateway.name}"
    return blast_radius(gateway, ctx.index.other_listeners(listener), ctx.gateway_controller())


@check("listener-secret-pending", "error", item="listener", options=("gatewayController",),
       why="A listener whose Secret does not exist yet is ResolvedRefs=False/InvalidCertificateRef until issuance. "
           "Argo CD 3.1+ marks such a Gateway Degraded and, in a multi-step sync, fails the sync at once; Traefik "
           "before v3.1 and released Cilium drop the whole Gateway meanwhile (Argo CD Gateway health; traefik "
           "#9158; cilium #34982). On a spec-conformant controller in a one-step sync the listener is only briefly "
           "unresolved.",
       title="A listener's TLS Secret exists only after a Certificate is issued, and the Gateway goes live first",
       remediation="Let the Gateway's HTTP listener go live first and add the HTTPS listener once the Certificate "
                   "is issued: a later sync wave or sync for the HTTPS listener (or its own Gateway), gateway-shim, "
                   "or a ListenerSet; issue with DNS-01 so issuance does not depend on the Gateway; or pre-create a "
                   "placeholder Secret holding a matching self-signed pair (`openssl req -x509 -newkey rsa:2048 -nodes "
                   "-subj /CN=NAME -keyout tls.key -out tls.crt` and `kubectl create secret tls`), which cert-manager "
                   "replaces on issuance.")
def listener_secret_pending(ctx: Context) -> Iterator[Hit]:
    # The incident's deadlock: the Gateway references a Secret that cert-manager creates only after
    # issuance. What that costs depends on the sync (one step or several) and the controller.
    multi = multi_step(ctx.index.resources)
    controller = ctx.gateway_controller()
    whole = takes_gateway_down(controller)
    for listener in terminating_listeners(ctx.index.listeners):
        gateway_step = step_rank(listener.gateway)
        if gateway_step is None:
            continue
        for ref in listener.certificate_refs:
            if (ref.group, ref.kind) != ("", "Secret") or ref.target is not None:
                continue
            for cert in ctx.index.certificates_by_secret.get((ref.namespace, ref.name), ()):
                if cert.derived_from is not None:
                    # A shim creates it only once its Ingress/Gateway is applied: never earlier
                    order = f"{cert.derived_from.ref} makes cert-manager create it only after it is applied"
                    later = False
                else:
                    cert_step = step_rank(cert)
                    if cert_step is None or (multi and cert_step < gateway_step):
                        continue  # Argo CD waits for the Certificate to be Healthy before the Gateway
                    later = cert_step > gateway_step
                    order = (f"the Gateway is applied in {step_of(listener.gateway)}, "
                             f"{'before' if later else 'in the same step as'} the Certificate ({step_of(cert)})")
                same_gateway = any((p.namespace, p.name) == (listener.gateway.namespace, listener.gateway.name)
                                   for p in http01_gateway_parents(ctx.index, cert))
                head = (f"listener '{listener.name}' ({listener.hostname or 'no hostname'}) serves Secret "
                        f"{ref.namespace}/{ref.name}, which exists only once Certificate {cert.namespace}/{cert.name} "
                        f"is issued: {order}")
                blast = _blast_radius(ctx, listener)
                if multi:
                    fate = ("the Certificate in the later step is never applied" if later else
                            "the sync fails while cert-manager is still issuing")
                    yield Hit(listener.gateway, f"{head}; in this multi-step sync Argo CD (3.1+) marks the Gateway "
                                                f"Degraded while the Secret is missing and fails the sync, so {fate}; "
                                                f"{blast}", hostname=listener.hostname, path=ref.path)
                elif whole:
                    loop = (" and the HTTP-01 challenge is served through this same Gateway, so the Certificate can "
                            "never be issued" if same_gateway else "")
                    yield Hit(listener.gateway, f"{head}; {controller.describe()} takes the Gateway down while the "
                                                f"Secret is missing{loop}; {blast}",
                              hostname=listener.hostname, path=ref.path)
                else:
                    yield Hit(listener.gateway, f"{head}; until then the listener is unresolved (ResolvedRefs=False); "
                                                f"{blast}", hostname=listener.hostname, path=ref.path, severity="info")
                break


@check("listener-certificate-mismatch", "error", item="listener",
       why="A listener serves whatever certificate its Secret holds; if the Certificate behind it does not cover the "
           "listener hostname, clients get a certificate for another name and refuse the connection.",
       title="The Certificate behind a listener's Secret does not cover the listener hostname",
       remediation="Add the listener hostname to the Certificate's dnsNames (or a wildcard one label up), or "
                   "point the listener at the Secret of a Certificate that covers it.")
def listener_certificate_mismatch(ctx: Context) -> Iterator[Hit]:
    for listener in terminating_listeners(ctx.index.listeners):
        if not listener.hostname:
            continue
        for ref in listener.certificate_refs:
            certs = ctx.index.certificates_by_secret.get((ref.namespace, ref.name), ())
            if not certs or any(hostname_covers(n, listener.hostname) for c in certs for n in certificate_names(c)):
                continue
            names = ", ".join(n for c in certs for n in certificate_names(c)) or "no names"
            yield Hit(listener.gateway,
                      f"listener '{listener.name}' serves {listener.hostname} with Secret {ref.namespace}/{ref.name}, "
                      f"but Certificate {certs[0].namespace}/{certs[0].name} covers only {names}: clients get a "
                      f"certificate for another name", hostname=listener.hostname, path=ref.path)


def _controller_problems(ctx: Context, listeners: list[Listener]) -> Iterator[tuple[str, Listener]]:
    """(problem, listener) for what the controller refuses although the API server accepts it.

    What the CRDs state (unique names, port/protocol/hostname, tls per protocol, 64 listeners, 16
    route hostnames, hostname syntax) is `schema-invalid`'s, from the CRDs themselves."""
    for lst in listeners:
        if lst.hostname and hostname_problem(lst.hostname):
            # The CRD's pattern admits dotted numbers; the spec says IPs are not hostnames.
            yield f"listener '{lst.name}' hostname {lst.hostname!r} {hostname_problem(lst.hostname)}", lst
        if lst.protocol == "HTTPS" and lst.tls_mode is None and not lst.certificate_refs and \
                not isinstance(lst.gateway.spec["listeners"][lst.position].get("tls"), dict):
            yield f"listener '{lst.name}' is HTTPS without a tls block (no certificate to serve)", lst
    controller = ctx.gateway_controller()
    if controller.name != "traefik" or not controller.source.startswith("policy"):
        # The entryPoints are Traefik's static configuration, not in the render: the Helm defaults
        # are assumed only when the policy says the render targets Traefik (and can set
        # traefik.entryPoints); a detected Traefik with other entryPoints would give false alarms.
        return
    entry_points = ctx.option("traefik.entryPoints") or {}
    ports = {as_port(p) for p in entry_points.values()} - {None}
    for lst in listeners:
        if as_port(lst.port) not in ports:
            described = ", ".join(f"{n} {p}" for n, p in entry_points.items()) or "none configured"
            yield (f"listener '{lst.name}' uses port {lst.port}, which matches no Traefik entryPoint "
                   f"({described}): PortUnavailable"), lst


@check("gateway-invalid", "error", item="listener", options=("gatewayController", "traefik.entryPoints"),
       why="A controller refuses listeners the CRDs accept: an IP address as hostname (the Gateway API spec), an "
           "HTTPS listener with no certificate to serve, and on Traefik a port that is no entryPoint port "
           "(PortUnavailable) (traefik pkg/provider/kubernetes/gateway). What the CRDs reject is schema-invalid.",
       title="A Gateway listener that the Gateway controller rejects",
       remediation="Fix the listener as the message says: a DNS name as hostname, a tls block with "
                   "certificateRefs on HTTPS, listener ports that the controller listens on (Traefik: an "
                   "entryPoint port).")
def gateway_invalid(ctx: Context) -> Iterator[Hit]:
    controller = ctx.gateway_controller()
    for gateway in ctx.index.of(GATEWAY_GROUP, "Gateway"):
        listeners = ctx.index.listeners_by_gateway.get(gateway.key, [])
        for problem, listener in _controller_problems(ctx, listeners):
            others = len(listeners) - 1
            if takes_gateway_down(controller) and others > 0:
                them = "its other listener" if others == 1 else f"its {others} other listeners"
                effect = f"{controller.describe()} drops the whole Gateway, taking {them} down with it"
            else:
                effect = "the listener is not Programmed (Accepted=False)"
            yield Hit(gateway, f"{problem}; {effect}", hostname=listener.hostname, path=listener.path)


@check("gateway-blast-radius", "warning", item="listener",
       options=("gatewayController", "gateway.blastRadiusListeners"),
       why="One listener with a missing Secret on a widely shared Gateway can take every other listener down on "
           "controllers that reject the whole Gateway (Traefik before v3.1, released Cilium): the incident's shared "
           "Gateway served 23 listeners.",
       title="A new listener on a widely shared Gateway serves a Secret not known to exist",
       remediation="Make sure the Secret exists before the Gateway changes (a Certificate in an earlier sync "
                   "wave, or a placeholder Secret), or move the listener to a Gateway of its own.")
def gateway_blast_radius(ctx: Context) -> Iterator[Hit]:
    # A listener is new when the Gateway known to exist (cluster state) does not have it yet; with
    # no cluster state the gate cannot tell new from existing listeners and says nothing here (the
    # missing/pending checks still count the listeners at risk).
    if not ctx.index.cluster_state_consulted:
        return
    threshold = int(ctx.option("gateway.blastRadiusListeners"))
    live = {r.key: r for r in ctx.index.known if (r.group, r.kind) == (GATEWAY_GROUP, "Gateway")}
    for gateway in ctx.index.of(GATEWAY_GROUP, "Gateway"):
        listeners = ctx.index.listeners_by_gateway.get(gateway.key, [])
        if len(listeners) <= threshold:
            continue
        before = live.get(gateway.key)
        existing = {hashable(as_dict(raw).get("name")) for raw in as_list(before.spec.get("listeners"))} \
            if before else set()
        for listener in listeners:
            if listener.name in existing or listener.protocol not in ("HTTPS", "TLS"):
                continue
            for ref in listener.certificate_refs:
                if (ref.group, ref.kind) != ("", "Secret") or ref.target is not None:
                    continue
                yield Hit(gateway, f"new listener '{listener.name}' ({listener.hostname or 'no hostname'}) serves "
                                   f"Secret {ref.namespace}/{ref.name}, not known to exist yet; "
                                   f"{_blast_radius(ctx, listener)}",
                          hostname=listener.hostname, path=listener.path)


@check("route-parent-missing", "error", item="route", unresolved=True,
       why="A route attaches only to a listener that admits its namespace and kind and whose hostname intersects its "
           "hostnames (NoMatchingListenerHostname); otherwise it is Accepted=False and serves nothing (Gateway API "
           "HTTPRoute spec).",
       title="A route's parentRef attaches to no listener",
       remediation="Point parentRefs at an existing Gateway (and sectionName/port of an existing listener) whose "
                   "allowedRoutes admit the route's namespace and kind and whose hostname matches the route's "
                   "hostnames.")
def route_parent_missing(ctx: Context) -> Iterator[Hit]:
    # Thousands of routes (cert-manager's solver routes) name the same listeners from the same
    # namespace with the same hostnames: the attachment answer is computed once for each such shape.
    reasons: dict[tuple, str] = {}
    for route in ctx.index.routes:
        res = route.resource
        for parent in route.parents:
            if (parent.group, parent.kind) != (GATEWAY_GROUP, "Gateway"):
                continue  # mesh (Service) and ListenerSet parents are out of scope
            path = f"spec.parentRefs[{parent.position}]"
            where = f"{path} names {parent.label}"
            if parent.gateway is None:
                yield Hit(res, f"{where}, {ctx.unresolved_note()}", path=path)
                continue
            if not parent.listeners and ctx.index.listeners_by_gateway.get(parent.gateway.key):
                yield Hit(res, f"{where}: the Gateway has no listener with that "
                               f"{'sectionName' if parent.section_name else 'port'}", path=path,
                          points_at_nothing=False)
                continue
            shape = (tuple(map(id, parent.listeners)), res.namespace, res.kind, tuple(route.hostnames))
            reason = reasons.get(shape)
            if reason is None:
                _, reason = attachable(parent.listeners, res.namespace, res.kind, route.hostnames,
                                       ctx.index.namespaces)
                reasons[shape] = reason
            if reason:
                yield Hit(res, f"{where}: {reason} (Accepted=False)", path=path, points_at_nothing=False)
