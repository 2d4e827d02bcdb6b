"""The names a render serves, and how much each matters: ACME HTTP-01 names first.

Names that ACME HTTP-01 validates are errors when their DNS is wrong (the CA connects to them);
the other served names (listener, route and Ingress hostnames, DNS-01 names) are warnings, because
traffic will not arrive either. IP addresses and names that are not DNS names are not served names.

`public_name` is the one rule for what public DNS can answer: the checklist lists only such names as
HTTPS services, and only they are asked of DNS. `localhost` (RFC 6761), single labels, in-cluster
names (`*.svc`, `*.cluster.local`, `.local` being mDNS, RFC 6762) and IP addresses are not.
"""

from __future__ import annotations

import ipaddress
import re
import weakref
from dataclasses import dataclass

from gate.domain.certmanager import SolverChoice, validated_names
from gate.domain.ingress import ingress_hosts
from gate.domain.kube import normalize_host
from gate.index import Index
from gate.model import Resource

HOSTNAME = re.compile(r"^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")


@dataclass(frozen=True)
class Served:
    """A name the render serves, the resource findings about it attach to, and how much it matters."""

    name: str
    owner: Resource
    level: str  # "error": ACME HTTP-01 validates it; "warning": served, but no HTTP-01 validation
    issuance: SolverChoice | None = None  # the ACME issuance whose CAA check applies

    @property
    def wildcard(self) -> bool:
        return self.name.startswith("*.")


_SERVED: weakref.WeakKeyDictionary[Index, dict[str, Served]] = weakref.WeakKeyDictionary()


def served_names(index: Index) -> dict[str, Served]:
    """name -> Served, for every name of every Certificate and every served hostname (once per index)."""
    cached = _SERVED.get(index)
    if cached is not None:
        return cached
    out: dict[str, Served] = {}
    for name, uses in validated_names(index).items():
        http01 = [(cert, choice) for cert, choice in uses if choice.challenge == "http01"]
        owner, _ = (http01 or uses)[0]
        issuance = next((choice for _, choice in uses if choice.challenge and choice.acme_server), None)
        out[name] = Served(name, owner, "error" if http01 else "warning", issuance)
    for listener in index.listeners:
        if listener.protocol in ("HTTPS", "TLS") and listener.hostname:
            _add(out, listener.hostname, listener.gateway)
    for route in index.routes:
        for host in route.hostnames:
            _add(out, host, route.resource)
    for ingress in index.of("networking.k8s.io", "Ingress"):
        tls, rules = ingress_hosts(ingress)
        for host in (*tls, *rules):
            _add(out, host, ingress)
    out = {name: served for name, served in out.items() if public_name(name)}
    _SERVED[index] = out
    return out


# Suffixes no public resolver answers for: loopback (RFC 6761), mDNS (RFC 6762), Kubernetes Services.
PRIVATE_SUFFIXES = (".localhost", ".local", ".svc")


def public_name(name: str) -> bool:
    """True for a name public DNS (and an ACME CA) can resolve: a DNS name of two or more labels,
    not an address, not localhost, not an in-cluster or mDNS name."""
    name = normalize_host(name)
    base = name.removeprefix("*.")
    if not HOSTNAME.match(name) or _is_address(base) or "." not in base:
        return False
    return base != "localhost" and not base.endswith(PRIVATE_SUFFIXES)


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _add(out: dict[str, Served], host: str, owner: Resource) -> None:
    name = normalize_host(host)
    if name not in out:
        out[name] = Served(name, owner, "warning")
