"""Which issuer and which ACME solver cert-manager uses for each name of each Certificate.

The solver choice follows cert-manager's solver picker (pkg/util/solverpicker, selectors in
pkg/controller/acmeorders/selectors): a solver applies when all of its selectors match (matchLabels
on the Order's labels, which are the Certificate's; dnsNames exactly; dnsZones by whole labels from
the right); a solver without a selector is the default, taken only when nothing was picked before it.
Among applicable solvers a dnsNames match wins, then the zone with the most labels, then more
matched labels, then list order. Wildcards are looked up as written (`*.example.com`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gate.domain.kube import CERT_MANAGER_GROUP, as_dict, as_list, hostname_covers, normalize_host
from gate.domain.shims import PARENT_REF_KIND, PARENT_REF_NAME, PARENT_REF_NAMESPACE
from gate.model import Resource

if TYPE_CHECKING:
    from gate.index import Index


@dataclass(frozen=True)
class SolverChoice:
    issuer: Resource | None  # the Issuer/ClusterIssuer the Certificate names, None when not found
    solver: dict | None  # the chosen entry of issuer spec.acme.solvers; None if not ACME or none matches
    challenge: str | None  # "http01", "dns01" or None
    acme_server: str | None  # issuer spec.acme.server
    position: int | None = None  # index of the chosen solver in spec.acme.solvers


def issuer_ref(certificate: Resource) -> tuple[str, str, str]:
    """(group, kind, name) of the Certificate's issuerRef, with cert-manager's defaults."""
    ref = as_dict(certificate.spec.get("issuerRef"))
    name = ref.get("name")
    return (str(ref.get("group") or CERT_MANAGER_GROUP), str(ref.get("kind") or "Issuer"),
            name if isinstance(name, str) else "")


def issuer_for(index: Index, certificate: Resource) -> Resource | None:
    group, kind, name = issuer_ref(certificate)
    if not name:
        return None
    if group == CERT_MANAGER_GROUP:
        if kind == "ClusterIssuer":
            return index.get(group, kind, "", name)
        if kind == "Issuer":
            return index.get(group, kind, certificate.namespace, name)
        return None
    # External issuers (AWSPCAClusterIssuer, ...): their scope is whatever their CRD says
    return index.get(group, kind, certificate.namespace, name) or index.get(group, kind, "", name)


def solver_challenge(solver: dict[str, Any]) -> str | None:
    if isinstance(solver.get("http01"), dict):
        return "http01"
    if isinstance(solver.get("dns01"), dict):
        return "dns01"
    return None


def _zone_labels(zone: str, name: str) -> int:
    """Labels the zone shares with the name from the right, when the whole zone matches (else 0)."""
    zone_parts = normalize_host(zone).split(".")
    name_parts = normalize_host(name).split(".")
    if not zone or len(zone_parts) > len(name_parts) or name_parts[-len(zone_parts):] != zone_parts:
        return 0
    return len(zone_parts)


def _selector_match(selector: dict[str, Any], labels: dict[str, str], name: str) -> tuple[int, int, int] | None:
    """(labels, dnsNames, dnsZones) match counts, or None when some selector does not match."""
    match_labels = as_dict(selector.get("matchLabels"))
    if any(str(labels.get(k)) != str(v) or k not in labels for k, v in match_labels.items()):
        return None
    names = [n for n in as_list(selector.get("dnsNames")) if isinstance(n, str)]
    num_names = 0
    if names:
        if name not in names:
            return None
        num_names = 1
    zones = [z for z in as_list(selector.get("dnsZones")) if isinstance(z, str)]
    num_zones = 0
    if zones:
        num_zones = max((_zone_labels(z, name) for z in zones), default=0)
        if num_zones == 0:
            return None
    return len(match_labels), num_names, num_zones


def pick(solvers: list[Any], labels: dict[str, str], name: str,
         challenges: tuple[str, ...] = ("http01", "dns01")) -> int | None:
    """Position of the solver cert-manager picks for `name` among those of an offered challenge type."""
    chosen: int | None = None
    best = (0, 0, 0)  # labels, dnsNames, dnsZones of the chosen one
    for i, solver in enumerate(solvers):
        if not isinstance(solver, dict) or solver_challenge(solver) not in challenges:
            continue
        selector = solver.get("selector")
        if selector is None:
            if chosen is None:
                chosen = i
            continue
        counts = _selector_match(as_dict(selector), labels, name)
        if counts is None:
            continue
        if chosen is None:
            chosen, best = i, counts
            continue
        n_labels, n_names, n_zones = counts
        b_labels, b_names, b_zones = best
        if (n_names > 0) != (b_names > 0):
            if n_names > 0:
                chosen, best = i, counts
            continue
        if n_names == 0 and (n_zones > 0) != (b_zones > 0):
            if n_zones > 0:
                chosen, best = i, counts
            continue
        if n_zones != b_zones:
            if n_zones > b_zones:
                chosen, best = i, counts
            continue
        if n_labels > b_labels:
            chosen, best = i, counts
    return chosen


def choose_solver(index: Index, certificate: Resource, dns_name: str) -> SolverChoice:
    """The issuer and ACME solver cert-manager uses for one name of a Certificate.

    For a wildcard the ACME server offers only DNS-01 (RFC 8555 section 7.1.3, Let's Encrypt), so
    HTTP-01 solvers are not candidates; when no DNS-01 solver applies but an HTTP-01 one would, that
    one is returned (challenge "http01") so that `http01-wildcard` can name it.
    """
    issuer = issuer_for(index, certificate)
    acme = as_dict(issuer.spec.get("acme")) if issuer is not None else {}
    if issuer is None or not acme:
        return SolverChoice(issuer, None, None, None)
    server = acme.get("server") if isinstance(acme.get("server"), str) else None
    solvers = as_list(acme.get("solvers"))
    labels = {str(k): str(v) for k, v in certificate.labels.items()}
    position = None
    if dns_name.startswith("*."):
        position = pick(solvers, labels, dns_name, ("dns01",))
    if position is None:
        position = pick(solvers, labels, dns_name)
    if position is None:
        return SolverChoice(issuer, None, None, server)
    solver = solvers[position]
    return SolverChoice(issuer, solver, solver_challenge(solver), server, position)


def certificate_names(certificate: Resource) -> list[str]:
    """dnsNames, then commonName when it is not among them."""
    names = [n for n in as_list(certificate.spec.get("dnsNames")) if isinstance(n, str) and n]
    common = certificate.spec.get("commonName")
    if isinstance(common, str) and common and common not in names:
        names.append(common)
    return names


def validated_names(index: Index) -> dict[str, list[tuple[Resource, SolverChoice]]]:
    """Every name (normalized) of every Certificate, written and shim-derived, with its solver choice."""
    out: dict[str, list[tuple[Resource, SolverChoice]]] = {}
    for cert in index.certificates:
        for name in certificate_names(cert):
            out.setdefault(normalize_host(name), []).append((cert, choose_solver(index, cert, name)))
    return out


def describe(choice: SolverChoice) -> str:
    """`HTTP-01 gatewayHTTPRoute, solvers[0]`, for the checklist."""
    if choice.solver is None:
        return "no ACME solver matches"
    challenge = "HTTP-01" if choice.challenge == "http01" else "DNS-01"
    kind = next(iter(as_dict(choice.solver.get(choice.challenge or ""))), "")
    return f"{challenge} {kind}, solvers[{choice.position}]" if kind else f"{challenge}, solvers[{choice.position}]"


def solver_note(index: Index, certificates: list[Resource], host: str) -> str:
    """How the Certificates covering `host` get it validated, e.g. `HTTP-01 gatewayHTTPRoute, solvers[0]`."""
    notes = []
    for cert in certificates:
        if cert.kind != "Certificate":
            continue
        for name in certificate_names(cert):
            if hostname_covers(name, host):
                issuer = issuer_for(index, cert)
                if issuer is not None and as_dict(issuer.spec.get("acme")):
                    notes.append(describe(choose_solver(index, cert, name)))
    return ", ".join(dict.fromkeys(notes))


def solver_parent_refs(cert: Resource, gateway_route: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """The solver route's parentRefs (Certificate annotations override the solver's), or a problem."""
    ann = cert.annotations
    name, kind = ann.get(PARENT_REF_NAME), ann.get(PARENT_REF_KIND)
    if name and kind:
        return [{"name": name, "kind": kind, "namespace": ann.get(PARENT_REF_NAMESPACE) or cert.namespace}], ""
    if name or kind:
        return [], (f"the Certificate sets only one of {PARENT_REF_NAME} and {PARENT_REF_KIND} "
                    f"(cert-manager needs both)")
    return [as_dict(r) for r in as_list(gateway_route.get("parentRefs"))], ""


@dataclass(frozen=True)
class SolverParent:
    """A Gateway (and listener) an HTTP-01 solver HTTPRoute attaches to."""

    namespace: str
    name: str
    section_name: str | None
    port: Any


def http01_gateway_parents(index: Index, certificate: Resource) -> list[SolverParent]:
    """The Gateways the gatewayHTTPRoute solvers of a Certificate's names attach their routes to."""
    found: dict[tuple, SolverParent] = {}
    for name in certificate_names(certificate):
        choice = choose_solver(index, certificate, name)
        route = as_dict(as_dict(as_dict(choice.solver).get("http01")).get("gatewayHTTPRoute"))
        if choice.challenge != "http01" or not route and not certificate.annotations.get(PARENT_REF_NAME):
            continue
        refs, problem = solver_parent_refs(certificate, route)
        if problem:
            continue
        for ref in refs:
            if str(ref.get("kind") or "Gateway") != "Gateway":
                continue
            parent = SolverParent(str(ref.get("namespace") or certificate.namespace), str(ref.get("name", "")),
                                  ref.get("sectionName") if isinstance(ref.get("sectionName"), str) else None,
                                  ref.get("port"))
            found.setdefault((parent.namespace, parent.name, parent.section_name, str(parent.port)), parent)
    return list(found.values())
