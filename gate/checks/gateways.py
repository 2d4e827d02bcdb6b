"""Gateways as the API server and their controller judge them: listener validity, pending Secrets,
routes that attach to nothing, and how many listeners share one listener's fate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from gate.checks.base import Check, Context, Hit, collector
from gate.domain.argocd import step_of, step_rank
from gate.domain.certmanager import certificate_names
from gate.domain.gateway_api import (
    MAX_LISTENERS,
    MAX_ROUTE_HOSTNAMES,
    NO_TLS_PROTOCOLS,
    Listener,
    attachable,
    blast_radius,
    hostname_problem,
    terminating_listeners,
)
from gate.domain.kube import GATEWAY_GROUP, as_dict, as_list, as_port, hashable, hostname_covers
from gate.model import Resource

CHECKS: list[Check] = []
check = collector(CHECKS)

def _blast_radius(ctx: Context, listener: Listener) -> str:
    return blast_radius(listener, ctx.index.other_listeners(listener), ctx.option("gatewayController"))


def _controller(ctx: Context) -> str:
    return str(ctx.option("gatewayController"))


@check("listener-secret-pending", "error", item="listener", options=("gatewayController",),
       why="A listener whose Secret does not exist yet is ResolvedRefs=False/InvalidCertificateRef; Traefik before "
           "v3.1 and released Cilium drop the whole Gateway then, and Argo CD 3.1+ marks the Gateway Degraded (Gateway"
           " API spec; traefik #9158; cilium #34982; Argo CD Gateway health).",
       title="A listener's TLS Secret exists only after a Certificate is issued, and the Gateway goes live first",
       remediation="Apply the Certificate in an earlier Argo CD sync wave than the Gateway (Argo CD then waits "
                   "for it to be issued), issue it with DNS-01 so issuance does not depend on the Gateway, or "
                   "pre-create a placeholder Secret (cert-manager replaces it when the certificate is issued).")
def listener_secret_pending(ctx: Context) -> Iterator[Hit]:
    # The incident's deadlock: the Gateway references a Secret that cert-manager creates only after
    # issuance; until then the listener (on Traefik: the whole Gateway) is down.
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
                    why = f"{cert.derived_from.ref} makes cert-manager create it only after it is applied"
                else:
                    cert_step = step_rank(cert)
                    if cert_step is None or cert_step < gateway_step:
                        continue
                    order = "in the same step as" if cert_step == gateway_step else "before"
                    why = (f"the Gateway is applied in {step_of(listener.gateway)}, {order} the Certificate "
                           f"({step_of(cert)}), so Argo CD does not wait for the issuance")
                yield Hit(listener.gateway,
                          f"listener '{listener.name}' ({listener.hostname or 'no hostname'}) serves Secret "
                          f"{ref.namespace}/{ref.name}, which exists only once Certificate {cert.namespace}/"
                          f"{cert.name} is issued: {why}; {_blast_radius(ctx, listener)}",
                          hostname=listener.hostname, path=ref.path)
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


def _listener_problems(ctx: Context, gateway: Resource, listeners: list[Listener]) -> Iterator[tuple[str, str | None]]:
    """(problem, hostname) for what the API server (CRD validation) rejects."""
    if len(listeners) > MAX_LISTENERS:
        yield f"has {len(listeners)} listeners, more than the {MAX_LISTENERS} the API allows", None
    names = Counter(lst.name for lst in listeners)
    for name, count in names.items():
        if count > 1:
            yield f"has {count} listeners named '{name}' (listener names must be unique)", None
    combos = Counter((hashable(lst.port), lst.protocol, lst.hostname) for lst in listeners)
    for (port, protocol, hostname), count in combos.items():
        if count > 1:
            yield (f"has {count} listeners with port {port}, protocol {protocol} and hostname "
                   f"{hostname or '(none)'} (the combination must be unique)"), hostname
    for lst in listeners:
        if as_port(lst.port) is None:
            yield f"listener '{lst.name}' has port {lst.port!r}, not a port number (1-65535)", lst.hostname
        raw = gateway.spec["listeners"][lst.position]
        if lst.protocol in NO_TLS_PROTOCOLS and raw.get("tls") is not None:
            yield f"listener '{lst.name}' is {lst.protocol} and sets tls (only HTTPS and TLS may)", lst.hostname
        tls = raw.get("tls")
        if lst.protocol == "HTTPS" and isinstance(tls, dict) and lst.tls_mode not in (None, "", "Terminate"):
            yield f"listener '{lst.name}' is HTTPS with tls.mode {lst.tls_mode} (HTTPS must terminate)", lst.hostname
        if lst.protocol == "TLS" and not (isinstance(tls, dict) and lst.tls_mode):
            yield f"listener '{lst.name}' is TLS without tls.mode", lst.hostname
        if lst.protocol in ("HTTPS", "TLS") and lst.tls_mode in (None, "Terminate") and isinstance(tls, dict) \
                and not lst.certificate_refs and not tls.get("options"):
            yield f"listener '{lst.name}' terminates TLS without tls.certificateRefs", lst.hostname
        if lst.protocol in ("TCP", "UDP") and lst.hostname:
            yield f"listener '{lst.name}' is {lst.protocol} and sets a hostname", lst.hostname
        if lst.hostname is not None:
            problem = hostname_problem(lst.hostname)
            if problem:
                yield f"listener '{lst.name}' hostname {lst.hostname!r} {problem}", lst.hostname


def _controller_problems(ctx: Context, listeners: list[Listener]) -> Iterator[tuple[str, str | None]]:
    """(problem, hostname) for what the controller refuses although the API server accepts it."""
    for lst in listeners:
        if lst.protocol == "HTTPS" and lst.tls_mode is None and not lst.certificate_refs and \
                not isinstance(lst.gateway.spec["listeners"][lst.position].get("tls"), dict):
            yield f"listener '{lst.name}' is HTTPS without a tls block (no certificate to serve)", lst.hostname
    if _controller(ctx) != "traefik":
        return
    entry_points = ctx.option("traefik.entryPoints") or {}
    ports = {as_port(p) for p in entry_points.values()} - {None}
    for lst in listeners:
        if as_port(lst.port) not in ports:
            described = ", ".join(f"{n} {p}" for n, p in entry_points.items()) or "none configured"
            yield (f"listener '{lst.name}' uses port {lst.port}, which matches no Traefik entryPoint "
                   f"({described}): PortUnavailable"), lst.hostname


@check("gateway-invalid", "error", item="listener", options=("gatewayController", "traefik.entryPoints"),
       why="The Gateway API CRDs reject duplicate listener names, duplicate port/protocol/hostname combinations, more "
           "than 64 listeners and tls on HTTP/TCP/UDP; Traefik also needs listener ports equal to entryPoint ports "
           "(PortUnavailable) (gateway-api CRD validation; traefik pkg/provider/kubernetes/gateway).",
       title="A Gateway (or route) that the API server or the Gateway controller rejects",
       remediation="Fix the listeners as the message says: unique names and port/protocol/hostname "
                   "combinations, at most 64 listeners, tls only on HTTPS/TLS with certificateRefs, listener "
                   "ports that the controller listens on (Traefik: an entryPoint port), at most 16 route "
                   "hostnames.")
def gateway_invalid(ctx: Context) -> Iterator[Hit]:
    traefik = _controller(ctx) == "traefik"
    for gateway in ctx.index.of(GATEWAY_GROUP, "Gateway"):
        listeners = ctx.index.listeners_by_gateway.get(gateway.key, [])
        if not listeners:
            yield Hit(gateway, "has no listeners (the API requires at least one)")
            continue
        for problem, hostname in _listener_problems(ctx, gateway, listeners):
            yield Hit(gateway, f"{problem}: the API server rejects the whole Gateway, so the apply fails and "
                               f"the previous version keeps serving", hostname=hostname)
        for problem, hostname in _controller_problems(ctx, listeners):
            others = len(listeners) - 1
            effect = (f"Traefik marks the whole Gateway not Programmed, taking its {others} other listener"
                      f"{'s' if others != 1 else ''} down with it" if traefik else
                      "the listener is not Programmed (Accepted=False)")
            yield Hit(gateway, f"{problem}; {effect}", hostname=hostname)
    for route in ctx.index.routes:
        if len(route.hostnames) > MAX_ROUTE_HOSTNAMES:
            yield Hit(route.resource, f"has {len(route.hostnames)} hostnames, more than the {MAX_ROUTE_HOSTNAMES} "
                                      f"the API allows: the API server rejects it")


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
            _, reason = attachable(parent.listeners, res.namespace, res.kind, route.hostnames, ctx.index.namespaces)
            if reason:
                yield Hit(res, f"{where}: {reason} (Accepted=False)", path=path, points_at_nothing=False)
