"""`gate audit`: what is wrong in the live cluster (or a snapshot of it), as the incident showed it.

These checks read objects as the API server holds them, status included: solver HTTPRoutes and
their owner Challenges, Challenge/Order/Certificate status, Gateway and route conditions, the
cert-manager and Gateway controller Deployments. They run in `gate audit` only (pipeline "audit"),
never in `gate check`. Times are measured against the run's clock (`RunConfig.now`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from gate.checks.base import Check, Context, Hit, collector
from gate.domain import acme, certmanager_controller, controllers
from gate.domain.acme import ACME_GROUP, FINAL_STATES, SolverRoutes
from gate.domain.gateway_api import Route
from gate.domain.kube import CERT_MANAGER_GROUP, GATEWAY_GROUP, as_dict, as_list, dig
from gate.model import Resource

CHECKS: list[Check] = []
check = collector(CHECKS, pipeline="audit")

SHOWN_NAMES = 3  # route names a grouped finding spells out before "and N more"


def now(ctx: Context) -> dt.datetime:
    clock = ctx.config.now
    if clock is None:
        return dt.datetime.now(dt.timezone.utc)
    return clock if clock.tzinfo else clock.replace(tzinfo=dt.timezone.utc)


@dataclass
class Live:
    """The live objects the audit checks share, indexed once per run."""

    challenges_by_uid: dict[str, Resource] = field(default_factory=dict)
    challenges_by_host: dict[str, list[Resource]] = field(default_factory=lambda: defaultdict(list))
    solver: SolverRoutes = field(default_factory=SolverRoutes)
    route_of: dict[int, Route] = field(default_factory=dict)  # id(resource) -> the index's Route
    owned: dict[tuple[str, str], list[Resource]] = field(default_factory=lambda: defaultdict(list))


def live(ctx: Context) -> Live:
    def build() -> Live:
        index = ctx.index
        view = Live()
        for challenge in index.of(ACME_GROUP, "Challenge"):
            if acme.uid(challenge):
                view.challenges_by_uid[acme.uid(challenge)] = challenge
            name = challenge.spec.get("dnsName")
            if isinstance(name, str):
                view.challenges_by_host[name.lower()].append(challenge)
        view.solver = acme.group_solver_routes(index.of(GATEWAY_GROUP, "HTTPRoute"))
        view.route_of = {id(route.resource): route for route in index.routes}
        # Certificate -> CertificateRequest -> Order -> Challenge, by the controller ownerReferences
        # cert-manager sets on each (owner kind, owner uid) -> owned objects.
        for kind, group, owner_kind in (("CertificateRequest", CERT_MANAGER_GROUP, "Certificate"),
                                        ("Order", ACME_GROUP, "CertificateRequest"),
                                        ("Challenge", ACME_GROUP, "Order")):
            for res in index.of(group, kind):
                ref = acme.owner(res, owner_kind)
                if ref is not None:
                    view.owned[(owner_kind, ref[0])].append(res)
        return view
    return ctx.learnt("audit-live", build)


def _names(routes: list[Resource]) -> str:
    shown = ", ".join(r.name for r in routes[:SHOWN_NAMES])
    return shown + (f" and {len(routes) - SHOWN_NAMES:,} more" if len(routes) > SHOWN_NAMES else "")


def _span_text(routes: list[Resource]) -> str:
    oldest, newest, rate = acme.span(routes)
    if oldest is None:
        return "no creation times"
    text = f"oldest {acme.show_time(oldest)}, newest {acme.show_time(newest)}"
    return text + (f", +{rate:,.0f}/h" if rate is not None else "")


def _challenge_host(challenge: Resource | None) -> str | None:
    name = challenge.spec.get("dnsName") if challenge is not None else None
    return name if isinstance(name, str) and name else None


def _newest(routes: list[Resource]) -> Resource:
    return max(routes, key=lambda r: (acme.created(r) or dt.datetime.min.replace(tzinfo=dt.timezone.utc), r.name))


def _leak_cause(ctx: Context) -> str:
    config = ctx.cert_manager()
    if config is not None and config.gateway_api is False and config.leaks_solver_routes:
        return (f"; {config.describe()} runs without Gateway API support, so each self-check round (10 s) "
                f"creates one more (cert-manager #7176, fixed in v1.15.2)")
    return ""


@check("solver-route-leak", "error", item="solver", options=("audit.solverRoutesPerNamespace", "certManager"),
       why="cert-manager keeps at most one solver HTTPRoute per Challenge; before v1.15.2 with Gateway API support "
           "off it creates a new one on every 10 s self-check round and never deletes the old ones (cert-manager "
           "#7176): the incident's 22,514 routes, which Traefik loads into memory until it is OOMKilled.",
       title="More than one solver HTTPRoute per Challenge, or more per namespace than the policy allows",
       remediation="Fix what keeps the Challenge from completing (DNS, route attachment, cert-manager's Gateway API "
                   "support; upgrade cert-manager to v1.15.2 or later), then delete the extra solver routes by name "
                   "(gate audit --runbook writes the commands).")
def solver_route_leak(ctx: Context) -> Iterator[Hit]:
    limit = ctx.option("audit.solverRoutesPerNamespace")
    view = live(ctx)
    cause = _leak_cause(ctx)
    reported_ns: set[str] = set()
    for owner_uid, routes in view.solver.by_owner.items():
        if len(routes) < 2:
            continue
        challenge = view.challenges_by_uid.get(owner_uid)
        namespace = routes[0].namespace
        in_ns = len(view.solver.by_namespace[namespace])
        host = _challenge_host(challenge)
        name = challenge.ref if challenge else f"Challenge {namespace}/{view.solver.owner_names.get(owner_uid, '?')} (gone)"
        reported_ns.add(namespace)
        yield Hit(challenge or _newest(routes),
                  f"{len(routes):,} solver HTTPRoutes for {name}{f' ({host})' if host else ''}, where cert-manager "
                  f"keeps one: {_span_text(routes)}; namespace {namespace} holds {in_ns:,} solver routes "
                  f"(policy audit.solverRoutesPerNamespace: {limit}){cause}", hostname=host)
    for namespace, routes in view.solver.by_namespace.items():
        if len(routes) <= limit or namespace in reported_ns:
            continue
        owners = {acme.owner(r, "Challenge") for r in routes}
        hosts = {h for r in routes for h in as_list(r.spec.get("hostnames")) if isinstance(h, str)}
        yield Hit(_newest(routes),
                  f"namespace {namespace} holds {len(routes):,} solver HTTPRoutes for {len(owners):,} Challenges, "
                  f"more than the policy's audit.solverRoutesPerNamespace ({limit}): {_span_text(routes)}{cause}",
                  hostname=hosts.pop() if len(hosts) == 1 else None)


def _backend_missing(route: Route | None) -> list[str]:
    if route is None:
        return []
    return [f"{b.namespace}/{b.name}" for b in route.backends if b.kind == "Service" and b.target is None]


@check("solver-route-orphan", "warning", item="solver", options=("gatewayController",),
       why="On a final Challenge state cert-manager deletes solver pods and Services but never solver HTTPRoutes; "
           "those go only by garbage collection with their owner Challenge (cert-manager #5260), so a route can "
           "outlive its Challenge or point at a deleted Service, and Traefik < 3.1 drops the whole Gateway's "
           "configuration on a route to a missing Service (traefik #9158).",
       title="Solver HTTPRoute whose owner Challenge is gone or final, or whose backend Service is gone",
       remediation="Delete the orphaned solver routes by name (gate audit --runbook writes the commands); they "
                   "serve no Challenge.")
def solver_route_orphan(ctx: Context) -> Iterator[Hit]:
    view = live(ctx)
    controller = ctx.gateway_controller()
    drops = controller.name == "traefik" and (controller.version is None or controller.version < (3, 1, 0))
    effect = (f"; on {controller.describe()} a route to a missing Service drops the whole Gateway's configuration "
              f"(traefik #9158)" if drops else "")
    groups: dict[tuple[str, str], list[Resource]] = defaultdict(list)
    for namespace, routes in view.solver.by_namespace.items():
        for route in routes:
            ref = acme.owner(route, "Challenge")
            challenge = view.challenges_by_uid.get(ref[0]) if ref and ref[0] else None
            if ref is None or not ref[0]:
                why = "have no owner Challenge"
            elif challenge is None:
                why = f"are owned by Challenge {namespace}/{ref[1]}, which is gone"
            elif acme.challenge_state(challenge) in FINAL_STATES:
                why = f"are owned by {challenge.ref}, which is {acme.challenge_state(challenge)}"
            else:
                why = ""
            if why:
                groups[(namespace, why)].append(route)
            missing = _backend_missing(view.route_of.get(id(route)))
            if missing:
                groups[(namespace, f"point at Service {', '.join(missing)}, which is gone{effect}")].append(route)
    for (namespace, why), routes in groups.items():
        hosts = {h for r in routes for h in as_list(r.spec.get("hostnames")) if isinstance(h, str)}
        count = "1 solver HTTPRoute" if len(routes) == 1 else f"{len(routes):,} solver HTTPRoutes"
        verb = why if len(routes) > 1 else why.replace("have no", "has no").replace("are owned", "is owned") \
            .replace("point at", "points at")
        yield Hit(routes[0], f"{count} in {namespace} ({_names(routes)}) {verb}",
                  hostname=hosts.pop() if len(hosts) == 1 else None)


def _solver_kind(challenge: Resource) -> str:
    http01 = as_dict(dig(challenge.body, "spec", "solver", "http01"))
    if "gatewayHTTPRoute" in http01:
        return "gatewayHTTPRoute"
    if "ingress" in http01:
        return "ingress"
    return "dns01" if dig(challenge.body, "spec", "solver", "dns01") else ""


def _challenge_context(ctx: Context, view: Live, challenge: Resource) -> list[str]:
    """What else in view explains a stuck Challenge: its routes, their backends, cert-manager's config."""
    notes = []
    routes = view.solver.by_owner.get(acme.uid(challenge), [])
    if _solver_kind(challenge) == "gatewayHTTPRoute":
        config = ctx.cert_manager()
        if config is not None and config.gateway_api is False:
            notes.append(f"{config.describe()} runs without Gateway API support")
        if not routes:
            notes.append("no solver HTTPRoute exists for it")
    missing = sorted({m for r in routes for m in _backend_missing(view.route_of.get(id(r)))})
    if missing:
        notes.append(f"its solver route's backend Service {', '.join(missing)} is gone")
    for route in routes[-1:]:
        for parent in as_list(dig(route.body, "status", "parents")):
            accepted = _condition(as_dict(parent), "Accepted")
            if accepted is not None and accepted.get("status") == "False":
                notes.append(f"its solver route is not accepted by its Gateway ({accepted.get('reason', '')})")
    return notes


