"""The resolver against a real knot server: statuses, CNAME chains, CAA walks, caching, failures as values."""
# ruff: noqa: F811 - the hostile fixture is imported by name

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dns_server import HAVE_KNOT, KNOTC, NO_KNOT
from hostile_dns import MODES, Destinations, hostile  # noqa: F401 - hostile: a fixture

from gate.probes.dns import (
    ERROR,
    NODATA,
    NXDOMAIN,
    REFUSED,
    RESOLVED,
    SERVFAIL,
    TIMEOUT,
    Question,
    Resolver,
    bounded_wait,
    parse_address,
    split_nameserver,
)

# knot-backed tests skip themselves (the `knot` fixture) when knot is not installed

ZONE = """
lb.elb.test. A 192.0.2.10
lb.elb.test. AAAA 2001:db8::10
direct.example.com. A 192.0.2.10
chain.example.com. CNAME hop.example.net.
hop.example.net. CNAME LB.elb.test.
gone.example.com. CNAME nothing.example.net.
nodata.example.com. TXT "no address here"
both.example.com. A 192.0.2.10
both.example.com. AAAA 2001:db8::dead
*.wild.example.com. A 192.0.2.10
example.com. CAA 0 issue "letsencrypt.org"
own.example.com. A 192.0.2.10
own.example.com. CAA 0 issue "pki.goog"
cname-caa.example.com. CNAME caa-target.example.net.
caa-target.example.net. CAA 0 issue "sectigo.com"
caa-target.example.net. A 192.0.2.10
"""


def resolve(servers, *questions, timeout=1.0, lifetime=2.0, **kwargs):
    resolver = Resolver(nameservers=[s.address for s in servers], timeout=timeout, lifetime=lifetime, **kwargs)
    return asyncio.run(resolver.resolve_all(questions))


def one(server, name, caa=False, **kwargs):
    answers = resolve([server], Question(name, caa=caa), **kwargs)
    return answers[Question(name, caa=caa)][server.address]


def test_direct_a_and_aaaa(knot):
    """A name with A and AAAA records resolves to both address sets, with no CNAME chain."""
    answer = one(knot(ZONE), "both.example.com")
    assert (answer.a.status, answer.a.records, answer.a.chain) == (RESOLVED, ("192.0.2.10",), ())
    assert (answer.aaaa.status, answer.aaaa.records) == (RESOLVED, ("2001:db8::dead",))


def test_cname_chain_is_followed_in_order(knot):
    """Each CNAME target is recorded in order (lower-cased, no trailing dot), ending in the target's A."""
    answer = one(knot(ZONE), "Chain.Example.com.")
    assert answer.a.chain == ("hop.example.net", "lb.elb.test")
    assert answer.a.records == ("192.0.2.10",)
    assert answer.aaaa.records == ("2001:db8::10",)


def test_cname_into_another_zone_is_followed(knot):
    """A CNAME an authoritative server answers alone (target in another of its zones) is asked for again."""
    server = knot(zones={"example.com.": "www CNAME lb.example.net.\nout CNAME lb.elsewhere.test.",
                         "example.net.": "lb A 192.0.2.10"})
    answer = one(server, "www.example.com")
    assert (answer.a.status, answer.a.chain, answer.a.records) == (RESOLVED, ("lb.example.net",), ("192.0.2.10",))
    outside = one(server, "out.example.com").a  # the target is in none of its zones: REFUSED, chain kept
    assert (outside.status, outside.chain) == (REFUSED, ("lb.elsewhere.test",))


def test_nxdomain_and_dangling_cname(knot):
    """A name that does not exist is NXDOMAIN; a CNAME to nothing is NXDOMAIN with its chain."""
    server = knot(ZONE)
    assert one(server, "missing.example.com").a.status == NXDOMAIN
    gone = one(server, "gone.example.com").a
    assert (gone.status, gone.chain) == (NXDOMAIN, ("nothing.example.net",))


