"""The examples against a real zone: the incident fails on DNS for the four new names, and
passes once the zone is fixed; the healthy example with a good zone passes."""

from __future__ import annotations

import json
import re

from conftest import EXAMPLES, gate_cli
from dns_server import needs_knot

from gate.checks import CHECKS
from gate.config import DnsOptions
from gate.run import RunConfig, run

pytestmark = needs_knot

LB = "traefik-lb.elb.example.net"
NEW = ("pay.example.com", "pay.sandbox.example.com", "rbac.example.com", "rbac.sandbox.example.com")
DNS_LINE = "DNS A record points to the load balancer"


def served(example: str) -> list[str]:
    return [s.hostname for s in run(RunConfig(paths=[str(EXAMPLES / example)], offline=True)).services]


def zone(hosts: list[str], elsewhere: tuple[str, ...] = ()) -> str:
    """Every host a CNAME to the LB hostname, except `elsewhere`, which point at the old cluster."""
    lines = [f"{LB}. A 192.0.2.10", f"{LB}. A 192.0.2.11", "old-cluster.example.org. A 198.51.100.7",
             'example.com. CAA 0 issue "letsencrypt.org"']
    lines += [f"{h}. CNAME {'old-cluster.example.org' if h in elsewhere else LB}." for h in hosts]
    return "\n".join(lines)


def blocks(text: str) -> dict[str, str]:
    """hostname -> its checklist block in the text report."""
    parts = re.split(r"^https://(\S+)\n", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def test_incident_fails_on_dns_for_the_four_new_names_then_passes_when_fixed(knot, tmp_path):
    """Zone with the four new names elsewhere: dns-not-pointing-to-lb and `[ ]` for each; fixed live: `[x]`."""
    hosts = served("incident")
    assert len(hosts) == 23 and set(NEW) <= set(hosts)
    server = knot(zone(hosts, elsewhere=NEW))
    args = ("check", "--verbose", "--nameserver", server.address, "--lb-hostname", LB, "--format", "text",
            "--format", f"json={tmp_path / 'report.json'}", "examples/incident")

    proc = gate_cli(*args)
    assert proc.returncode == 1, proc.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    dns = [f for f in report["findings"] if f["check"].startswith(("dns-", "caa-"))]
    assert sorted(f["hostname"] for f in dns) == sorted(NEW)
    assert {f["check"] for f in dns} == {"dns-not-pointing-to-lb"}
    assert all("198.51.100.7 via CNAME old-cluster.example.org" in f["message"] and LB in f["message"]
               for f in dns)
    text = blocks(proc.stdout.decode())
    for host in hosts:
        expected = "[ ]" if host in NEW else "[x]"
        assert f"  {expected} {DNS_LINE}" in text[host], (host, text[host])
    for host in NEW:
        assert "error dns-not-pointing-to-lb:" in text[host]

    server.change(unset=[f"{h}." for h in NEW], set=[f"{h}. 60 CNAME {LB}." for h in NEW])
    fixed = gate_cli(*args)
    report = json.loads((tmp_path / "report.json").read_text())
    assert [f for f in report["findings"] if f["check"].startswith(("dns-", "caa-"))] == []
    text = blocks(fixed.stdout.decode())
    assert all(f"  [x] {DNS_LINE}" in text[host] for host in hosts)


def test_healthy_example_with_a_good_zone_passes(knot):
    """examples/healthy against a zone where every name reaches the LB passes (registry checks excluded:
    its images live on registry.example.com, which no test can reach)."""
    hosts = served("healthy")
    server = knot(zone(hosts))
    registry_checks = tuple(c.id for c in CHECKS.values() if c.probe == "registry")
    report = run(RunConfig(paths=[str(EXAMPLES / "healthy")], exclude=registry_checks,
                           dns=DnsOptions(nameservers=(server.address,), lb_hostnames=(LB,))))
    assert report.findings == [], [f.message for f in report.findings]
    assert report.passed
    assert all(any(i.label == DNS_LINE and i.status == "pass" for i in s.items) for s in report.services)
    assert report.probe_status["dns"] == "ran"