@check("challenge-stuck", "error", item="challenge", options=("audit.challengeStuckAfter", "certManager"),
       why="cert-manager's HTTP-01 self-check never times out (cert-manager #7234) and nothing reaches the ACME "
           "server while it fails, so a Challenge can stay pending for ever without Let's Encrypt or its rate "
           "limits ever noticing; its status.reason says why the self-check fails.",
       title="ACME Challenge pending and presented for longer than the policy allows",
       remediation="Fix what the reason names (DNS to the load balancer, the solver route's attachment to an HTTP "
                   "listener, the solver backend, cert-manager's Gateway API support), then delete the Challenge "
                   "and its Order so cert-manager starts a fresh one.")
def challenge_stuck(ctx: Context) -> Iterator[Hit]:
    after = acme.parse_duration(ctx.option("audit.challengeStuckAfter"))
    clock = now(ctx)
    view = live(ctx)
    for challenge in ctx.index.of(ACME_GROUP, "Challenge"):
        status = as_dict(challenge.body.get("status"))
        state = acme.challenge_state(challenge)
        if state != "pending" or status.get("presented") is not True:
            continue
        since = acme.created(challenge)
        if since is None or clock - since <= after:
            continue
        reason = str(status.get("reason") or "").strip()
        meaning = acme.reason_meaning(reason) if reason else None
        notes = _challenge_context(ctx, view, challenge)
        host = _challenge_host(challenge)
        text = (f"pending for {acme.show_duration(clock - since)} (since {acme.show_time(since)}; policy "
                f"audit.challengeStuckAfter: {ctx.option('audit.challengeStuckAfter')})"
                f"{f' for {host}' if host else ''}: ")
        text += f"reason \"{reason}\"" if reason else "no reason in its status"
        if meaning:
            text += f" -- {meaning}"
        if notes:
            text += f"; {'; '.join(notes)}"
        yield Hit(challenge, text, hostname=host)


