"""cert-manager Certificates (written and shim-derived): issuers, ACME solvers, and the shims themselves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gate.checks.base import Check, Context, Hit, collector
from gate.domain import shims
from gate.domain.certmanager import (
    SolverChoice,
    certificate_names,
    choose_solver,
    issuer_for,
    issuer_ref,
    solver_parent_refs,
)
from gate.domain.gateway_api import attachable
from gate.domain.kube import CERT_MANAGER_GROUP, GATEWAY_GROUP, as_dict, as_list, hostname_covers
from gate.model import Resource

CHECKS: list[Check] = []
check = collector(CHECKS)

INGRESS_GROUP = "networking.k8s.io"


def _choices(ctx: Context) -> Iterator[tuple[Resource, str, SolverChoice]]:
    """(Certificate, name, choice) for every name of every ACME Certificate whose issuer is known."""
    for cert in ctx.index.certificates:
        if issuer_for(ctx.index, cert) is None:
            continue
        for name in certificate_names(cert):
            choice = choose_solver(ctx.index, cert, name)
            if choice.acme_server is not None or (choice.issuer is not None and "acme" in choice.issuer.spec):
                yield cert, name, choice


@check("certificate-issuer-missing", "error", item="issuer", unresolved=True,
       why="cert-manager cannot issue a Certificate whose issuerRef names no Issuer/ClusterIssuer; a namespaced Issuer"
           " must be in the Certificate's namespace, and issuerRef.kind defaults to Issuer (cert-manager "
           "pkg/apis/certmanager/v1/types_certificate.go).",
       title="A Certificate's issuerRef names no Issuer or ClusterIssuer",
       remediation="Create the Issuer in the Certificate's namespace (or the ClusterIssuer), or fix issuerRef "
                   "name/kind/group (kind defaults to Issuer, group to cert-manager.io).")
def certificate_issuer_missing(ctx: Context) -> Iterator[Hit]:
    for cert in ctx.index.certificates:
        group, kind, name = issuer_ref(cert)
        if not name:
            if cert.derived_from is None:
                yield Hit(cert, "has no spec.issuerRef.name (cert-manager refuses it)", points_at_nothing=False)
            continue  # kubernetes.io/tls-acme alone: the controller's --default-issuer-* flags decide
        if issuer_for(ctx.index, cert) is not None:
            continue
        where = f"ClusterIssuer {name}" if kind == "ClusterIssuer" else f"{kind} {cert.namespace}/{name}"
        if group != CERT_MANAGER_GROUP:
            where += f" (group {group})"
        hint = ""
        if group == CERT_MANAGER_GROUP and kind == "Issuer":
            elsewhere = [r for r in ctx.index.all_of(CERT_MANAGER_GROUP, "Issuer") if r.name == name]
            if elsewhere:
                hint = f"; an Issuer of that name exists in namespace '{elsewhere[0].namespace}', but an Issuer " \
                       f"only issues in its own namespace"
            elif ctx.index.get(CERT_MANAGER_GROUP, "ClusterIssuer", "", name) is not None:
                hint = "; a ClusterIssuer of that name exists: set issuerRef.kind: ClusterIssuer"
        elif group == CERT_MANAGER_GROUP and kind not in ("Issuer", "ClusterIssuer"):
            hint = "; cert-manager.io only has the kinds Issuer and ClusterIssuer"
        source = f" (from the annotations of {cert.derived_from.ref})" if cert.derived_from is not None else ""
        yield Hit(cert, f"issuerRef{source} names {where}, {ctx.unresolved_note()}{hint}")


@check("certificate-no-solver", "error", item="issuer",
       why="cert-manager picks an ACME solver per name by its selectors (dnsNames, dnsZones, matchLabels); with none "
           "matching the Order fails with \"no configured challenge solvers can be used\" (cert-manager "
           "pkg/util/solverpicker).",
       title="No ACME solver of the issuer applies to a name of the Certificate",
       remediation="Add a solver whose selector (dnsNames, dnsZones, matchLabels) matches the name, or a solver "
                   "without a selector as the default.")
def certificate_no_solver(ctx: Context) -> Iterator[Hit]:
    # cert-manager fails the Order: "no configured challenge solvers can be used for this challenge"
    for cert, name, choice in _choices(ctx):
        if choice.solver is None:
            count = len(as_list(as_dict(choice.issuer.spec.get("acme")).get("solvers")))
            yield Hit(cert, f"no solver of {choice.issuer.ref} ({count} configured) matches {name}: the Order "
                            f"fails with \"no configured challenge solvers can be used\"", hostname=name)


@check("http01-wildcard", "error", item="issuer",
       why="HTTP-01 can never validate a wildcard name: the ACME server refuses it, so the Order fails (cert-manager "
           "pkg/apis/acme/v1/types_issuer.go; Let's Encrypt challenge types).",
       title="A wildcard name would be validated with HTTP-01, which cannot issue wildcards",
       remediation="Add a DNS-01 solver whose selector matches the wildcard (for example dnsZones: [the parent "
                   "domain]); ACME offers only DNS-01 for wildcard names.")
def http01_wildcard(ctx: Context) -> Iterator[Hit]:
    for cert, name, choice in _choices(ctx):
        if name.startswith("*.") and choice.challenge == "http01":
            yield Hit(cert, f"{name} is a wildcard and the only solver of {choice.issuer.ref} that applies "
                            f"(solvers[{choice.position}]) is HTTP-01: the ACME server offers only DNS-01 for "
                            f"wildcards, so it can never be issued", hostname=name)


def _gateway_route_problem(ctx: Context, cert: Resource, name: str, route: dict[str, Any]) -> str | None:
    refs, problem = solver_parent_refs(cert, route)
    if problem:
        return problem
    if not refs:
        return "the gatewayHTTPRoute solver has no parentRefs, so its HTTPRoute attaches to no Gateway"
    reasons = []
    for ref in refs:
        group, kind = str(ref.get("group") or GATEWAY_GROUP), str(ref.get("kind") or "Gateway")
        if (group, kind) != (GATEWAY_GROUP, "Gateway"):
            return None  # ListenerSet and other parents: not judged here
        namespace = str(ref.get("namespace") or cert.namespace)  # the solver route lives in the Certificate's
        label = f"Gateway {namespace}/{ref.get('name')}"
        gateway = ctx.index.get(GATEWAY_GROUP, "Gateway", namespace, str(ref.get("name", "")))
        if gateway is None:
            reasons.append(f"{label} is {ctx.unresolved_note()}")
            continue
        section, port = ref.get("sectionName"), ref.get("port")
        listeners = [lst for lst in ctx.index.listeners_by_gateway.get(gateway.key, [])
                     if (section is None or lst.name == section) and (port is None or lst.port == port)]
        http = [lst for lst in listeners if lst.protocol == "HTTP"]
        if not http:
            which = f"listener '{section}'" if section else "listener"
            reasons.append(f"{label} has no HTTP {which} (Let's Encrypt validates over plain HTTP on port 80)")
            continue
        matching, reason = attachable(http, cert.namespace, "HTTPRoute", [name], ctx.index.namespaces)
        if matching:
            return None
        reasons.append(f"{label}: {reason}")
    return "; ".join(reasons)


def _ingress_problem(ctx: Context, cert: Resource, ingress: dict[str, Any]) -> str | None:
    ann = cert.annotations
    named = ann.get(shims.INGRESS_NAME_OVERRIDE) or ingress.get("name")
    if named:
        if ctx.index.get(INGRESS_GROUP, "Ingress", cert.namespace, str(named)) is None:
            return f"the solver edits Ingress {cert.namespace}/{named} in place, which is {ctx.unresolved_note()}"
        return None
    # Only `ingressClassName` names an IngressClass object; `class` is written as the
    # kubernetes.io/ingress.class annotation, which the ingress controller matches by itself
    # (cert-manager pkg/issuer/acme/http/ingress.go).
    class_name = ann.get(shims.INGRESS_CLASS_NAME_OVERRIDE) or ingress.get("ingressClassName")
    if ann.get(shims.INGRESS_CLASS_OVERRIDE) and not ann.get(shims.INGRESS_CLASS_NAME_OVERRIDE):
        class_name = None  # the Certificate's class override wins over the solver's ingressClassName
    if class_name and ctx.index.get(INGRESS_GROUP, "IngressClass", "", str(class_name)) is None:
        return (f"the solver's Ingress uses ingressClassName '{class_name}', and IngressClass {class_name} is "
                f"{ctx.unresolved_note()}")
    return None


@check("http01-solver-unroutable", "error", item="issuer",
       why="The HTTP-01 solver's HTTPRoute must attach to an HTTP listener on the port Let's Encrypt reaches (80) that"
           " admits the Certificate's namespace and covers the name; otherwise the self-check fails for ever "
           "(cert-manager pkg/issuer/acme/http/httproute.go, #7234).",
       title="The HTTP-01 solver's route or Ingress cannot be reached for a name",
       remediation="Point the gatewayHTTPRoute solver (or the Certificate's acme.cert-manager.io/http01-parentref* "
                   "annotations) at a Gateway with an HTTP listener that admits the Certificate's namespace and "
                   "covers the name, or fix the ingress solver's class or Ingress name.")
def http01_solver_unroutable(ctx: Context) -> Iterator[Hit]:
    for cert, name, choice in _choices(ctx):
        if choice.challenge != "http01" or name.startswith("*."):
            continue  # wildcards are http01-wildcard's
        http01 = as_dict(choice.solver.get("http01"))
        if isinstance(http01.get("gatewayHTTPRoute"), dict):
            problem = _gateway_route_problem(ctx, cert, name, http01["gatewayHTTPRoute"])
        elif isinstance(http01.get("ingress"), dict):
            problem = _ingress_problem(ctx, cert, http01["ingress"])
        else:
            problem = "the HTTP-01 solver has neither ingress nor gatewayHTTPRoute"
        if problem:
            yield Hit(cert, f"HTTP-01 for {name} (solvers[{choice.position}] of {choice.issuer.ref}) cannot be "
                            f"reached: {problem}", hostname=name)


@check("ingress-shim-conflict", "error", item="certificate",
       why="ingress-shim refuses issuer together with cluster-issuer, skips tls entries without hosts or secretName, "
           "and never updates a Certificate it does not own (cert-manager pkg/controller/certificate-shim).",
       title="ingress-shim annotations or TLS entries that cert-manager refuses",
       remediation="Use either cert-manager.io/issuer (with issuer-kind/issuer-group) or "
                   "cert-manager.io/cluster-issuer, give every spec.tls entry hosts and a secretName of its own, "
                   "and do not write a Certificate with the name the shim would use.")
def ingress_shim_conflict(ctx: Context) -> Iterator[Hit]:
    written = {(c.namespace, c.name): c for c in ctx.index.certificates if c.derived_from is None}
    for source in (*ctx.index.of(None, "Ingress"), *ctx.index.of(GATEWAY_GROUP, "Gateway")):
        if not shims.annotated(source):
            continue
        result = shims.ingress_shim(source) if source.kind == "Ingress" else shims.gateway_shim(source)
        for problem in result.problems:
            yield Hit(source, f"cert-manager creates no Certificate for it: {problem}")
        if source.kind == "Ingress":
            for _, _, why in result.skipped:
                yield Hit(source, f"cert-manager skips a TLS entry: {why}")
        for cert in result.certificates:
            other = written.get((cert.namespace, cert.name))
            if other is None:
                continue
            uncovered = [n for n in certificate_names(cert)
                         if not any(hostname_covers(m, n) for m in certificate_names(other))]
            if uncovered:
                # the shim refuses to update a Certificate it does not own
                yield Hit(source, f"the shim would create Certificate {cert.namespace}/{cert.name}, but {other.ref} "
                                  f"is written in the render and cert-manager leaves it as is: "
                                  f"{', '.join(uncovered)} stay uncovered", hostname=uncovered[0])


@check("shim-listener-skipped", "warning", item="certificate",
       why="gateway-shim creates a Certificate only for HTTPS/TLS listeners with a hostname, Terminate mode and a "
           "same-namespace Secret certificateRef; any other listener is skipped with only an event (cert-manager "
           "pkg/controller/certificate-shim/gateways).",
       title="gateway-shim silently skips a TLS listener of an annotated Gateway",
       remediation="Give the listener a hostname, tls.mode Terminate (the default), and a certificateRef to a "
                   "Secret in the Gateway's namespace, or write a Certificate for it.")
def shim_listener_skipped(ctx: Context) -> Iterator[Hit]:
    for gateway in ctx.index.of(GATEWAY_GROUP, "Gateway"):
        if not shims.annotated(gateway):
            continue
        for position, name, why in shims.gateway_shim(gateway).skipped:
            hostname = as_dict(as_list(gateway.spec.get("listeners"))[position]).get("hostname")
            yield Hit(gateway, f"listener '{name}' gets no Certificate from cert-manager: {why} (cert-manager only "
                               f"records an event)", hostname=hostname if isinstance(hostname, str) else None)


def _gateway_route_issuers(ctx: Context) -> dict[int, tuple[Resource, Resource, SolverChoice]]:
    """id(issuer) -> (issuer, first Certificate, choice) for every issuer whose gatewayHTTPRoute solver a
    Certificate of the render uses."""
    found: dict[int, tuple[Resource, Resource, SolverChoice]] = {}
    for cert, _, choice in _choices(ctx):
        http01 = as_dict(as_dict(choice.solver).get("http01"))
        if choice.challenge == "http01" and isinstance(http01.get("gatewayHTTPRoute"), dict) \
                and choice.issuer is not None and id(choice.issuer) not in found:
            found[id(choice.issuer)] = (choice.issuer, cert, choice)
    return found


@check("certmanager-gateway-api-disabled", "error", item="issuer", options=("certManager",),
       why="With the gatewayHTTPRoute solver and cert-manager's Gateway API support off (--enable-gateway-api "
           "absent, or enableGatewayAPI: false), cert-manager before v1.15.2 creates one more solver HTTPRoute on "
           "every 10 s self-check round (cert-manager #7176: the incident's 22,514 routes); from v1.15.2 the "
           "Challenge stays pending with \"gateway api is not enabled\". v1.20.0 also loops on a solver route "
           "with two parentRefs to one Gateway and no sectionName (#8634).",
       title="cert-manager runs without the Gateway API support its gatewayHTTPRoute solver needs",
       remediation="Start the cert-manager controller with --enable-gateway-api (Helm: config.enableGatewayAPI: "
                   "true with config.apiVersion controller.config.cert-manager.io/v1alpha1 and kind "
                   "ControllerConfiguration) and run v1.15.2 or later; on v1.20.0 give each solver parentRef a "
                   "sectionName or upgrade to v1.20.1.")
def certmanager_gateway_api_disabled(ctx: Context) -> Iterator[Hit]:
    users = _gateway_route_issuers(ctx)
    if not users:
        return
    config = ctx.cert_manager()
    for issuer, cert, choice in users.values():
        subject = issuer if issuer.origin == "render" else cert
        path = ("spec", "acme", "solvers", choice.position) if subject is issuer else None
        where = f"solvers[{choice.position}] of {issuer.ref} (gatewayHTTPRoute)"
        if config is None:
            # Not a finding about the render: the gate cannot see how cert-manager runs.
            yield Hit(subject, f"{where}: cert-manager's configuration is not in view, so whether its Gateway API "
                               f"support is on is not known (include the cert-manager controller Deployment, "
                               f"pass --cluster-state or --kube, or set certManager in the policy)",
                      unverified=True, severity="info", points_at_nothing=False, path=path)
            continue
        if config.gateway_api is False:
            leak = config.leaks_solver_routes
            if leak:
                effect = ("every HTTP-01 self-check round (every 10 s) creates one more solver HTTPRoute: thousands "
                          "per day per Challenge, until the ingress controller runs out of memory (#7176)")
            elif leak is False:
                effect = "the Challenges stay pending for ever with \"gateway api is not enabled\""
            else:
                effect = ("before v1.15.2 every self-check round (10 s) creates one more solver HTTPRoute (#7176); "
                          "from v1.15.2 the Challenges stay pending for ever")
            yield Hit(subject, f"{where} needs cert-manager's Gateway API support, which {config.describe()} runs "
                               f"without: {effect}", points_at_nothing=False, path=path)
        elif config.loops_on_duplicate_parent_refs:
            refs, _ = solver_parent_refs(cert, as_dict(as_dict(choice.solver.get("http01")).get("gatewayHTTPRoute")))
            keys = [(r.get("namespace") or cert.namespace, r.get("name")) for r in refs if not r.get("sectionName")]
            if len(keys) != len(set(keys)):
                yield Hit(subject, f"{where} has two parentRefs to one Gateway without sectionName: "
                                   f"{config.describe()} loops on the solver route the CRD rejects (#8634, fixed in "
                                   f"v1.20.1)", points_at_nothing=False, path=path)
