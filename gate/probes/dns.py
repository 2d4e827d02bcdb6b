"""Resolve many names at once: CNAME chain, A, AAAA and CAA per name, per nameserver.

Every failure is a value (`Lookup.status`), never an exception, so a lookup that could not be made
is reported as "could not verify" and never passes. Questions run concurrently (bounded), each
(nameserver, name, type) is asked once per run, and a nameserver that has not answered anything
within one lifetime is given up on, so a run against an unreachable server ends after one lifetime,
not one per name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import dns.asyncresolver
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver

RESOLVED, NXDOMAIN, NODATA = "resolved", "nxdomain", "nodata"
SERVFAIL, TIMEOUT, REFUSED, ERROR = "servfail", "timeout", "refused", "error"
DEFINITIVE = frozenset({RESOLVED, NXDOMAIN, NODATA})  # the name's owner said so; anything else: unknown

SYSTEM = "system resolver"
DEFAULT_TIMEOUT = 2.0
DEFAULT_LIFETIME = 5.0
DEFAULT_CONCURRENCY = 64
MAX_CHAIN = 16  # CNAME hops followed before giving up (loops)


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


@dataclass
class Resolver:
    """Asks every configured nameserver separately (split horizon shows as a difference)."""

    nameservers: list[str] = field(default_factory=list)  # HOST[:PORT]; empty: the system resolver
    timeout: float = DEFAULT_TIMEOUT  # per query attempt
    lifetime: float = DEFAULT_LIFETIME  # per question, retries included
    concurrency: int = DEFAULT_CONCURRENCY

    def __post_init__(self) -> None:
        self._cache: dict[tuple[str, str, str], asyncio.Task[Lookup]] = {}
        self._clients: dict[str, dns.asyncresolver.Resolver | Lookup] = {}
        self._answered: set[str] = set()
        self._dead: set[str] = set()
        self._slots: asyncio.Semaphore | None = None

    @property
    def servers(self) -> list[str]:
        return list(self.nameservers) or [SYSTEM]

    # -- the public entry point ---------------------------------------------------------------

    async def resolve_all(self, questions: Iterable[Question], *,
                          on_answer: Callable[[], None] | None = None) -> dict[Question, dict[str, NameAnswer]]:
        """question -> nameserver -> answer, for every question, all asked concurrently; `on_answer`
        is called as each question is answered (progress)."""
        self._slots = asyncio.Semaphore(self.concurrency)
        for server in self.servers:
            self._clients[server] = await self._client(server)
        questions = list(questions)

        async def answered(question: Question) -> dict[str, NameAnswer]:
            answer = await self.resolve(question)
            if on_answer is not None:
                on_answer()
            return answer

        answers = await asyncio.gather(*(answered(q) for q in questions))
        return dict(zip(questions, answers))

    async def resolve(self, question: Question) -> dict[str, NameAnswer]:
        servers = self.servers
        answers = await asyncio.gather(*(self._answer(server, question) for server in servers))
        return dict(zip(servers, answers))

    async def _answer(self, server: str, question: Question) -> NameAnswer:
        name = question.name.rstrip(".").lower()
        a, aaaa, caa = await asyncio.gather(
            self.lookup(server, name, "A") if question.addresses else asyncio.sleep(0, None),
            self.lookup(server, name, "AAAA") if question.addresses else asyncio.sleep(0, None),
            self.caa(server, name) if question.caa else asyncio.sleep(0, None))
        return NameAnswer(a=a, aaaa=aaaa, caa=caa)

    # -- CAA ------------------------------------------------------------------------------------

    async def caa(self, server: str, name: str) -> CaaSet:
        """The closest CAA set up the tree; a lookup error closer than it blocks issuance (RFC 8659)."""
        base = name.removeprefix("*.")
        labels = base.split(".")
        levels = [".".join(labels[i:]) for i in range(len(labels))]  # the name up to its TLD
        # All levels at once: the parents are shared by many names and cached
        lookups = await asyncio.gather(*(self.lookup(server, level, "CAA") for level in levels))
        for level, lookup in zip(levels, lookups):
            if not lookup.definitive:
                return CaaSet(lookup.status, owner=level, detail=lookup.detail)
            if lookup.status == RESOLVED and lookup.records:
                return CaaSet(RESOLVED, owner=level, records=lookup.records)
        return CaaSet(NODATA)

    # -- one question ---------------------------------------------------------------------------

    def lookup(self, server: str, name: str, rdtype: str) -> asyncio.Task[Lookup]:
        """The (cached) answer of one nameserver to one question, following CNAMEs to the end."""
        key = (server, name, rdtype)
        task = self._cache.get(key)
        if task is None:
            task = self._cache[key] = asyncio.ensure_future(self._follow(server, name, rdtype))
        return task

    async def _follow(self, server: str, name: str, rdtype: str) -> Lookup:
        deadline = None
        chain: list[str] = []
        current = name
        while True:
            async with self._slots:
                if deadline is None:  # the lifetime runs from the first query actually sent
                    deadline = time.monotonic() + self.lifetime
                lookup, target, authoritative_end = await self._query(server, current, rdtype, deadline)
            chain.extend(target)
            # An authoritative server answers a CNAME to a name outside its zones with the CNAME alone
            # (no SOA for the target): ask for the target, as a recursive resolver would.
            end = chain[-1] if chain else None
            if (lookup.status == NODATA and end and not authoritative_end and len(chain) < MAX_CHAIN
                    and end not in chain[:-1] and end != name):
                current = end
                continue
            return Lookup(lookup.status, lookup.records, tuple(chain), lookup.detail)

    async def _query(self, server: str, name: str, rdtype: str, deadline: float) -> tuple[Lookup, list[str], bool]:
        """(lookup of `name` alone, CNAME targets in the answer, whether the end is authoritative)."""
        client = self._clients[server]
        if isinstance(client, Lookup):
            return client, [], True
        if server in self._dead:
            return Lookup(TIMEOUT, detail=f"{server} answered nothing within {self.lifetime:g}s"), [], True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return Lookup(TIMEOUT, detail=f"no answer within {self.lifetime:g}s"), [], True
        try:
            async with asyncio.timeout(remaining):  # dnspython's backoff between retries can overshoot it
                answer = await client.resolve(dns.name.from_text(name), rdtype, raise_on_no_answer=False,
                                              lifetime=remaining, search=False)
        except dns.resolver.NXDOMAIN as exc:
            self._answered.add(server)
            response = next(iter(exc.responses().values()), None)
            return Lookup(NXDOMAIN), _cname_chain(name, response), True
        except (dns.resolver.LifetimeTimeout, TimeoutError):
            if server not in self._answered:
                self._dead.add(server)
            return Lookup(TIMEOUT, detail=f"no answer within {self.lifetime:g}s"), [], True
        except dns.resolver.NoNameservers as exc:
            return _failure(exc), [], True
        except dns.exception.DNSException as exc:
            return Lookup(ERROR, detail=str(exc) or type(exc).__name__), [], True
        except OSError as exc:
            return Lookup(ERROR, detail=str(exc)), [], True
        self._answered.add(server)
        response = answer.response
        chain = _cname_chain(name, response)
        if answer.rrset is None:
            authoritative = any(r.rdtype == dns.rdatatype.SOA for r in response.authority)
            return Lookup(NODATA), chain, authoritative
        return Lookup(RESOLVED, _records(answer.rrset, rdtype)), chain, True

    async def _client(self, server: str) -> dns.asyncresolver.Resolver | Lookup:
        """A dnspython resolver for one nameserver, or the Lookup every question gets when it is unusable."""
        if server == SYSTEM:
            try:
                client = dns.asyncresolver.Resolver()
            except (dns.exception.DNSException, OSError) as exc:
                return Lookup(ERROR, detail=f"no system resolver: {exc}")
        else:
            host, port = split_nameserver(server)
            try:
                ipaddress.ip_address(host)
                address = host
            except ValueError:  # a host name: find its address once, with the system's resolver
                try:
                    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_DGRAM)
                    address = infos[0][4][0]
                except OSError as exc:
                    return Lookup(ERROR, detail=f"cannot find the address of nameserver {host}: {exc}")
            client = dns.asyncresolver.Resolver(configure=False)
            client.nameservers = [address]
            client.port = port
        client.cache = None  # the run's own cache is `self._cache`
        client.timeout = self.timeout
        client.lifetime = self.lifetime
        client.retry_servfail = False
        return client


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


def _cname_chain(name: str, response: dns.message.Message | None) -> list[str]:
    if response is None:
        return []
    cnames = {r.name.to_text(omit_final_dot=True).lower(): r[0].target.to_text(omit_final_dot=True).lower()
              for r in response.answer if r.rdtype == dns.rdatatype.CNAME and len(r)}
    chain: list[str] = []
    current = name
    while current in cnames and len(chain) < MAX_CHAIN:
        current = cnames[current]
        chain.append(current)
    return chain


def _records(rrset, rdtype: str) -> tuple:
    if rdtype == "CAA":
        return tuple(sorted((r.flags, r.tag.decode("ascii", "replace").lower(),
                             r.value.decode("utf-8", "replace")) for r in rrset))
    return tuple(sorted({str(ipaddress.ip_address(r.address)) for r in rrset}))


def _failure(exc: dns.resolver.NoNameservers) -> Lookup:
    """SERVFAIL / REFUSED / a network error, from what the nameserver did."""
    errors = exc.kwargs.get("errors") or []
    for _, _, _, error, _ in errors:
        if error == "SERVFAIL":
            return Lookup(SERVFAIL, detail="the nameserver answered SERVFAIL")
        if error == "REFUSED":
            return Lookup(REFUSED, detail="the nameserver answered REFUSED")
    details = [str(error) if not isinstance(error, str) else f"the nameserver answered {error}"
               for _, _, _, error, _ in errors]
    return Lookup(ERROR, detail="; ".join(dict.fromkeys(details)) or "no nameserver could answer")