def _condition(status: dict, kind: str) -> dict | None:
    for cond in as_list(status.get("conditions")):
        if isinstance(cond, dict) and cond.get("type") == kind:
            return cond
    return None


def _chain(view: Live, certificate: Resource) -> str:
    """Certificate -> CertificateRequest -> Order -> Challenge, newest request first, one line."""
    parts = [certificate.ref]
    requests = sorted(view.owned.get(("Certificate", acme.uid(certificate)), []),
                      key=lambda r: acme.created(r) or dt.datetime.min.replace(tzinfo=dt.timezone.utc))
    if not requests:
        return " -> ".join(parts + ["no CertificateRequest"])
    request = requests[-1]
    ready = _condition(as_dict(request.body.get("status")), "Ready")
    parts.append(f"{request.ref} ({ready.get('reason', ready.get('status'))})" if ready else request.ref)
    orders = view.owned.get(("CertificateRequest", acme.uid(request)), [])
    if orders:
        order = orders[-1]
        state = as_dict(order.body.get("status")).get("state") or "pending"
        parts.append(f"{order.ref} ({state})")
        for challenge in view.owned.get(("Order", acme.uid(order)), []):
            parts.append(f"{challenge.ref} ({acme.challenge_state(challenge)})")
    return " -> ".join(parts)


