"""Findings -> the per-service checklist: one HTTPS hostname and everything behind it.

A service is a hostname the render serves over TLS (a Certificate name, an HTTPS/TLS listener
hostname, an Ingress TLS host). Behind it: the Certificates that cover it, the Gateways whose
listeners serve it, the routes and Ingresses for it, their backend Services, the workloads those
select. Each checklist line is one `ITEMS` entry; it fails when a finding of one of its checks is
about the hostname or about one of those resources.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING

from gate.checklist.items import ITEMS
from gate.domain import shims
from gate.domain.certmanager import certificate_names, issuer_for, solver_note
from gate.domain.gateway_api import Listener, Route
from gate.domain.ingress import backend_service_names, ingress_hosts
from gate.domain.kube import hostnames_intersect, normalize_host
from gate.domain.served_names import public_name
from gate.index import Index
from gate.model import ChecklistItem, Finding, Resource, ServiceChecklist, Status, Suppressed

if TYPE_CHECKING:
    from gate.checks.base import Check, Context

RefKey = tuple[str, str, str]  # kind, namespace, name


def _key(resource: Resource) -> RefKey:
    return (resource.kind, resource.namespace, resource.name)


def https_hostnames(index: Index) -> set[str]:
    hosts: set[str] = set()
    for cert in index.certificates:
        hosts.update(normalize_host(n) for n in certificate_names(cert))
    for listener in index.listeners:
        if listener.protocol in ("HTTPS", "TLS") and listener.hostname:
            hosts.add(normalize_host(listener.hostname))
    for ingress in index.of("networking.k8s.io", "Ingress"):
        hosts.update(normalize_host(h) for h in ingress_hosts(ingress)[0])
    return hosts


def public_https_names(index: Index) -> set[str]:
    """The HTTPS services the checklist lists: served names public DNS can resolve (`public_name`)."""
    return {host for host in https_hostnames(index) if public_name(host)}


def private_https_names(index: Index) -> list[str]:
    """Served TLS names that are not public DNS names (localhost, `*.svc`, IPs): not listed, said once."""
    return sorted(host for host in https_hostnames(index) if host and not public_name(host))


def ingress_services(index: Index, ingress: Resource) -> list[Resource]:
    found = (index.get("", "Service", ingress.namespace, n) for n in backend_service_names(ingress))
    return [s for s in found if s is not None]


class HostLookup:
    """What serves each hostname, built once per run: a service's resources are dictionary hits,
    not a scan of every Certificate, listener and route per hostname."""

    def __init__(self, index: Index):
        self.index = index
        self.certs: dict[str, list[Resource]] = defaultdict(list)  # certificate name (maybe `*.x`) -> certs
        for cert in index.certificates:
            for name in dict.fromkeys(normalize_host(n) for n in certificate_names(cert)):
                self.certs[name].append(cert)
        self.listeners: dict[str, list[Listener]] = defaultdict(list)  # TLS listener hostname -> listeners
        for listener in index.listeners:
            if listener.protocol in ("HTTPS", "TLS") and listener.hostname:
                self.listeners[normalize_host(listener.hostname)].append(listener)
        # Lookups return objects in the index's order, as a scan would, so the report does not
        # depend on which table an object was found through.
        self.position = {id(x): i for items in (index.certificates, index.listeners, index.routes)
                         for i, x in enumerate(items)}
        self.named_routes: dict[str, list[Route]] = defaultdict(list)  # route hostname -> routes
        self.unnamed_routes: dict[int, list[Route]] = defaultdict(list)  # id(listener) -> routes without hostnames
        for route in index.routes:
            for name in dict.fromkeys(normalize_host(h) for h in route.hostnames):
                self.named_routes[name].append(route)
            if not route.hostnames:
                for listener in {id(lst): lst for parent in route.parents for lst in parent.listeners}.values():
                    self.unnamed_routes[id(listener)].append(route)
        self.ingresses: dict[str, list[Resource]] = defaultdict(list)  # TLS or rule host -> Ingresses
        for ingress in index.of("networking.k8s.io", "Ingress"):
            tls, rules = ingress_hosts(ingress)
            for name in dict.fromkeys(normalize_host(h) for h in (*tls, *rules)):
                self.ingresses[name].append(ingress)
            self.position[id(ingress)] = len(self.position)

    def in_order(self, found: list) -> list:
        return sorted({id(x): x for x in found}.values(), key=lambda x: self.position[id(x)])

    def covering(self, table: dict[str, list], host: str) -> list:
        """Entries written for `host` itself or for the wildcard one label up (`hostname_covers`)."""
        found = list(table.get(host, ()))
        parent = host.partition(".")[2]
        if parent and not host.startswith("*."):
            found += table.get("*." + parent, ())
        return self.in_order(found)

    def routes_naming(self, host: str) -> list[Route]:
        """Routes with a hostname that intersects `host` (`hostnames_intersect`)."""
        candidates = list(self.named_routes.get(host, ()))
        labels = host.split(".")
        for i in range(1, len(labels)):  # a wildcard route hostname matches any deeper name
            candidates += self.named_routes.get("*." + ".".join(labels[i:]), ())
        if host.startswith("*."):  # a wildcard service name matches any deeper route hostname
            candidates += [r for name, routes in self.named_routes.items() if hostnames_intersect(host, name)
                           for r in routes]
        return candidates

    def subjects(self, host: str) -> dict[str, list[Resource]]:
        """The resources behind one hostname, per checklist item."""
        index = self.index
        certs = self.covering(self.certs, host)
        listeners = self.covering(self.listeners, host)
        gateways = list({id(lst.gateway): lst.gateway for lst in listeners}.values())
        routes = self.routes_naming(host) + [r for lst in listeners for r in self.unnamed_routes.get(id(lst), ())]
        routes = self.in_order(routes)
        services = [ref.target for route in routes for ref in route.backends
                    if ref.target is not None and ref.kind == "Service"]
        ingresses = self.covering(self.ingresses, host)
        for ingress in ingresses:
            services.extend(ingress_services(index, ingress))
        services = list({id(s): s for s in services}.values())
        workloads = list({id(w): w for s in services for w, _ in index.workloads_for(s)}.values())
        cert_sources = [c.derived_from for c in certs if c.derived_from is not None]
        # An Ingress or Gateway annotated for cert-manager's shim asks for the Certificate even when
        # the shim refuses to create one: its findings belong on the Certificate line.
        cert_sources += [r for r in (*ingresses, *gateways) if shims.annotated(r)]
        cert_sources = list({id(r): r for r in cert_sources}.values())
        issuers = list({id(i): i for i in (issuer_for(index, c) for c in certs) if i is not None}.values())
        route_resources = [r.resource for r in routes]
        everything = [*certs, *cert_sources, *gateways, *route_resources, *ingresses, *services, *workloads]
        return {
            "dns": [],
            "certificate": [*certs, *cert_sources],
            "issuer": [*issuers, *certs, *cert_sources] if certs else [],
            "listener": gateways,
            "route": [*route_resources, *ingresses],
            "backend": [*route_resources, *ingresses, *services],
            "workload": [*services, *workloads],
            "image": workloads,
            "order": everything,
            "manifest": everything,
        }


def _finding_key(finding: Finding) -> RefKey:
    return (finding.kind, finding.namespace, finding.name)


class _Placement:
    """Findings by the checklist line they land on (`Finding.item`, set per finding), by hostname
    when a finding names one, else by the resource it is about."""

    def __init__(self, findings: list[Finding]):
        self.by_host: dict[tuple[str, str], list[Finding]] = defaultdict(list)
        self.by_resource: dict[tuple[str, RefKey], list[Finding]] = defaultdict(list)
        self.order = {id(f): i for i, f in enumerate(findings)}  # a line's findings in report order
        self.items: set[str] = set()
        for finding in findings:
            self.items.add(finding.item)
            if finding.hostname is not None:
                self.by_host[(finding.item, normalize_host(finding.hostname))].append(finding)
            else:
                self.by_resource[(finding.item, _finding_key(finding))].append(finding)

    def on(self, item: str, host: str, keys: Iterable[RefKey]) -> list[Finding]:
        hits = [*self.by_host.get((item, host), ())]
        hits += [f for key in keys for f in self.by_resource.get((item, key), ())]
        hits.sort(key=lambda f: self.order[id(f)])
        return hits


def build_checklists(ctx: Context, findings: list[Finding], checks: list[Check],
                     suppressed: list[Suppressed] = ()) -> tuple[list[ServiceChecklist], list[Finding]]:
    """(one checklist per HTTPS hostname, findings that belong to no service).

    A finding lands on the line its hit names (`Hit.item`), else on its check's line; a silenced
    finding makes its line `[-]` with the reason, never `[x]`.
    """
    checks_by_item: dict[str, list[Check]] = defaultdict(list)
    for entry in checks:
        checks_by_item[entry.item].append(entry)
    active = _Placement(findings)
    silenced = _Placement([s.finding for s in suppressed])
    why = {id(s.finding): s for s in suppressed}
    lookup = HostLookup(ctx.index)
    placed: set[int] = set()
    services = []
    for host in sorted(public_https_names(ctx.index)):
        subjects = lookup.subjects(host)
        service = ServiceChecklist(hostname=host)
        for item, label in ITEMS.items():
            item_checks = checks_by_item.get(item, [])
            if not item_checks and item not in active.items and item not in silenced.items:
                continue
            keys = list(dict.fromkeys(_key(r) for r in subjects[item]))
            hits = active.on(item, host, keys)
            quiet = [why[id(f)] for f in silenced.on(item, host, keys)]
            if not hits and not quiet and (item == "manifest" or (not subjects[item] and item != "dns")):
                continue
            placed.update(id(f) for f in hits)
            entry = _item(ctx, label, item_checks, hits, subjects[item], quiet)
            if item == "issuer" and not entry.note:
                entry.note = solver_note(ctx.index, subjects["certificate"], host)  # which ACME solver
            service.items.append(entry)
        services.append(service)
    return services, [f for f in findings if id(f) not in placed]


def _item(ctx: Context, label: str, checks: list[Check], hits: list[Finding],
          subjects: list[Resource], quiet: list[Suppressed] = ()) -> ChecklistItem:
    about = ", ".join(dict.fromkeys(r.ref for r in subjects[:4])) + (" ..." if len(subjects) > 4 else "")
    location = subjects[0].location if subjects else ""
    common = {"resource": about, "location": location, "suppressed": list(quiet)}
    if any(not f.unverified for f in hits):
        return ChecklistItem(label, Status.FAIL, hits, **common)
    if hits:
        return ChecklistItem(label, Status.UNVERIFIED, hits, note="could not verify", **common)
    if quiet:
        reasons = "; ".join(dict.fromkeys(s.reason for s in quiet))
        return ChecklistItem(label, Status.SUPPRESSED, note=f"suppressed: {reasons}", **common)
    skipped = {ctx.probe_status.get(c.probe) for c in checks if c.probe}
    if skipped and skipped <= {"offline"}:
        return ChecklistItem(label, Status.UNVERIFIED, note="offline", **common)
    return ChecklistItem(label, Status.PASS, **common)