def test_nodata(knot):
    """A name with records but no A is NODATA, distinct from NXDOMAIN."""
    answer = one(knot(ZONE), "nodata.example.com")
    assert (answer.a.status, answer.a.records) == (NODATA, ())
    assert answer.aaaa.status == NODATA


def test_wildcard_records_answer_any_label(knot):
    """A name covered by a wildcard record resolves through it."""
    answer = one(knot(ZONE), "anything.wild.example.com")
    assert answer.a.records == ("192.0.2.10",)


def test_caa_closest_set_up_the_tree(knot):
    """CAA comes from the name itself when it has a set, else from the closest parent, else none."""
    server = knot(ZONE)
    own = one(server, "own.example.com", caa=True).caa
    assert (own.status, own.owner, own.records) == (RESOLVED, "own.example.com", ((0, "issue", "pki.goog"),))
    inherited = one(server, "deep.sub.direct.example.com", caa=True).caa
    assert (inherited.owner, inherited.records) == ("example.com", ((0, "issue", "letsencrypt.org"),))
    wildcard = one(server, "*.wild.example.com", caa=True).caa
    assert wildcard.owner == "example.com"
    none = one(server, "lb.elb.test", caa=True).caa
    assert none.status == NODATA and none.records == ()


def test_caa_follows_cname(knot):
    """The CAA set of a CNAME is its target's (RFC 8659), before any parent of the name."""
    caa = one(knot(ZONE), "cname-caa.example.com", caa=True).caa
    assert (caa.owner, caa.records) == ("cname-caa.example.com", ((0, "issue", "sectigo.com"),))


def test_servfail_is_a_value(knot):
    """A SERVFAIL answer is a servfail lookup, for addresses and for the CAA walk alike."""
    answer = one(knot(ZONE), "www.servfail.test", caa=True)
    assert answer.a.status == SERVFAIL
    assert (answer.caa.status, answer.caa.owner) == (SERVFAIL, "www.servfail.test")


def test_refused_outside_the_servers_zones(knot):
    """An authoritative server asked about a name outside its zones answers REFUSED: a value too."""
    server = knot(ZONE)
    server.knotc("conf-begin")
    server.knotc("conf-unset", "zone[.]")
    server.knotc("conf-commit")
    assert one(server, "direct.example.com").a.status == REFUSED


def test_live_changes_are_seen_by_the_next_run(knot):
    """Records changed through knotc are what the next run sees (no cache across runs)."""
    server = knot(ZONE)
    assert one(server, "direct.example.com").a.records == ("192.0.2.10",)
    server.change(unset=["direct.example.com. A"], set=["direct.example.com. 60 A 198.51.100.4"])
    assert one(server, "direct.example.com").a.records == ("198.51.100.4",)


def test_each_question_is_asked_once_per_run(knot):
    """Shared CAA parents and repeated questions reach the server once per (name, type)."""
    server = knot(ZONE)
    before = server.queries()
    names = [f"n{i}.direct.example.com" for i in range(5)]
    resolve([server], *(Question(n, caa=True) for n in names), Question("direct.example.com", caa=True))
    # 6 names x (A, AAAA, CAA) + the shared parents example.com and com, once each
    assert server.queries() - before == 6 * 3 + 2


def test_tcp_fallback_on_truncation(knot):
    """An answer too big for UDP is fetched again over TCP and is complete."""
    many = "\n".join(f"big.example.com. A 10.0.{i // 250}.{i % 250 + 1}" for i in range(120))
    server = knot(ZONE + many)
    answer = one(server, "big.example.com")
    assert answer.a.status == RESOLVED and len(answer.a.records) == 120
    stats = subprocess.run([KNOTC, "-c", str(server.conf), "stats", "mod-stats.request-protocol"],
                           capture_output=True, text=True, check=True).stdout
    assert "tcp4" in stats


