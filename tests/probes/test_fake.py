"""Canned answers drive the network checks' judgement through `run`, without a server."""

from __future__ import annotations

from conftest import EXAMPLES

from gate.config import DnsOptions
from gate.probes import fake
from gate.run import RunConfig, run

LB = "lb.example.net"


def _healthy_zone(*names: str) -> dict:
    zone = {LB: {"A": ["192.0.2.10"]}}
    zone.update({name: {"CNAME": [LB], "A": ["192.0.2.10"]} for name in names})
    return zone


def test_canned_dns_answers_are_judged_like_real_ones():
    """A name CNAMEd to the LB passes; a name missing from the zone is dns-not-pointing-to-lb on its line."""
    first = run(RunConfig(paths=[str(EXAMPLES / "healthy")], offline=True))
    names = [s.hostname for s in first.services]
    good, bad = names[0], names[1]
    report = run(RunConfig(paths=[str(EXAMPLES / "healthy")], dns=DnsOptions(lb_hostnames=(LB,)),
                           exclude=("image-not-found", "image-unverifiable", "image-platform-missing")),
                 probe_answers={"dns": fake.dns(_healthy_zone(*[n for n in names if n != bad]))})
    assert report.probe_status["dns"] == "canned"
    failing = {f.hostname for f in report.findings if f.check == "dns-not-pointing-to-lb"}
    assert failing == {bad}
    lines = {s.hostname: {i.label: i.status for i in s.items} for s in report.services}
    assert lines[good]["DNS A record points to the load balancer"] == "pass"
    assert lines[bad]["DNS A record points to the load balancer"] == "fail"


def test_a_timeout_is_never_a_pass():
    """A canned timeout makes dns-unverifiable and a [?] line, not [x]."""
    report = run(RunConfig(paths=[str(EXAMPLES / "healthy")], dns=DnsOptions(lb_hostnames=(LB,)),
                           include=("dns-not-pointing-to-lb", "dns-unverifiable")),
                 probe_answers={"dns": fake.dns({LB: {"A": ["192.0.2.10"]}} | {
                     s.hostname: {"status": "timeout"}
                     for s in run(RunConfig(paths=[str(EXAMPLES / "healthy")], offline=True)).services})})
    assert report.findings and {f.check for f in report.findings} == {"dns-unverifiable"}
    assert all(i.status == "unverified" for s in report.services for i in s.items)


def test_canned_registry_answers_find_the_missing_image():
    """An image the canned registry lacks is image-not-found; the others pass."""
    report = run(RunConfig(paths=[str(EXAMPLES / "healthy")], include=("image-not-found", "image-unverifiable")),
                 probe_answers={"registry": fake.registry({}, default="found")})
    assert report.findings == []
    missing = run(RunConfig(paths=[str(EXAMPLES / "healthy")], include=("image-not-found", "image-unverifiable")),
                  probe_answers={"registry": fake.registry({})})
    assert missing.findings and {f.check for f in missing.findings} == {"image-not-found"}
