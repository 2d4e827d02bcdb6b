"""Findings -> the per-service checklist: one HTTPS hostname and everything behind it.

A service is a hostname the render serves over TLS (a Certificate name, an HTTPS/TLS listener
hostname, an Ingress TLS host). Behind it: the Certificates that cover it, the Gateways whose
listeners serve it, the routes and Ingresses for it, their backend Services, the workloads those
select. Each checklist line is one `ITEMS` entry; it fails when a finding of one of its checks is
about the hostname or about one of those resources.
"""

from __future__ import annotations

from collections import defaultdict

from gate.acme import issuer_for, solver_note
from gate.checks.base import ITEMS, Check, Context
from gate.index import Index
from gate.k8s import as_dict, as_list, dig, hostname_covers, hostnames_intersect, normalize_host
from gate.model import ChecklistItem, Finding, Resource, ServiceChecklist

RefKey = tuple[str, str, str]  # kind, namespace, name


def _key(resource: Resource) -> RefKey:
    return (resource.kind, resource.namespace, resource.name)


def certificate_names(cert: Resource) -> list[str]:
    names = [n for n in as_list(cert.spec.get("dnsNames")) if isinstance(n, str)]
    common = cert.spec.get("commonName")
    if isinstance(common, str) and common not in names:
        names.append(common)
    return names


def ingress_hosts(ingress: Resource) -> tuple[list[str], list[str]]:
    """(TLS hosts, rule hosts) of an Ingress."""
    tls = [h for entry in as_list(ingress.spec.get("tls")) for h in as_list(as_dict(entry).get("hosts"))
           if isinstance(h, str)]
    rules = [r.get("host") for r in as_list(ingress.spec.get("rules")) if isinstance(r, dict)
             and isinstance(r.get("host"), str)]
    return tls, rules


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


def ingress_services(index: Index, ingress: Resource) -> list[Resource]:
    names = []
    default = dig(ingress.spec, "defaultBackend", "service", "name")
    if isinstance(default, str):
        names.append(default)
    for rule in as_list(ingress.spec.get("rules")):
        for path in as_list(dig(rule, "http", "paths")):
            name = dig(path, "backend", "service", "name")
            if isinstance(name, str):
                names.append(name)
    found = (index.get("", "Service", ingress.namespace, n) for n in dict.fromkeys(names))
    return [s for s in found if s is not None]


def subjects_for(index: Index, host: str) -> dict[str, list[Resource]]:
    """The resources behind one hostname, per checklist item."""
    certs = [c for c in index.certificates if any(hostname_covers(n, host) for n in certificate_names(c))]
    listeners = [lst for lst in index.listeners
                 if lst.protocol in ("HTTPS", "TLS") and lst.hostname and hostname_covers(lst.hostname, host)]
    gateways = list({id(lst.gateway): lst.gateway for lst in listeners}.values())
    host_listeners = {id(lst) for lst in listeners}
    routes, services = [], []
    for route in index.routes:
        named = any(hostnames_intersect(h, host) for h in route.hostnames) if route.hostnames else None
        attached = any(id(lst) in host_listeners for parent in route.parents for lst in parent.listeners)
        if named or (named is None and attached):
            routes.append(route.resource)
            services.extend(ref.target for ref in route.backends
                            if ref.target is not None and ref.kind == "Service")
    ingresses = []
    for ingress in index.of("networking.k8s.io", "Ingress"):
        tls, rules = ingress_hosts(ingress)
        if any(hostname_covers(h, host) for h in (*tls, *rules)):
            ingresses.append(ingress)
            services.extend(ingress_services(index, ingress))
    services = list({id(s): s for s in services}.values())
    workloads = list({id(w): w for s in services for w, _ in index.workloads_for(s)}.values())
    cert_sources = [c.derived_from for c in certs if c.derived_from is not None]
    issuers = list({id(i): i for i in (issuer_for(index, c) for c in certs) if i is not None}.values())
    everything = [*certs, *cert_sources, *gateways, *routes, *ingresses, *services, *workloads]
    return {
        "dns": [],
        "certificate": [*certs, *cert_sources],
        "issuer": [*issuers, *certs, *cert_sources] if certs else [],
        "listener": gateways,
        "route": [*routes, *ingresses],
        "backend": [*routes, *ingresses, *services],
        "workload": [*services, *workloads],
        "image": workloads,
        "order": everything,
        "manifest": everything,
    }


def _finding_key(finding: Finding) -> RefKey:
    return (finding.kind, finding.namespace, finding.name)


def build_checklists(ctx: Context, findings: list[Finding], checks: list[Check]) -> tuple[
        list[ServiceChecklist], list[Finding]]:
    """(one checklist per HTTPS hostname, findings that belong to no service)."""
    checks_by_item: dict[str, list[Check]] = defaultdict(list)
    for entry in checks:
        checks_by_item[entry.item].append(entry)
    by_check: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_check[finding.check].append(finding)
    placed: set[int] = set()
    services = []
    for host in sorted(https_hostnames(ctx.index)):
        subjects = subjects_for(ctx.index, host)
        service = ServiceChecklist(hostname=host)
        for item, label in ITEMS.items():
            item_checks = checks_by_item.get(item)
            if not item_checks:
                continue
            keys = {_key(r) for r in subjects[item]}
            hits = [f for c in item_checks for f in by_check.get(c.id, ())
                    if (f.hostname is not None and normalize_host(f.hostname) == host)
                    or (f.hostname is None and _finding_key(f) in keys)]
            if not hits and (item == "manifest" or (not subjects[item] and item != "dns")):
                continue
            placed.update(id(f) for f in hits)
            entry = _item(ctx, label, item_checks, hits, subjects[item])
            if item == "issuer" and not entry.note:
                entry.note = solver_note(ctx.index, host)  # which ACME solver validates it (issue 3)
            service.items.append(entry)
        services.append(service)
    return services, [f for f in findings if id(f) not in placed]


def _item(ctx: Context, label: str, checks: list[Check], hits: list[Finding],
          subjects: list[Resource]) -> ChecklistItem:
    about = ", ".join(dict.fromkeys(r.ref for r in subjects[:4])) + (" ..." if len(subjects) > 4 else "")
    location = subjects[0].location if subjects else ""
    if any(not f.unverified for f in hits):
        return ChecklistItem(label, "fail", hits, resource=about, location=location)
    if hits:
        return ChecklistItem(label, "unverified", hits, note="could not verify", resource=about,
                             location=location)
    skipped = {ctx.probe_status.get(c.network) for c in checks if c.network}
    if skipped and skipped <= {"offline"}:
        return ChecklistItem(label, "unverified", note="offline", resource=about, location=location)
    return ChecklistItem(label, "pass", resource=about, location=location)
