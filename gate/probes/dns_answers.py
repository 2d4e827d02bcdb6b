"""The DNS probe's questions and answers, and the option values it takes: plain values, no I/O.

Checks read these and the CLI parses `--nameserver` and `--lb-address` with them at start-up; the
resolver that produces them (gate/probes/dns.py, with asyncio and dnspython) is imported only when a
run asks DNS, so an offline run (a pre-commit hook's) does not pay for it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

RESOLVED, NXDOMAIN, NODATA = "resolved", "nxdomain", "nodata"
SERVFAIL, TIMEOUT, REFUSED, ERROR = "servfail", "timeout", "refused", "error"
DEFINITIVE = frozenset({RESOLVED, NXDOMAIN, NODATA})  # the name's owner said so; anything else: unknown


@dataclass(frozen=True)
class Lookup:
    """One question (name, type) as one nameserver answered it."""

    status: str
    records: tuple = ()  # addresses (A/AAAA, normalized text) or (flags, tag, value) for CAA
    chain: tuple[str, ...] = ()  # CNAME targets followed from the name, in order, without trailing dot
    detail: str = ""  # why the lookup failed, for messages

    @property
    def definitive(self) -> bool:
        return self.status in DEFINITIVE

    def describe(self) -> str:
        via = f" via CNAME {' -> '.join(self.chain)}" if self.chain else ""
        if self.status == RESOLVED and self.records:
            return ", ".join(str(r) for r in self.records) + via
        if self.status in (RESOLVED, NODATA):
            return f"no records{via}"
        if self.status == NXDOMAIN:
            return f"NXDOMAIN{via}"
        return f"{self.status}{': ' + self.detail if self.detail else ''}{via}"


@dataclass(frozen=True)
class CaaSet:
    """The CAA record set that applies to a name: the closest one up the tree (RFC 8659 section 3)."""

    status: str  # RESOLVED (found at `owner`), NODATA (none anywhere up the tree), or a failure status
    owner: str | None = None  # the name the set was found at, or the name whose lookup failed
    records: tuple[tuple[int, str, str], ...] = ()  # (flags, tag, value)
    detail: str = ""


@dataclass(frozen=True)
class NameAnswer:
    """What one nameserver says about one name."""

    a: Lookup | None = None  # None when not asked (wildcards)
    aaaa: Lookup | None = None
    caa: CaaSet | None = None  # only asked for names a CA will issue for


@dataclass(frozen=True)
class Question:
    """A name to resolve: its A and AAAA (`addresses`), its CAA set when a CA will issue for it."""

    name: str
    addresses: bool = True
    caa: bool = False


def split_nameserver(value: str) -> tuple[str, int]:
    """`HOST`, `HOST:PORT`, `[V6]:PORT` or a bare IPv6 address -> (host, port); ValueError when malformed."""
    value = value.strip()
    host, port = value, "53"
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError(f"{value!r} is not HOST[:PORT]")
        port = rest[1:] or "53"
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not HOST[:PORT] (a port is 1-65535)")
    return host, int(port)


def parse_nameserver(value: str) -> str:
    split_nameserver(value)
    return value.strip()


def parse_address(value: str) -> str:
    """An IPv4 or IPv6 address in its normal text form; ValueError otherwise."""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address") from None