def test_two_servers_answer_separately(knot):
    """With several nameservers each one's answer is kept, so a disagreement is visible."""
    inside = knot(ZONE, name="inside")
    outside = knot(ZONE.replace("direct.example.com. A 192.0.2.10", "direct.example.com. A 203.0.113.5"),
                   name="outside")
    answers = resolve([inside, outside], Question("direct.example.com"))[Question("direct.example.com")]
    assert answers[inside.address].a.records == ("192.0.2.10",)
    assert answers[outside.address].a.records == ("203.0.113.5",)


def test_stopped_server_is_an_error_value(knot):
    """A server that is not running gives a failed lookup (never an exception) within the lifetime."""
    server = knot(ZONE)
    server.stop()
    start = time.monotonic()
    answer = one(server, "direct.example.com", caa=True, timeout=0.3, lifetime=0.8)
    assert answer.a.status in (ERROR, TIMEOUT) and answer.caa.status in (ERROR, TIMEOUT)
    assert time.monotonic() - start < 0.8 + 0.5


def test_silent_server_ends_within_one_lifetime(silent_server):
    """Many names against a server that never answers end after about one lifetime, not one per name."""
    lifetime = 0.6
    names = [Question(f"n{i}.example.com", caa=True) for i in range(300)]
    start = time.monotonic()
    answers = resolve([silent_server], *names, timeout=0.2, lifetime=lifetime, concurrency=32)
    elapsed = time.monotonic() - start
    assert all(a[silent_server.address].a.status == TIMEOUT for a in answers.values())
    assert all(a[silent_server.address].caa.status == TIMEOUT for a in answers.values())
    assert elapsed < 2 * lifetime, elapsed


def test_one_slow_name_does_not_give_up_on_an_answering_server(knot, silent_server):
    """A server that has answered is not written off: its other names still resolve."""
    server = knot(ZONE)
    answers = resolve([server, silent_server], Question("direct.example.com"), lifetime=0.5, timeout=0.2)
    by_server = answers[Question("direct.example.com")]
    assert by_server[server.address].a.records == ("192.0.2.10",)
    assert by_server[silent_server.address].a.status == TIMEOUT


@pytest.mark.parametrize("timeout, lifetime", [(math.inf, math.inf), (math.nan, math.nan), (math.inf, math.nan),
                                               (-1.0, 1e12)])
def test_non_finite_waits_are_bounded(monkeypatch, silent_server, timeout, lifetime):
    """A lifetime of .inf does not hang on a silent nameserver and NaN still sends the query: waits are clamped
    to MAX_WAIT (NaN falls back to the default), so the run ends within the bound."""
    monkeypatch.setattr("gate.probes.dns.MAX_WAIT", 0.6)
    monkeypatch.setattr("gate.probes.dns.DEFAULT_LIFETIME", 0.5)
    monkeypatch.setattr("gate.probes.dns.DEFAULT_TIMEOUT", 0.2)
    start = time.monotonic()
    answers = resolve([silent_server], Question("n.example.com"), timeout=timeout, lifetime=lifetime)
    elapsed = time.monotonic() - start
    assert answers[Question("n.example.com")][silent_server.address].a.status == TIMEOUT
    assert silent_server.received() >= 2  # A and AAAA were sent
    assert elapsed < 0.6 + 0.5, elapsed


def test_bounded_wait():
    """Finite values are clamped into [MIN_WAIT, MAX_WAIT]; NaN and non-numbers give the default."""
    assert bounded_wait(2.5, 5.0) == 2.5 and bounded_wait(math.inf, 5.0) == 60.0 and bounded_wait(0, 5.0) == 0.01
    assert bounded_wait(math.nan, 5.0) == 5.0 and bounded_wait("x", 2.0) == 2.0 and bounded_wait(None, 2.0) == 2.0


# -- a hostile nameserver ------------------------------------------------------------------------------------

HOSTILE_NAME = "app.example.com"
HOSTILE_QUESTION = Question(HOSTILE_NAME, caa=True)
# the names a run may ask about: the name, its CAA parents, and the names its (bad) CNAMEs point at
ASKED = {HOSTILE_NAME, "example.com", "com"}