@check("certificate-not-ready", "error", item="certificate", options=("audit.challengeStuckAfter",),
       why="A Certificate that is not Ready leaves its Secret missing or stale; after a failed CertificateRequest "
           "cert-manager waits 1h x 2^(n-1), capped at 32h, from status.lastFailureTime before it tries again "
           "(trigger_controller.go), and Argo CD's health check reads Ready=False as Degraded and Issuing as "
           "Progressing (resource_customizations/cert-manager.io/Certificate/health.lua).",
       title="Certificate not Ready (a warning while it is still issuing for a short time)",
       remediation="Follow the chain to the failing Challenge or Order and fix its cause; a change to the "
                   "Certificate's spec bypasses the backoff once the cause is fixed.")
def certificate_not_ready(ctx: Context) -> Iterator[Hit]:
    young = acme.parse_duration(ctx.option("audit.challengeStuckAfter"))
    clock = now(ctx)
    view = live(ctx)
    for cert in ctx.index.of(CERT_MANAGER_GROUP, "Certificate"):
        status = as_dict(cert.body.get("status"))
        ready = _condition(status, "Ready")
        if ready is not None and ready.get("status") == "True":
            continue
        issuing = _condition(status, "Issuing")
        since = acme.parse_time((ready or {}).get("lastTransitionTime")) or acme.created(cert)
        if ready is None and (since is None or clock - since <= young):
            continue  # just created: cert-manager has not written its status yet
        attempts = status.get("failedIssuanceAttempts")
        last_failure = acme.parse_time(status.get("lastFailureTime"))
        parts = [f"Ready={ready.get('status')} ({ready.get('reason', '')}: {ready.get('message', '')})"
                 if ready else "no Ready condition"]
        severity = None
        if issuing is not None and issuing.get("status") == "True":
            started = acme.parse_time(issuing.get("lastTransitionTime"))
            age = clock - started if started else None
            parts.append(f"Issuing for {acme.show_duration(age)}" if age is not None else "Issuing")
            if age is not None and age <= young and not attempts:
                severity = "warning"
        if isinstance(attempts, int) and attempts > 0:
            parts.append(f"failedIssuanceAttempts {attempts}")
        if last_failure is not None:
            parts.append(f"lastFailureTime {acme.show_time(last_failure)}")
        retry = acme.next_attempt(attempts, last_failure)
        if retry is not None:
            when = (f"in {acme.show_duration(retry - clock)}" if retry > clock else "now: the backoff is over")
            parts.append(f"next attempt {acme.show_time(retry)} ({when}) under cert-manager's backoff")
        health = "Progressing" if issuing is not None and issuing.get("status") == "True" else "Degraded"
        yield Hit(cert, f"{'; '.join(parts)}; Argo CD health {health}; chain: {_chain(view, cert)}",
                  severity=severity)


def _listener_specs(gateway: Resource) -> dict[str, dict]:
    return {str(raw.get("name")): raw for raw in as_list(gateway.spec.get("listeners")) if isinstance(raw, dict)}


