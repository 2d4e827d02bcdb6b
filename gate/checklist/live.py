"""`gate audit`'s checklist: one hostname as it runs in the cluster, and everything behind it.

A service is a public name a live Certificate covers, a TLS listener of a live Gateway serves, or an
ACME Challenge validates. Behind it: its Certificates, Challenges, solver routes, the Gateways
whose listeners serve it, its routes. Findings land as in `gate check` (builder.py): on the line
their hit names, by hostname when the finding names one, else by the resource it is about.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from gate.checklist.builder import _item, _key, _Placement
from gate.checklist.items import AUDIT_ITEMS
from gate.domain import acme, certmanager_controller, controllers
from gate.domain.certmanager import certificate_names
from gate.domain.kube import CERT_MANAGER_GROUP, GATEWAY_GROUP, as_list, dig, normalize_host
from gate.domain.served_names import public_name
from gate.index import Index
from gate.model import Finding, Resource, ServiceChecklist, Suppressed

if TYPE_CHECKING:
    from gate.checks.base import Check, Context


class LiveLookup:
    """Per hostname, the live objects behind it, built once (dictionary hits per host, no rescans)."""

    def __init__(self, index: Index, whole_gateway: bool | None = None):
        # On a controller that keeps a Gateway's valid listeners serving (Traefik >= 3.1, ...), a
        # Gateway that is not accepted because of other listeners is not this hostname's problem.
        self.whole_gateway = whole_gateway
        self.broken_hosts: dict[int, set[str]] = defaultdict(set)  # id(Gateway) -> hosts of failing listeners
        self.certs: dict[str, list[Resource]] = defaultdict(list)
        for cert in index.of(CERT_MANAGER_GROUP, "Certificate"):
            for name in dict.fromkeys(normalize_host(n) for n in certificate_names(cert)):
                self.certs[name].append(cert)
        self.listeners: dict[str, list[Resource]] = defaultdict(list)  # TLS listener hostname -> Gateways
        for gateway in index.of(GATEWAY_GROUP, "Gateway"):
            for raw in as_list(gateway.spec.get("listeners")):
                if isinstance(raw, dict) and raw.get("protocol") in ("HTTPS", "TLS") and \
                        isinstance(raw.get("hostname"), str):
                    self.listeners[normalize_host(raw["hostname"])].append(gateway)
            hosts = {str(raw.get("name")): raw.get("hostname") for raw in as_list(gateway.spec.get("listeners"))
                     if isinstance(raw, dict) and isinstance(raw.get("hostname"), str)}
            for status in as_list(dig(gateway.body, "status", "listeners")):
                if isinstance(status, dict) and status.get("name") in hosts and any(
                        isinstance(c, dict) and c.get("status") == "False" for c in as_list(status.get("conditions"))):
                    self.broken_hosts[id(gateway)].add(normalize_host(hosts[status["name"]]))
        self.challenges: dict[str, list[Resource]] = defaultdict(list)
        for challenge in index.of(acme.ACME_GROUP, "Challenge"):
            name = challenge.spec.get("dnsName")
            if isinstance(name, str):
                self.challenges[normalize_host(name)].append(challenge)
        self.solver_routes: dict[str, list[Resource]] = defaultdict(list)
        self.routes: dict[str, list[Resource]] = defaultdict(list)
        self.unnamed_routes: list[Resource] = []
        for route in index.of(GATEWAY_GROUP, "HTTPRoute"):
            hosts = [normalize_host(h) for h in as_list(route.spec.get("hostnames")) if isinstance(h, str)]
            table = self.solver_routes if acme.is_solver_route(route) else self.routes
            for host in dict.fromkeys(hosts):
                table[host].append(route)
            if not hosts and not acme.is_solver_route(route):
                self.unnamed_routes.append(route)
        self.cert_manager = [w for w in index.all_workloads() if certmanager_controller.is_controller(w)]

    def hostnames(self) -> list[str]:
        names = {*self.certs, *self.listeners, *self.challenges}
        return sorted(n for n in names if public_name(n))

    def subjects(self, host: str) -> dict[str, list[Resource]]:
        parent = host.partition(".")[2]
        wildcard = "*." + parent if parent and not host.startswith("*.") else None
        certs = [*self.certs.get(host, []), *(self.certs.get(wildcard, []) if wildcard else [])]
        gateways = [*self.listeners.get(host, []), *(self.listeners.get(wildcard, []) if wildcard else [])]
        challenges = self.challenges.get(host, [])
        solver = self.solver_routes.get(host, [])
        labels = host.split(".")
        routes = [r for i in range(len(labels)) for r in
                  self.routes.get(host if i == 0 else "*." + ".".join(labels[i:]), [])]
        gateways = list({id(g): g for g in gateways}.values())
        uses_acme = bool(challenges or solver)
        return {
            "controller": self.cert_manager if uses_acme else [],
            "certificate": list({id(c): c for c in certs}.values()),
            "challenge": challenges,
            "solver": [*challenges, *solver] if solver else [],
            "gateway": [g for g in gateways if self.whole_gateway is not False or host in self.broken_hosts[id(g)]],
            "listener": gateways,
            "route": [*routes, *solver],
        }


def build_audit_checklists(ctx: Context, findings: list[Finding], checks: list[Check],
                           suppressed: list[Suppressed] = ()) -> tuple[list[ServiceChecklist], list[Finding]]:
    """(one checklist per public hostname in the cluster, findings that belong to no hostname)."""
    checks_by_item: dict[str, list[Check]] = defaultdict(list)
    for entry in checks:
        checks_by_item[entry.item].append(entry)
    active = _Placement(findings)
    silenced = _Placement([s.finding for s in suppressed])
    why = {id(s.finding): s for s in suppressed}
    lookup = LiveLookup(ctx.index, controllers.takes_gateway_down(ctx.gateway_controller()))
    placed: set[int] = set()
    services = []
    for host in lookup.hostnames():
        subjects = lookup.subjects(host)
        service = ServiceChecklist(hostname=host)
        for item, label in AUDIT_ITEMS.items():
            keys = list(dict.fromkeys(_key(r) for r in subjects[item]))
            hits = active.on(item, host, keys)
            quiet = [why[id(f)] for f in silenced.on(item, host, keys)]
            if not hits and not quiet and (not subjects[item] or not checks_by_item.get(item)):
                continue
            placed.update(id(f) for f in hits)
            service.items.append(_item(ctx, label, checks_by_item.get(item, []), hits, subjects[item], quiet))
        services.append(service)
    return services, [f for f in findings if id(f) not in placed]