@pytest.mark.parametrize("mode", MODES)
def test_hostile_answers_are_failures_not_answers(hostile, monkeypatch, mode):
    """Whatever a nameserver does wrong, the A and AAAA lookups are failures (never resolved, NXDOMAIN or
    NODATA), within one lifetime, with a bounded number of queries, and nothing is sent anywhere else."""
    server = hostile(mode, delay=1.0)
    spy = Destinations(monkeypatch)
    start = time.monotonic()
    answers = resolve([server], HOSTILE_QUESTION, timeout=0.2, lifetime=0.6)
    elapsed = time.monotonic() - start
    answer = answers[HOSTILE_QUESTION][server.address]
    assert not answer.a.definitive and not answer.aaaa.definitive, (answer.a, answer.aaaa)
    assert answer.a.records == () and answer.aaaa.records == ()
    assert answer.caa.status == NODATA  # the sane part of the server still answers: only the fault is judged
    assert elapsed < 0.6 + 0.4, elapsed
    assert spy.addresses() <= {("127.0.0.1", server.port)}, spy.seen
    asked = {q.name for q in server.queries}
    allowed = ASKED | {"?"} | {n for n in asked if n.endswith(".chain.test")}
    assert asked <= allowed, asked
    assert len(server.queries) <= 60, len(server.queries)


def test_endless_cname_chain_stops_after_max_chain(hostile):
    """An authoritative-style chain that never ends (one fresh hop per answer) is followed MAX_CHAIN hops, then
    given up as an error: the queries are bounded."""
    from gate.probes.dns import MAX_CHAIN
    server = hostile("long-chain-split")
    answer = resolve([server], Question(HOSTILE_NAME), timeout=0.2, lifetime=1.0)[Question(HOSTILE_NAME)]
    lookup = answer[server.address].a
    assert lookup.status == ERROR and f"longer than {MAX_CHAIN}" in lookup.detail
    assert len(lookup.chain) == MAX_CHAIN + 1
    assert sum(q.rdtype == "A" for q in server.queries) == MAX_CHAIN + 1


def test_ignored_answers_are_counted_in_the_message(hostile):
    """Answers that are not answers to the question (wrong id) are ignored and said so in the timeout."""
    server = hostile("wrong-id")
    lookup = resolve([server], Question(HOSTILE_NAME), timeout=0.2, lifetime=0.5)[Question(HOSTILE_NAME)][
        server.address].a
    assert lookup.status == TIMEOUT and "unusable answers ignored" in lookup.detail


def test_queries_ask_for_edns_1232(hostile):
    """Every query advertises an EDNS0 UDP payload of 1,232 bytes (DNS flag day 2020)."""
    server = hostile("servfail")
    resolve([server], HOSTILE_QUESTION, timeout=0.2, lifetime=0.6)
    assert server.queries and {q.payload for q in server.queries} == {1232}, server.queries


def test_formerr_is_asked_again_without_edns(hostile):
    """A FORMERR to an EDNS query is asked once more without EDNS (a server from before RFC 6891), and a
    FORMERR to that as well is an error, not an answer."""
    server = hostile("formerr", types=("A",))
    lookup = resolve([server], Question(HOSTILE_NAME), timeout=0.2, lifetime=0.6)[Question(HOSTILE_NAME)][
        server.address].a
    assert lookup.status == ERROR and "FORMERR" in lookup.detail
    assert [q.payload for q in server.queries if q.rdtype == "A"] == [1232, None]