@check("gateway-listener-unresolved", "error", item="listener", options=("gatewayController",),
       why="A listener whose references do not resolve (a missing TLS Secret: ResolvedRefs=False "
           "InvalidCertificateRef) serves nothing; depending on the controller and its version the other listeners "
           "of the Gateway go down with it (Traefik < 3.1, Cilium), and Argo CD marks the Gateway Degraded whenever "
           "any listener has ResolvedRefs or Accepted False, which stops a multi-wave sync.",
       title="Gateway listener with ResolvedRefs=False or Programmed=False",
       remediation="Create the listener's TLS Secret (a placeholder self-signed pair until cert-manager issues the "
                   "real one; gate audit --runbook writes the commands) or fix the reference.")
def gateway_listener_unresolved(ctx: Context) -> Iterator[Hit]:
    controller = ctx.gateway_controller()
    for gateway in ctx.index.of(GATEWAY_GROUP, "Gateway"):
        specs = _listener_specs(gateway)
        statuses = [as_dict(s) for s in as_list(dig(gateway.body, "status", "listeners"))]
        for status in statuses:
            name = str(status.get("name", ""))
            bad = [c for c in (_condition(status, "ResolvedRefs"), _condition(status, "Programmed"))
                   if c is not None and c.get("status") == "False"]
            if not bad:
                continue
            spec = specs.get(name, {})
            host = spec.get("hostname") if isinstance(spec.get("hostname"), str) else None
            conditions = "; ".join(f"{c.get('type')}=False {c.get('reason', '')}: {c.get('message', '')}".rstrip(": ")
                                   for c in bad)
            secrets = []
            for ref in as_list(dig(spec, "tls", "certificateRefs")):
                ref = as_dict(ref)
                if ref.get("kind", "Secret") == "Secret" and not ref.get("group"):
                    namespace, secret = str(ref.get("namespace") or gateway.namespace), str(ref.get("name", ""))
                    if ctx.index.secret_exists(namespace, secret) is None:
                        secrets.append(f"Secret {namespace}/{secret} does not exist")
            radius = controllers.blast_radius(f"{gateway.namespace}/{gateway.name}", len(specs) - 1, controller)
            position = list(specs).index(name) if name in specs else None
            yield Hit(gateway, f"listener '{name}'{f' ({host})' if host else ''}: {conditions}"
                               f"{'; ' + '; '.join(secrets) if secrets else ''}; {radius}; Argo CD reads the Gateway "
                               f"as Degraded, which fails a multi-wave sync at this wave",
                      hostname=host, path=f"spec.listeners[{position}]" if position is not None else None)


@check("gateway-not-accepted", "error", item="gateway", options=("gatewayController",),
       why="A Gateway with Accepted=False is not (fully) configured by its controller; what still serves depends on "
           "the controller (Traefik >= 3.1 writes Accepted=False ListenersNotValid while the valid listeners keep "
           "serving; Traefik < 3.1 drops the whole Gateway), and Argo CD reads it as Degraded.",
       title="Gateway not accepted by its controller",
       remediation="Fix what the condition's reason names (the listeners it lists as invalid, an unknown "
                   "GatewayClass, a port the controller does not listen on).")
def gateway_not_accepted(ctx: Context) -> Iterator[Hit]:
    controller = ctx.gateway_controller()
    for gateway in ctx.index.of(GATEWAY_GROUP, "Gateway"):
        accepted = _condition(as_dict(gateway.body.get("status")), "Accepted")
        if accepted is None or accepted.get("status") != "False":
            continue
        invalid = [str(s.get("name")) for s in map(as_dict, as_list(dig(gateway.body, "status", "listeners")))
                   if any(c.get("status") == "False" for c in map(as_dict, as_list(s.get("conditions"))))]
        down = controllers.takes_gateway_down(controller)
        if down is True:
            effect = f"on {controller.describe()} no listener of it serves"
        elif down is False:
            effect = f"on {controller.describe()} its valid listeners keep serving"
        else:
            effect = "whether its valid listeners keep serving depends on the controller and its version"
        listed = f"; invalid listeners: {', '.join(invalid)}" if invalid else ""
        yield Hit(gateway, f"Accepted=False {accepted.get('reason', '')}: {accepted.get('message', '')}{listed}; "
                           f"{effect}; Argo CD reads it as Degraded")


