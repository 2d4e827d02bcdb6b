"""Resolve many names at once: CNAME chain, A, AAAA and CAA per name, per nameserver.

Every failure is a value (`Lookup.status`), never an exception, so a lookup that could not be made
is reported as "could not verify" and never passes. Questions run concurrently (bounded), each
(nameserver, name, type) is asked once per run, and a nameserver that has not answered anything
within one lifetime is given up on, so a run against an unreachable server ends after one lifetime,
not one per name.

The stub resolver is our own: one connected UDP socket per nameserver for the whole run, queries
multiplexed on it by random id, TCP only after a truncated answer. dnspython's resolver opened a
socket and built and parsed full message objects per query, which cost more CPU than the DNS server
answering (slower than a plain sequential loop on loopback). Answers are parsed by a small, bounds-
checked reader that only understands what the checks need (CNAME, A, AAAA, CAA, SOA presence); an
answer that is not the answer to our question (wrong id, other question, malformed, larger than we
allowed, from another address) is ignored, as dnspython ignores it, and the question times out; an
answer that is well formed but inconsistent (records about other names, NXDOMAIN with records,
CNAME loops) is an error. Either way: could not verify, never a pass.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import re
import secrets
import socket
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from gate.probes.dns_answers import (  # noqa: F401 - the probe's values, importable from here too
    DEFINITIVE,
    ERROR,
    NODATA,
    NXDOMAIN,
    REFUSED,
    RESOLVED,
    SERVFAIL,
    TIMEOUT,
    CaaSet,
    Lookup,
    NameAnswer,
    Question,
    parse_address,
    parse_nameserver,
    split_nameserver,
)

SYSTEM = "system resolver"
DEFAULT_TIMEOUT = 2.0
DEFAULT_LIFETIME = 5.0
# Questions in flight per run. Through 20 ms of latency 1,000 names (3,000+ questions) need a few hundred
# in flight to finish in about a second; public resolvers take this from one client.
DEFAULT_CONCURRENCY = 256
MAX_CHAIN = 16  # CNAME hops followed before giving up (loops)
# Bounds of any wait, whatever the caller passes: the policy schema refuses the rest, but a resolver fed
# .inf would wait forever on a silent nameserver and one fed NaN compares false everywhere (no query sent)
MIN_WAIT, MAX_WAIT = 0.01, 60.0
# EDNS0 UDP payload we advertise: the DNS flag day 2020 value, which avoids IP fragmentation; a larger
# UDP answer breaks RFC 6891 (6.2.5) and is not taken
PAYLOAD = 1232
RECEIVE_BUFFER = 4 << 20  # bytes asked for the UDP socket; Linux caps it at net.core.rmem_max

_A, _CNAME, _SOA, _AAAA, _DNAME, _OPT, _RRSIG, _CAA = 1, 5, 6, 28, 39, 41, 46, 257
_TYPES = {"A": _A, "AAAA": _AAAA, "CAA": _CAA, "CNAME": _CNAME}
_IN = 1
_RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}



@dataclass
class Resolver:
    """Asks every configured nameserver separately (split horizon shows as a difference)."""

    nameservers: list[str] = field(default_factory=list)  # HOST[:PORT]; empty: the system resolver
    timeout: float = DEFAULT_TIMEOUT  # per query attempt
    lifetime: float = DEFAULT_LIFETIME  # per question, retries included
    concurrency: int = DEFAULT_CONCURRENCY

    def __post_init__(self) -> None:
        self.timeout = bounded_wait(self.timeout, DEFAULT_TIMEOUT)
        self.lifetime = bounded_wait(self.lifetime, DEFAULT_LIFETIME)
        self.concurrency = max(1, int(self.concurrency)) if isinstance(self.concurrency, int) else DEFAULT_CONCURRENCY
        self._cache: dict[tuple[str, str, str], asyncio.Future[Lookup]] = {}
        self._clients: dict[str, list[_Channel] | Lookup] = {}
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
        try:
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
        finally:
            for client in self._clients.values():
                for channel in client if isinstance(client, list) else ():
                    channel.close()

    async def resolve(self, question: Question) -> dict[str, NameAnswer]:
        servers = self.servers
        answers = await asyncio.gather(*(self._answer(server, question) for server in servers))
        return dict(zip(servers, answers))

    async def _answer(self, server: str, question: Question) -> NameAnswer:
        name = question.name.rstrip(".").lower()
        a, aaaa, caa = await asyncio.gather(
            self.lookup(server, name, "A") if question.addresses else _none(),
            self.lookup(server, name, "AAAA") if question.addresses else _none(),
            self.caa(server, name) if question.caa else _none())
        return NameAnswer(a=a, aaaa=aaaa, caa=caa)

    # -- CAA ------------------------------------------------------------------------------------

    async def caa(self, server: str, name: str) -> CaaSet:
        """The closest CAA set up the tree; a lookup error closer than it blocks issuance (RFC 8659)."""
        base = name.removeprefix("*.")
        labels = base.split(".")
        levels = [".".join(labels[i:]) for i in range(len(labels))]  # the name up to its TLD
        # All levels at once, each through the run's cache: the parents (example.com, com) are shared by
        # many names and asked once per run, not once per name
        lookups = await asyncio.gather(*(self.lookup(server, level, "CAA") for level in levels))
        for level, lookup in zip(levels, lookups):
            if not lookup.definitive:
                return CaaSet(lookup.status, owner=level, detail=lookup.detail)
            if lookup.status == RESOLVED and lookup.records:
                return CaaSet(RESOLVED, owner=level, records=lookup.records)
        return CaaSet(NODATA)

    # -- one question ---------------------------------------------------------------------------

    def lookup(self, server: str, name: str, rdtype: str) -> asyncio.Future[Lookup]:
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
                lookup, targets, authoritative_end = await self._query(server, current, rdtype, deadline)
            for target in targets:
                # A loop never ends in an address: a resolver answers SERVFAIL for it, so do we (unknown)
                if target == name or target in chain:
                    return Lookup(ERROR, (), tuple(chain + [target]), f"CNAME loop at {target}")
                chain.append(target)
                if len(chain) > MAX_CHAIN:
                    return Lookup(ERROR, (), tuple(chain), f"CNAME chain longer than {MAX_CHAIN}")
            # An authoritative server answers a CNAME to a name outside its zones with the CNAME alone
            # (no SOA for the target): ask for the target, as a recursive resolver would.
            if lookup.status == NODATA and chain and targets and not authoritative_end:
                current = chain[-1]
                continue
            return Lookup(lookup.status, lookup.records, tuple(chain), lookup.detail)

    async def _query(self, server: str, name: str, rdtype: str, deadline: float) -> tuple[Lookup, list[str], bool]:
        """(lookup of `name` alone, CNAME targets in the answer, whether the end is authoritative)."""
        client = self._clients[server]
        if isinstance(client, Lookup):
            return client, [], True
        failure: Lookup | None = None  # an address of the system resolver that failed; others may answer
        attempt = 0
        wire_name = _wire_name(name)
        if wire_name is None:
            return Lookup(ERROR, detail=f"{name!r} is not a DNS name"), [], True
        while True:
            if server in self._dead:  # written off while this question waited for a slot, or between attempts
                why = "no answer within" if attempt else f"{server} answered nothing within"
                return Lookup(TIMEOUT, detail=f"{why} {self.lifetime:g}s"), [], True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if failure is not None:
                    return failure, [], True
                if server not in self._answered:
                    self._dead.add(server)
                ignored = sum(channel.ignored for channel in client)
                note = f" ({ignored} unusable answers ignored)" if ignored else ""
                return Lookup(TIMEOUT, detail=f"no answer within {self.lifetime:g}s{note}"), [], True
            channel = client[attempt % len(client)]  # the system resolver's addresses in turn
            attempt += 1
            try:
                response = await channel.ask(wire_name, _TYPES[rdtype], min(self.timeout, remaining), deadline)
            except _NoAnswer:
                continue  # this attempt timed out: again, while the lifetime lasts
            except OSError as exc:  # refused connection, unreachable network, a reset TCP connection
                failure = Lookup(ERROR, detail=f"{channel.where}: {exc.strerror or exc}")
                if len(client) == 1:
                    return failure, [], True
                continue
            self._answered.add(server)
            lookup, targets, authoritative = _interpret(name, _TYPES[rdtype], response)
            if lookup.status in (SERVFAIL, REFUSED) and attempt < len(client):
                failure = lookup
                continue  # the system resolver's next address may answer
            return lookup, targets, authoritative

    async def _client(self, server: str) -> list[_Channel] | Lookup:
        """The channels to one nameserver (several addresses for the system resolver), or the Lookup every
        question gets when it is unusable."""
        if server == SYSTEM:
            # dnspython only reads the system's configuration (resolv.conf); imported here, as a run
            # with --nameserver never needs it
            import dns.exception
            import dns.resolver

            try:
                system = dns.resolver.Resolver()
            except (dns.exception.DNSException, OSError) as exc:
                return Lookup(ERROR, detail=f"no system resolver: {exc}")
            targets = []
            for address in system.nameservers:
                try:
                    targets.append((str(ipaddress.ip_address(str(address))), system.port))
                except ValueError:
                    continue  # a DNS-over-HTTPS URL or the like: not plain DNS
            if not targets:
                return Lookup(ERROR, detail="no system resolver: no nameserver address in its configuration")
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
            targets = [(address, port)]
        channels = []
        for address, port in targets:
            channel = _Channel(address, port)
            try:
                await channel.open()
            except OSError as exc:
                channel.close()
                if len(targets) == 1:
                    return Lookup(ERROR, detail=f"{channel.where}: {exc.strerror or exc}")
                continue
            channels.append(channel)
        return channels or Lookup(ERROR, detail="no nameserver could be reached")


async def _none() -> None:
    return None


def bounded_wait(value: object, default: float) -> float:
    """Seconds to wait, finite and within [MIN_WAIT, MAX_WAIT]; NaN or a non-number gives `default`."""
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        seconds = default
    if math.isnan(seconds):
        seconds = default
    return min(max(seconds, MIN_WAIT), MAX_WAIT)


# -- the wire: one UDP channel per nameserver address, TCP after truncation ---------------------------

class _NoAnswer(Exception):
    """This attempt got no usable answer in time."""


@dataclass(slots=True)
class _Response:
    """The parts of an answer to our question the checks need."""

    rcode: int
    truncated: bool
    answer: list[tuple[str, int, int, object]]  # (owner, type, class, CNAME target text or rdata bytes)
    soa: bool  # an SOA in the authority section: the end of the chain was answered with authority


class _Channel(asyncio.DatagramProtocol):
    """One connected UDP socket to one nameserver address, shared by every question of the run.

    Connected: the kernel drops datagrams from any other address or port. Each query has a random id; an
    answer counts only when its id is pending, it is a response to a QUERY, its question is ours and it is
    no larger than the payload we advertised. Anything else is counted as ignored and the query waits on.
    """

    def __init__(self, address: str, port: int) -> None:
        self.address, self.port = address, port
        self.where = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: dict[int, tuple[bytes, int, int, asyncio.Future]] = {}
        self.ignored = 0

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(lambda: self, remote_addr=(self.address, self.port))
        # Hundreds of answers can arrive while the loop is busy parsing: the default receive buffer (about
        # 200 KiB, some 250 small datagrams) overflows on loopback and each dropped answer costs a timeout
        sock = self.transport.get_extra_info("socket")
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        except OSError:
            pass  # the kernel keeps its default

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self._fail_all(_NoAnswer())

    def datagram_received(self, data: bytes, addr) -> None:
        entry = self.pending.get(int.from_bytes(data[:2], "big")) if len(data) >= 12 else None
        if entry is None:
            self.ignored += 1
            return
        wire_name, qtype, limit, future = entry
        response = _parse(data, wire_name, qtype) if len(data) <= limit else None
        if response is None:
            self.ignored += 1
        elif not future.done():
            future.set_result(response)

    def error_received(self, exc: Exception) -> None:
        # ICMP port or host unreachable on a connected socket: every question in flight to it fails alike
        self._fail_all(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail_all(exc or _NoAnswer())

    def _fail_all(self, exc: BaseException) -> None:
        for _, _, _, future in self.pending.values():
            if not future.done():
                future.set_exception(exc)

    async def ask(self, wire_name: bytes, qtype: int, wait: float, deadline: float, edns: bool = True) -> _Response:
        """One attempt: the answer over UDP (over TCP when truncated); _NoAnswer when none came in `wait`."""
        loop = asyncio.get_running_loop()
        qid = secrets.randbits(16)
        while qid in self.pending:
            qid = secrets.randbits(16)
        query = _query_wire(qid, wire_name, qtype, edns)
        future = loop.create_future()
        self.pending[qid] = (wire_name, qtype, PAYLOAD if edns else 512, future)
        timer = loop.call_later(wait, _expire, future)
        try:
            if self.transport is None or self.transport.is_closing():
                raise OSError("the socket to the nameserver is closed")
            self.transport.sendto(query)
            response = await future
        finally:
            timer.cancel()
            del self.pending[qid]
        if response.truncated:
            response = await self._tcp(qid, query, wire_name, qtype, deadline)
        if response.rcode == 1 and edns:  # FORMERR to EDNS: a server from before EDNS (RFC 6891 section 7)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _NoAnswer()
            return await self.ask(wire_name, qtype, min(wait, remaining), deadline, edns=False)
        return response

    async def _tcp(self, qid: int, query: bytes, wire_name: bytes, qtype: int, deadline: float) -> _Response:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _NoAnswer()
        writer = None
        try:
            async with asyncio.timeout(remaining):
                reader, writer = await asyncio.open_connection(self.address, self.port)
                writer.write(len(query).to_bytes(2, "big") + query)
                await writer.drain()
                size = int.from_bytes(await reader.readexactly(2), "big")
                data = await reader.readexactly(size)
        except TimeoutError:
            raise _NoAnswer() from None
        except asyncio.IncompleteReadError:
            raise OSError("the answer over TCP ended early (after a truncated UDP answer)") from None
        finally:
            if writer is not None:
                writer.transport.abort()
        response = _parse(data, wire_name, qtype)
        if response is None or int.from_bytes(data[:2], "big") != qid or response.truncated:
            raise OSError("the answer over TCP (after a truncated UDP answer) is not an answer to the question")
        return response


def _expire(future: asyncio.Future) -> None:
    if not future.done():
        future.set_exception(_NoAnswer())


def _wire_name(name: str) -> bytes | None:
    """The query name in wire form, lower-cased; None when it cannot be one (label or name too long)."""
    out = bytearray()
    for label in name.rstrip(".").lower().split("."):
        try:
            raw = label.encode("ascii")
        except UnicodeEncodeError:
            try:
                raw = label.encode("idna")
            except UnicodeError:
                return None
        if not 0 < len(raw) < 64:
            return None
        out += bytes([len(raw)]) + raw
    out.append(0)
    return bytes(out) if len(out) <= 255 else None


def _query_wire(qid: int, wire_name: bytes, qtype: int, edns: bool) -> bytes:
    # RD set: the nameservers given are normally recursive resolvers; an authoritative server ignores it
    header = struct.pack("!6H", qid, 0x0100, 1, 0, 0, 1 if edns else 0)
    opt = b"\x00" + struct.pack("!HHIH", _OPT, PAYLOAD, 0, 0) if edns else b""
    return header + wire_name + struct.pack("!HH", qtype, _IN) + opt


class _Malformed(Exception):
    pass


_PLAIN_LABEL = re.compile(rb"[a-z0-9_*-]+")


def _label_text(label: bytes) -> str:
    label = label.lower()
    if _PLAIN_LABEL.fullmatch(label):
        return label.decode("ascii")
    # as dnspython writes it: special characters escaped, other bytes as \DDD
    return "".join("\\" + chr(b) if chr(b) in '."\\()@;$' else chr(b) if 0x20 < b < 0x7F else f"\\{b:03d}"
                   for b in label)


def _name(wire: bytes, offset: int) -> tuple[str, int]:
    """(name as lower-case text without the final dot, offset after it) from a message, compression included."""
    labels = []
    after = None
    limit = offset  # every pointer must point before the last one's target: compression cannot loop
    total = 1
    while True:
        length = wire[offset]
        if length == 0:
            offset += 1
            break
        if length >= 0xC0:
            pointer = ((length & 0x3F) << 8) | wire[offset + 1]
            if after is None:
                after = offset + 2
            if pointer >= limit:
                raise _Malformed("bad compression pointer")
            limit = offset = pointer
            continue
        if length & 0xC0:  # 0x40 and 0x80: label types that are not in use
            raise _Malformed("unknown label type")
        label = wire[offset + 1:offset + 1 + length]
        total += length + 1
        if len(label) != length or total > 255:
            raise _Malformed("label beyond the message, or name longer than 255")
        labels.append(_label_text(label))
        offset += 1 + length
    return ".".join(labels), offset if after is None else after


def _parse(wire: bytes, wire_name: bytes, qtype: int) -> _Response | None:
    """The answer, when `wire` is a well-formed response to the question (wire_name, qtype, IN); else None."""
    try:
        _, flags, qdcount, ancount, nscount, arcount = struct.unpack_from("!6H", wire)
        if not flags & 0x8000 or (flags >> 11) & 0xF or qdcount != 1:
            return None  # not a response, not to a QUERY, or without our question echoed (RFC 1035 7.3)
        end = 12 + len(wire_name)
        if wire[12:end].lower() != wire_name or struct.unpack_from("!HH", wire, end) != (qtype, _IN):
            return None  # an answer to another question
        rcode, truncated = flags & 0xF, bool(flags & 0x0200)
        if truncated:
            return _Response(rcode, True, [], False)
        offset = end + 4
        answer = []
        for _ in range(ancount):
            owner, offset = _name(wire, offset)
            rtype, rclass, _, size = struct.unpack_from("!HHIH", wire, offset)
            offset += 10
            stop = offset + size
            if stop > len(wire):
                return None
            if rtype == _CNAME:
                target, after = _name(wire, offset)
                if after != stop:
                    return None
                answer.append((owner, rtype, rclass, target))
            else:
                answer.append((owner, rtype, rclass, wire[offset:stop]))
            offset = stop
        soa = False
        for index in range(nscount + arcount):  # the additional section (OPT, glue) is only checked for shape
            _, offset = _name(wire, offset)
            rtype, _, _, size = struct.unpack_from("!HHIH", wire, offset)
            offset += 10 + size
            if offset > len(wire):
                return None
            soa = soa or (rtype == _SOA and index < nscount)
        if offset != len(wire):
            return None  # bytes after the last record: not a message we understand (dnspython refuses it too)
        return _Response(rcode, False, answer, soa)
    except (struct.error, IndexError, _Malformed):
        return None


def _interpret(name: str, qtype: int, response: _Response) -> tuple[Lookup, list[str], bool]:
    """(lookup of `name` alone, CNAME targets from it in order, whether the end is authoritative)."""
    rcode = response.rcode
    if rcode == 2:
        return Lookup(SERVFAIL, detail="the nameserver answered SERVFAIL"), [], True
    if rcode == 5:
        return Lookup(REFUSED, detail="the nameserver answered REFUSED"), [], True
    if rcode not in (0, 3):
        return Lookup(ERROR, detail=f"the nameserver answered {_RCODES.get(rcode, f'rcode {rcode}')}"), [], True
    cnames: dict[str, str] = {}
    found: list[tuple[str, object]] = []
    stray: list[str] = []
    for owner, rtype, rclass, data in response.answer:
        if rtype in (_DNAME, _RRSIG):
            continue  # a DNAME comes with the CNAME it synthesizes; signatures are not validated here
        if rclass != _IN:
            stray.append(owner)
        elif rtype == _CNAME:
            if cnames.setdefault(owner, data) != data:
                return Lookup(ERROR, detail=f"the answer has two CNAMEs for {owner}"), [], True
        elif rtype == qtype:
            found.append((owner, data))
        else:
            stray.append(owner)
    targets: list[str] = []
    current = name
    while current in cnames and len(targets) <= MAX_CHAIN:
        current = cnames[current]
        targets.append(current)
        if current == name or current in targets[:-1]:
            break  # a loop: the caller reports it
    reached = {name, *targets}
    stray += [owner for owner in cnames if owner not in reached]
    stray += [owner for owner, _ in found if owner != current]
    if stray:  # a resolver answers with the chain of the question only; these are not about our name
        shown = ", ".join(sorted(set(stray))[:3])
        return Lookup(ERROR, detail=f"the answer holds records about other names ({shown})"), targets, True
    if rcode == 3:
        if found:
            return Lookup(ERROR, detail="the nameserver answered NXDOMAIN with records for the name"), targets, True
        return Lookup(NXDOMAIN), targets, True
    if not found:
        return Lookup(NODATA), targets, response.soa
    try:
        return Lookup(RESOLVED, _records([data for _, data in found], qtype)), targets, True
    except ValueError as exc:
        return Lookup(ERROR, detail=str(exc)), targets, True


def _records(items: list, qtype: int) -> tuple:
    if qtype == _CAA:
        records = set()
        for data in items:
            if len(data) < 2 or not 0 < data[1] <= len(data) - 2:
                raise ValueError("a malformed CAA record")
            tag = data[2:2 + data[1]].decode("ascii", "replace").lower()
            records.add((data[0], tag, data[2 + data[1]:].decode("utf-8", "replace")))
        return tuple(sorted(records))
    size = 4 if qtype == _A else 16
    if any(len(data) != size for data in items):
        raise ValueError(f"a malformed {'A' if qtype == _A else 'AAAA'} record")
    return tuple(sorted({str(ipaddress.ip_address(data)) for data in items}))
