"""A hostile DNS server for the tests: 127.0.0.1, UDP and TCP on one port, answering badly on purpose.

Questions the fault applies to (by default the A and AAAA of one name) get the fault of `mode`; every
other question gets a sane authoritative answer from `records` (NODATA with an SOA for names it does not
know), so the CAA walk and the load balancer's own lookups still work and only the fault is tested.
Bad answers carry addresses *within* the load balancer (192.0.2.10): a resolver that accepted one would
turn the check into a pass, which is what the tests must never see. Every query received is recorded.

Answers are built with dnspython's message classes; the few that dnspython refuses to write (repeated
records, compression loops, short rdata) are patched or assembled byte by byte.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import struct
import threading
import time
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

GOOD = "192.0.2.10"  # the load balancer address the tests expect: a bad answer that got through would pass
SOA = "ns.hostile.test. hostmaster.hostile.test. 1 3600 600 86400 60"

# mode -> what it does to a faulty question (see answer())
MODES = (
    "silent",                # no answer at all
    "truncated-tcp-silent",  # TC bit over UDP, then TCP accepts and never answers
    "truncated-tcp-closed",  # TC bit over UDP, then TCP closes without an answer
    "truncated-tcp-short",   # TC bit, then TCP announces more bytes than it sends
    "truncated-tcp-wrong",   # TC bit, then TCP answers another question
    "servfail", "refused", "notimp", "formerr",
    "wrong-id",              # the right answer with another id
    "wrong-question",        # an answer about another name in the question section
    "wrong-type",            # an answer to another record type
    "not-a-response",        # the QR bit unset (the query echoed back)
    "malformed",             # random bytes behind the right id
    "compression-loop",      # an owner name that is a pointer to itself
    "short-rdata",           # an A record of 3 bytes
    "huge",                  # a valid answer of 4,000 A records in one 64 KB UDP datagram, no TC
    "cname-loop",            # a CNAME b, b CNAME a, in one answer
    "cname-loop-split",      # each answer one hop of a loop, alone (as an authoritative server answers)
    "long-chain",            # 40 CNAMEs in one answer, ending in the good address
    "long-chain-split",      # an endless chain of fresh names, one hop per answer
    "other-name",            # NOERROR with an A record for another name
    "two-cnames",            # two different CNAMEs for the name
    "wrong-class",           # the A record in class CH
    "slow",                  # the right answer, after the lifetime
    "nxdomain-with-answer",  # NXDOMAIN carrying an A record for the name
    "flood-then-silent",     # 50 answers with wrong ids, then nothing
)


@dataclass(frozen=True)
class Query:
    protocol: str  # "udp" or "tcp"
    name: str  # lower case, no final dot
    rdtype: str
    payload: int | None = None  # the EDNS0 UDP payload size asked for; None without EDNS


class HostileDNS:
    """Starts on a free port; `queries` lists every question received (garbage as name "?")."""

    def __init__(self, mode: str, name: str = "app.example.com", *, types: tuple[str, ...] = ("A", "AAAA"),
                 everything: bool = False, delay: float = 5.0, records: dict[tuple[str, str], list[str]] | None = None):
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        self.mode, self.name, self.types, self.everything = mode, name, types, everything
        self.delay = delay  # how late "slow" answers
        self.records = records or {}
        self.queries: list[Query] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._held: list[socket.socket] = []  # TCP connections kept open without an answer
        self.udp, self.tcp = _bind_pair()
        self.port = self.udp.getsockname()[1]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> HostileDNS:
        for target in (self._serve_udp, self._serve_tcp):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        for sock in (self.udp, self.tcp, *self._held):
            with contextlib.suppress(OSError):
                sock.close()

    def faulty(self, query: Query) -> bool:
        return self.everything or (query.name == self.name and query.rdtype in self.types) or (
            self.mode in ("cname-loop-split", "long-chain-split") and query.name.endswith(".chain.test"))

    # -- serving ------------------------------------------------------------------------------------

    def _serve_udp(self) -> None:
        self.udp.settimeout(0.05)
        while not self._stop.is_set():
            try:
                data, client = self.udp.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            for delay, reply in self._replies(data, "udp"):
                if delay:
                    timer = threading.Timer(delay, self._send_late, (reply, client))
                    timer.daemon = True
                    timer.start()
                else:
                    self._send(reply, client)

    def _send(self, reply: bytes, client) -> None:
        with contextlib.suppress(OSError):
            self.udp.sendto(reply, client)

    def _send_late(self, reply: bytes, client) -> None:
        if not self._stop.is_set():
            self._send(reply, client)

    def _serve_tcp(self) -> None:
        self.tcp.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, _ = self.tcp.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._handle_tcp, args=(conn,), daemon=True)
            thread.start()

    def _handle_tcp(self, conn: socket.socket) -> None:
        conn.settimeout(2)
        try:
            size = struct.unpack("!H", _read(conn, 2))[0]
            data = _read(conn, size)
        except (OSError, struct.error):
            conn.close()
            return
        replies = self._replies(data, "tcp")
        if self.mode == "truncated-tcp-silent":
            with self._lock:
                self._held.append(conn)  # open, never answered, closed at stop()
            return
        with contextlib.suppress(OSError):
            for _, reply in replies:
                if self.mode == "truncated-tcp-short":
                    conn.sendall(struct.pack("!H", len(reply) + 100) + reply)
                else:
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
        conn.close()

    # -- answers ------------------------------------------------------------------------------------

    def _replies(self, data: bytes, protocol: str) -> list[tuple[float, bytes]]:
        """(delay, datagram) to send back for one query."""
        try:
            query = dns.message.from_wire(data)
            question = query.question[0]
        except (dns.exception.DNSException, IndexError, ValueError):  # garbage: nothing to answer
            with self._lock:
                self.queries.append(Query(protocol, "?", "?"))
            return []
        seen = Query(protocol, question.name.to_text(omit_final_dot=True).lower(),
                     dns.rdatatype.to_text(question.rdtype), query.payload if query.edns >= 0 else None)
        with self._lock:
            self.queries.append(seen)
        if not self.faulty(seen):
            return [(0, self._sane(query, seen).to_wire())]
        return self.answer(query, seen, protocol)

    def _sane(self, query: dns.message.Message, seen: Query) -> dns.message.Message:
        """An authoritative answer from `records`, NODATA with an SOA otherwise."""
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        values = self.records.get((seen.name, seen.rdtype), [])
        if values:
            response.answer.append(dns.rrset.from_text(seen.name + ".", 60, "IN", seen.rdtype, *values))
        else:
            response.authority.append(dns.rrset.from_text(".", 60, "IN", "SOA", SOA))
        return response

    def answer(self, query: dns.message.Message, seen: Query, protocol: str) -> list[tuple[float, bytes]]:
        mode = self.mode
        owner = seen.name + "."
        response = dns.message.make_response(query)
        good = dns.rrset.from_text(owner, 60, "IN", seen.rdtype, GOOD if seen.rdtype == "A" else "2001:db8::10") \
            if seen.rdtype in ("A", "AAAA") else None
        if good is not None:
            response.answer.append(good)

        if mode in ("silent", "flood-then-silent") and protocol == "udp":
            if mode == "flood-then-silent":
                return [(0, _with_id(response.to_wire(), query.id + 1 + i)) for i in range(50)]
            return []
        if mode.startswith("truncated-"):
            if protocol == "udp":
                truncated = dns.message.make_response(query)
                truncated.flags |= dns.flags.TC
                return [(0, truncated.to_wire())]
            if mode == "truncated-tcp-closed":
                return []
            if mode == "truncated-tcp-wrong":
                other = dns.message.make_query("other.example.com", seen.rdtype)
                other.id = query.id
                wrong = dns.message.make_response(other)
                wrong.answer.append(dns.rrset.from_text("other.example.com.", 60, "IN", "A", GOOD))
                return [(0, wrong.to_wire())]
            return [(0, response.to_wire())]
        if mode in ("servfail", "refused", "notimp", "formerr"):
            failed = dns.message.make_response(query)
            failed.set_rcode(dns.rcode.from_text(mode.upper()))
            return [(0, failed.to_wire())]
        if mode == "wrong-id":
            return [(0, _with_id(response.to_wire(), (query.id + 1) % 65536))]
        if mode == "wrong-question":
            other = dns.message.make_query("other.example.com", seen.rdtype)
            other.id = query.id
            wrong = dns.message.make_response(other)
            wrong.answer.append(dns.rrset.from_text("other.example.com.", 60, "IN", "A", GOOD))
            return [(0, wrong.to_wire())]
        if mode == "wrong-type":
            other = dns.message.make_query(owner, "TXT" if seen.rdtype != "TXT" else "A")
            other.id = query.id
            wrong = dns.message.make_response(other)
            wrong.answer.append(dns.rrset.from_text(owner, 60, "IN", "A", GOOD))
            return [(0, wrong.to_wire())]
        if mode == "not-a-response":
            echoed = dns.message.make_query(owner, seen.rdtype)
            echoed.id = query.id
            echoed.answer.append(dns.rrset.from_text(owner, 60, "IN", "A", GOOD))
            return [(0, echoed.to_wire())]
        if mode == "malformed":
            return [(0, data) for data in (query.to_wire()[:2] + os.urandom(40),
                                            _with_id(b"\x81\x80" + b"\x00\x01" * 4 + b"\xff" * 8, query.id),
                                            response.to_wire()[:-3])]
        if mode == "compression-loop":
            wire = bytearray(_header(query.id, 0x8180, 1, 1, 0, 0) + _question(query))
            here = len(wire)
            wire += struct.pack("!H", 0xC000 | here) + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(GOOD)
            return [(0, bytes(wire))]
        if mode == "short-rdata":
            wire = bytearray(_header(query.id, 0x8180, 1, 1, 0, 0) + _question(query))
            wire += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 3) + b"\xc0\x00\x02"
            return [(0, bytes(wire))]
        if mode == "huge":
            count = 4000
            wire = bytearray(_header(query.id, 0x8180, 1, count, 0, 0) + _question(query))
            record = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(GOOD)
            wire += record * count
            return [(0, bytes(wire))]
        if mode in ("cname-loop", "long-chain", "two-cnames"):
            chained = dns.message.make_response(query)
            if mode == "cname-loop":
                chained.answer.append(dns.rrset.from_text(owner, 60, "IN", "CNAME", "b.loop.test."))
                chained.answer.append(dns.rrset.from_text("b.loop.test.", 60, "IN", "CNAME", owner))
            elif mode == "two-cnames":
                # a CNAME set holds one record: dnspython keeps the last, so two sets are written
                chained.answer.append(dns.rrset.from_text(owner, 60, "IN", "CNAME", "one.example.net."))
                chained.answer.append(dns.rrset.from_text(owner, 60, "IN", "CNAME", "two.example.net."))
            else:
                hops = [owner] + [f"h{i}.long.test." for i in range(40)]
                for here, there in itertools.pairwise(hops):
                    chained.answer.append(dns.rrset.from_text(here, 60, "IN", "CNAME", there))
                if good is not None:
                    chained.answer.append(dns.rrset.from_text(hops[-1], 60, "IN", seen.rdtype, good[0].to_text()))
            return [(0, chained.to_wire())]
        if mode in ("cname-loop-split", "long-chain-split"):
            hop = dns.message.make_response(query)
            if mode == "cname-loop-split":  # app -> a.chain.test -> b.chain.test -> app
                target = {"a.chain.test": "b.chain.test.", "b.chain.test": self.name + "."}.get(
                    seen.name, "a.chain.test.")
            else:  # app -> h0.chain.test -> h1.chain.test -> ... never ending
                number = int(seen.name.split(".")[0][1:]) + 1 if seen.name.endswith(".chain.test") else 0
                target = f"h{number}.chain.test."
            hop.answer.append(dns.rrset.from_text(owner, 60, "IN", "CNAME", target))
            return [(0, hop.to_wire())]  # the CNAME alone, no SOA: the resolver asks for the target
        if mode == "other-name":
            other = dns.message.make_response(query)
            other.answer.append(dns.rrset.from_text("other.example.com.", 60, "IN", "A", GOOD))
            return [(0, other.to_wire())]
        if mode == "wrong-class":
            chaos = dns.message.make_response(query)
            chaos.answer.append(dns.rrset.from_rdata(owner, 60, dns.rdata.GenericRdata(
                dns.rdataclass.CH, dns.rdatatype.A, socket.inet_aton(GOOD))))
            return [(0, chaos.to_wire())]
        if mode == "slow":
            return [(self.delay, response.to_wire())]
        if mode == "nxdomain-with-answer":
            response.set_rcode(dns.rcode.NXDOMAIN)
            return [(0, response.to_wire())]
        return []


def _bind_pair() -> tuple[socket.socket, socket.socket]:
    """UDP bound to port 0 (the kernel picks), and TCP on the same port."""
    for _ in range(50):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            tcp.bind(("127.0.0.1", udp.getsockname()[1]))
        except OSError:
            udp.close()
            tcp.close()
            continue
        tcp.listen(16)
        return udp, tcp
    raise RuntimeError("no port free for both UDP and TCP")


def _read(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise OSError("closed")
        data += chunk
    return data


def _with_id(wire: bytes, qid: int) -> bytes:
    return struct.pack("!H", qid % 65536) + wire[2:]


def _header(qid: int, flags: int, qd: int, an: int, ns: int, ar: int) -> bytes:
    return struct.pack("!6H", qid, flags, qd, an, ns, ar)


def _question(query: dns.message.Message) -> bytes:
    question = query.question[0]
    return question.name.to_wire() + struct.pack("!HH", question.rdtype, question.rdclass)


class Destinations:
    """Where sockets created while it is installed connect or send to (socket.socket replaced)."""

    def __init__(self, monkeypatch) -> None:
        self.seen: list[tuple] = []
        seen = self.seen
        base = socket.socket

        class Spy(base):
            def connect(self, address):
                seen.append(("connect", self.type, address[:2]))
                return super().connect(address)

            def connect_ex(self, address):
                seen.append(("connect", self.type, address[:2]))
                return super().connect_ex(address)

            def sendto(self, data, *args):
                seen.append(("sendto", self.type, args[-1][:2]))
                return super().sendto(data, *args)

        monkeypatch.setattr(socket, "socket", Spy)

    def addresses(self) -> set[tuple]:
        return {address for _, _, address in self.seen}


def wait_for(predicate, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


try:
    import pytest
except ImportError:  # the server itself needs no pytest
    pytest = None

if pytest is not None:
    @pytest.fixture
    def hostile():
        """A factory: hostile(mode, ...) starts a HostileDNS; every server is stopped afterwards."""
        servers: list[HostileDNS] = []

        def start(mode: str, name: str = "app.example.com", **kwargs) -> HostileDNS:
            server = HostileDNS(mode, name, **kwargs).start()
            servers.append(server)
            return server

        yield start
        for server in servers:
            server.stop()