@check("route-not-accepted", "error", item="route",
       why="A route a parent Gateway does not accept (Accepted=False) or whose references do not resolve "
           "(ResolvedRefs=False, e.g. BackendNotFound) serves nothing through that parent; Argo CD marks the "
           "route Degraded on either.",
       title="Route not accepted by a parent Gateway, or its references unresolved",
       remediation="Fix what the parent's condition names: the listener (sectionName, port, hostname, "
                   "allowedRoutes), or the backend Service the route points at.")
def route_not_accepted(ctx: Context) -> Iterator[Hit]:
    solver_groups: dict[tuple[str, str], list[Resource]] = defaultdict(list)
    for route in ctx.index.of(GATEWAY_GROUP, "HTTPRoute"):
        for parent in map(as_dict, as_list(dig(route.body, "status", "parents"))):
            ref = as_dict(parent.get("parentRef"))
            where = f"{ref.get('namespace') or route.namespace}/{ref.get('name', '')}"
            if ref.get("sectionName"):
                where += f":{ref['sectionName']}"
            for kind in ("Accepted", "ResolvedRefs"):
                cond = _condition(parent, kind)
                if cond is None or cond.get("status") != "False":
                    continue
                text = f"{kind}=False {cond.get('reason', '')} on parent {where}: {cond.get('message', '')}".rstrip(": ")
                if acme.is_solver_route(route):
                    solver_groups[(route.namespace, text)].append(route)
                else:
                    hosts = [h for h in as_list(route.spec.get("hostnames")) if isinstance(h, str)]
                    yield Hit(route, text, hostname=hosts[0] if len(hosts) == 1 else None)
    for (namespace, text), routes in solver_groups.items():
        hosts = {h for r in routes for h in as_list(r.spec.get("hostnames")) if isinstance(h, str)}
        yield Hit(routes[0], f"{len(routes):,} solver HTTPRoutes in {namespace} ({_names(routes)}): {text}",
                  hostname=hosts.pop() if len(hosts) == 1 else None)


@check("certmanager-gateway-api-disabled", "error", item="controller", options=("certManager",),
       why="With the gatewayHTTPRoute solver and cert-manager's Gateway API support off (--enable-gateway-api "
           "absent, or enableGatewayAPI: false), cert-manager before v1.15.2 creates one more solver HTTPRoute on "
           "every 10 s self-check round (cert-manager #7176: the incident's 22,514 routes); from v1.15.2 the "
           "Challenge stays pending with \"gateway api is not enabled\".",
       title="The live cert-manager controller runs without the Gateway API support its Challenges need",
       remediation="Start the cert-manager controller with --enable-gateway-api (Helm: config.enableGatewayAPI: "
                   "true) and run v1.15.2 or later.")
def live_certmanager_gateway_api_disabled(ctx: Context) -> Iterator[Hit]:
    view = live(ctx)
    users = [c for c in ctx.index.of(ACME_GROUP, "Challenge") if _solver_kind(c) == "gatewayHTTPRoute"]
    if not users and not view.solver.by_namespace:
        return
    config = ctx.cert_manager()
    if config is None or config.gateway_api is not False:
        return
    deployment = next((w for w in ctx.index.all_workloads() if certmanager_controller.is_controller(w)), None)
    uses = (f"{len(users):,} Challenge{'s' * (len(users) != 1)} with the gatewayHTTPRoute solver"
            if users else f"{sum(map(len, view.solver.by_namespace.values())):,} solver HTTPRoutes")
    if config.leaks_solver_routes:
        effect = "every self-check round (10 s) creates one more solver HTTPRoute (cert-manager #7176)"
    elif config.leaks_solver_routes is False:
        effect = "the Challenges stay pending with \"gateway api is not enabled\""
    else:
        effect = "before v1.15.2 it leaks a solver HTTPRoute per self-check round; from v1.15.2 Challenges stay pending"
    message = f"{config.describe()} runs without Gateway API support while {uses} need it: {effect}"
    if deployment is None:  # known from the policy's certManager only
        yield Hit(None, message, file=ctx.config.policy or "policies/default.yaml", line=1)
    else:
        yield Hit(deployment, message)