def test_mutated_answers_are_ignored_or_read_never_raised():
    """Answers built by dnspython, with random bytes changed or cut short, are either refused by our parser (None)
    or read into a Lookup; no exception escapes (in datagram_received one would lose the answer uncounted)."""
    import random

    import dns.message
    import dns.name
    import dns.rdatatype
    import dns.rrset

    from gate.probes.dns import _interpret, _parse, _wire_name

    qname = dns.name.from_text(HOSTILE_NAME)
    wire_name = _wire_name(HOSTILE_NAME)
    rng = random.Random(7)
    bases = []
    for rdtype, value in (("A", "192.0.2.10"), ("AAAA", "2001:db8::10"), ("CAA", '0 issue "letsencrypt.org"')):
        response = dns.message.make_response(dns.message.make_query(qname, rdtype, use_edns=0, payload=1232, id=7))
        response.answer.append(dns.rrset.from_text(qname, 60, "IN", "CNAME", "lb.example.net."))
        response.answer.append(dns.rrset.from_text("lb.example.net.", 60, "IN", rdtype, value))
        response.authority.append(dns.rrset.from_text("example.com.", 60, "IN", "SOA", "ns. h. 1 2 3 4 5"))
        bases.append((response.to_wire(), dns.rdatatype.from_text(rdtype)))
    outcomes = {"refused": 0, "read": 0}
    for _ in range(3000):
        wire, rdtype = rng.choice(bases)
        mutated = bytearray(wire)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(2, len(mutated))] = rng.randrange(256)  # the id stays ours
        if rng.random() < 0.2:
            mutated = mutated[:rng.randrange(12, len(mutated))]
        response = _parse(bytes(mutated), wire_name, rdtype)
        if response is None:
            outcomes["refused"] += 1
        else:
            lookup, _, _ = _interpret(HOSTILE_NAME, rdtype, response)
            assert lookup.status in (RESOLVED, NXDOMAIN, NODATA, SERVFAIL, REFUSED, ERROR)
            outcomes["read"] += 1
    assert outcomes["refused"] > 100 and outcomes["read"] > 100, outcomes  # both paths were exercised
    for wire, rdtype in bases:  # and the unmutated answers are read, so the loop above tested something
        lookup, targets, _ = _interpret(HOSTILE_NAME, rdtype, _parse(wire, wire_name, rdtype))
        assert lookup.status == RESOLVED and targets == ["lb.example.net"]


@pytest.mark.skipif(not HAVE_KNOT, reason=NO_KNOT)
def test_benchmark_runs_without_the_test_extra():
    """benchmarks/dns_names.py needs no pytest (the test extra): it runs with pytest made unimportable."""
    root = Path(__file__).resolve().parents[2]
    code = ("import sys, runpy; sys.modules['pytest'] = None; "
            "sys.argv = ['dns_names.py', '--names', '40', '--repeat', '1', '--delay', '0', '--lifetime', '0.3']; "
            "runpy.run_path('benchmarks/dns_names.py', run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert "gate resolver" in proc.stdout and "unreachable nameserver" in proc.stdout


@pytest.mark.parametrize("value, expected", [
    ("192.0.2.1", ("192.0.2.1", 53)), ("192.0.2.1:5353", ("192.0.2.1", 5353)),
    ("[2001:db8::1]:53", ("2001:db8::1", 53)), ("2001:db8::1", ("2001:db8::1", 53)),
    ("ns1.example.net", ("ns1.example.net", 53)),
])
def test_nameserver_forms(value, expected):
    """HOST, HOST:PORT, [V6]:PORT and bare IPv6 are understood."""
    assert split_nameserver(value) == expected


@pytest.mark.parametrize("value", ["192.0.2.1:0", "192.0.2.1:99999", "[::1]x", ":53", "host:port"])
def test_bad_nameservers_are_refused(value):
    """A malformed nameserver is a ValueError (a usage error on the command line)."""
    with pytest.raises(ValueError):
        split_nameserver(value)


def test_addresses_are_normalized():
    """Load balancer addresses are compared in their normal form; garbage is refused."""
    assert parse_address(" 2001:DB8:0::1 ") == "2001:db8::1"
    with pytest.raises(ValueError):
        parse_address("lb.example.com")
