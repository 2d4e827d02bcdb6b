"""The DNS checks against a real knot server: every DNS case (A, AAAA, CNAME, CAA, split horizon), findings,
severities, checklist lines; and against a hostile server."""
# ruff: noqa: F811 - the hostile fixture is imported by name

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import write
from hostile_dns import GOOD, MODES, Destinations, hostile  # noqa: F401 - hostile: a fixture

from gate.config import DnsOptions
from gate.model import Report
from gate.run import RunConfig, run

# knot-backed tests skip themselves (the `knot` fixture) when knot is not installed

DNS_CHECKS = ("dns-not-pointing-to-lb", "dns-aaaa-mismatch", "caa-forbids-issuer", "dns-unverifiable",
              "dns-split-horizon")
LB = "lb.elb.example.net"
ZONE = f"""
{LB}. A 192.0.2.10
{LB}. A 192.0.2.11
{LB}. AAAA 2001:db8::10
example.com. CAA 0 issue "letsencrypt.org"
direct.example.com. A 192.0.2.10
chain.example.com. CNAME hop.example.org.
hop.example.org. CNAME LB.ELB.example.net.
elsewhere.example.com. CNAME old-cluster.example.org.
old-cluster.example.org. A 198.51.100.7
alias.example.com. A 192.0.2.10
alias.example.com. A 192.0.2.11
partial.example.com. A 192.0.2.10
partial.example.com. A 198.51.100.9
nodata.example.com. TXT "no address"
stale.example.com. A 192.0.2.10
stale.example.com. AAAA 2001:db8::dead
goodv6.example.com. A 192.0.2.10
goodv6.example.com. AAAA 2001:db8::10
*.wild.example.com. CNAME {LB}.
google.example.com. CAA 0 issue "pki.goog"
google.example.com. A 192.0.2.10
www.google.example.com. A 192.0.2.10
http-only.example.com. A 192.0.2.10
http-only.example.com. CAA 0 issue "letsencrypt.org; validationmethods=dns-01"
critical.example.com. A 192.0.2.10
critical.example.com. CAA 128 tbs "unknown"
wildcard-caa.example.com. CAA 0 issue "letsencrypt.org"
wildcard-caa.example.com. CAA 0 issuewild ";"
"""

ISSUERS = """
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: le-http}
spec:
  acme:
    server: https://acme-v02.api.letsencrypt.org/directory
    privateKeySecretRef: {name: le-http-account}
    solvers:
    - http01: {ingress: {ingressClassName: traefik}}
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: le-dns}
spec:
  acme:
    server: https://acme-v02.api.letsencrypt.org/directory
    privateKeySecretRef: {name: le-dns-account}
    solvers:
    - dns01: {cloudflare: {apiTokenSecretRef: {name: cf, key: token}}}
"""


def certificate(name: str, *dns_names: str, issuer: str = "le-http") -> str:
    names = "".join(f"\n  - '{n}'" for n in dns_names)
    return f"""
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {{name: {name}, namespace: apps}}
spec:
  secretName: {name}
  issuerRef: {{name: {issuer}, kind: ClusterIssuer}}
  dnsNames:{names}
"""


def render(tmp_path: Path, *names: str, extra: str = "", issuer: str = "le-http") -> Path:
    """One Certificate per name (cert-<i>), with the issuers."""
    docs = ISSUERS + "".join(certificate(f"cert-{i}", n, issuer=issuer) for i, n in enumerate(names)) + extra
    return write(tmp_path, "render.yaml", docs)


def check(path: Path, servers, *, lb_hostnames=(LB,), lb_addresses=(), policy: str | None = None,
          offline: bool = False) -> Report:
    options = DnsOptions(lb_hostnames=tuple(lb_hostnames), lb_addresses=tuple(lb_addresses),
                         nameservers=tuple(s.address for s in servers))
    policy_path = None
    if policy is not None:
        policy_path = write(path.parent, "policy.yaml", policy)
    return run(RunConfig(paths=[str(path)], offline=offline, dns=options,
                         policy=str(policy_path) if policy_path else None))


def dns_findings(report: Report, check_id: str | None = None) -> list:
    return [f for f in report.findings if f.check in DNS_CHECKS and (check_id is None or f.check == check_id)]


def by_host(report: Report, check_id: str) -> dict:
    return {f.hostname: f for f in dns_findings(report, check_id)}


def dns_item(report: Report, host: str):
    service = next(s for s in report.services if s.hostname == host)
    return next(i for i in service.items if i.label == "DNS A record points to the load balancer")


# -- A records and CNAME chains ----------------------------------------------------------------------

def test_passing_names_produce_no_dns_finding(tmp_path, knot):
    """A direct A within the LB, a CNAME chain reaching the LB hostname, Alias-style A, wildcard records."""
    server = knot(ZONE)
    path = render(tmp_path, "direct.example.com", "chain.example.com", "alias.example.com",
                  "app.wild.example.com", "goodv6.example.com")
    report = check(path, [server])
    assert dns_findings(report) == []
    assert dns_item(report, "chain.example.com").status == "pass"


def test_cname_chain_elsewhere_fails_with_what_it_resolves_to(tmp_path, knot):
    """A CNAME chain that never reaches the LB and ends outside its addresses fails; the message shows both."""
    report = check(render(tmp_path, "elsewhere.example.com"), [knot(ZONE)])
    finding = by_host(report, "dns-not-pointing-to-lb")["elsewhere.example.com"]
    assert finding.severity == "error" and not finding.unverified
    assert "198.51.100.7 via CNAME old-cluster.example.org" in finding.message
    assert f"a CNAME to {LB}" in finding.message and "192.0.2.10, 192.0.2.11" in finding.message
    assert (finding.kind, finding.name) == ("Certificate", "cert-0")
    item = dns_item(report, "elsewhere.example.com")
    assert item.status == "fail" and finding in item.findings


def test_a_records_must_all_be_within_the_lb(tmp_path, knot):
    """An A set that only partly overlaps the LB's addresses fails (not contained)."""
    report = check(render(tmp_path, "partial.example.com"), [knot(ZONE)])
    assert "partial.example.com" in by_host(report, "dns-not-pointing-to-lb")


def test_lb_addresses_alone_are_enough(tmp_path, knot):
    """With --lb-address only (no hostname), A records within those addresses pass, others fail."""
    path = render(tmp_path, "direct.example.com", "elsewhere.example.com")
    report = check(path, [knot(ZONE)], lb_hostnames=(), lb_addresses=("192.0.2.10",))
    assert set(by_host(report, "dns-not-pointing-to-lb")) == {"elsewhere.example.com"}


def test_nxdomain_and_nodata_fail(tmp_path, knot):
    """A name that does not exist, and a name without A records, do not point at the LB."""
    report = check(render(tmp_path, "missing.example.com", "nodata.example.com"), [knot(ZONE)])
    found = by_host(report, "dns-not-pointing-to-lb")
    assert "NXDOMAIN" in found["missing.example.com"].message
    assert "has no A record" in found["nodata.example.com"].message


def test_wildcards_and_addresses_are_not_looked_up_for_a(tmp_path, knot):
    """A wildcard name gets no A check (HTTP-01 cannot issue it), nor an IP address, even when nothing resolves."""
    server = knot(ZONE)
    before = server.queries()
    report = check(render(tmp_path, "*.nothing-here.example.com", issuer="le-dns",
                          extra=certificate("by-ip", "192.0.2.99")), [server])
    assert by_host(report, "dns-not-pointing-to-lb") == {}
    # only the wildcard's CAA walk (nothing-here.example.com, example.com, com) and the LB's A and AAAA
    assert server.queries() - before == 3 + 2


# -- AAAA ------------------------------------------------------------------------------------------------

def test_stale_aaaa_fails(tmp_path, knot):
    """AAAA records that are not the LB's IPv6 addresses are reported; the LB's own AAAA pass."""
    report = check(render(tmp_path, "stale.example.com", "goodv6.example.com"), [knot(ZONE)])
    found = by_host(report, "dns-aaaa-mismatch")
    assert set(found) == {"stale.example.com"}
    assert "2001:db8::dead" in found["stale.example.com"].message
    assert "2001:db8::10" in found["stale.example.com"].message


# -- CAA ---------------------------------------------------------------------------------------------------

def test_caa_allowing_and_inherited_from_a_parent(tmp_path, knot):
    """example.com's CAA allows letsencrypt.org for every name below it without a set of its own."""
    report = check(render(tmp_path, "direct.example.com", "deep.direct.example.com"), [knot(ZONE)])
    assert by_host(report, "caa-forbids-issuer") == {}


def test_caa_forbidding_the_issuer_and_inherited(tmp_path, knot):
    """A CAA set naming another CA forbids Let's Encrypt, at the name and for names below it."""
    report = check(render(tmp_path, "google.example.com", "www.google.example.com"), [knot(ZONE)])
    found = by_host(report, "caa-forbids-issuer")
    assert set(found) == {"google.example.com", "www.google.example.com"}
    assert "CAA at google.example.com allows only pki.goog" in found["www.google.example.com"].message
    assert "letsencrypt.org" in found["google.example.com"].message


def test_caa_validationmethods_and_critical_flags(tmp_path, knot):
    """validationmethods without http-01 forbids an HTTP-01 issuance; an unknown critical property forbids all."""
    report = check(render(tmp_path, "http-only.example.com", "critical.example.com"), [knot(ZONE)])
    assert set(by_host(report, "caa-forbids-issuer")) == {"http-only.example.com", "critical.example.com"}


def test_caa_issuewild_for_wildcards(tmp_path, knot):
    """For a wildcard, issuewild decides: `issuewild ";"` forbids it while `issue` allows the plain name."""
    path = render(tmp_path, "*.wildcard-caa.example.com", "*.example.com", issuer="le-dns")
    found = by_host(check(path, [knot(ZONE)]), "caa-forbids-issuer")
    assert set(found) == {"*.wildcard-caa.example.com"}
    assert found["*.wildcard-caa.example.com"].severity == "error"  # CAA stops DNS-01 issuance as well


def test_caa_servfail_blocks_issuance(tmp_path, knot):
    """A CAA lookup answered with SERVFAIL is reported as blocking issuance, not as a pass."""
    report = check(render(tmp_path, "www.servfail.test"), [knot(ZONE)])
    finding = by_host(report, "caa-forbids-issuer")["www.servfail.test"]
    assert "SERVFAIL" in finding.message and not finding.unverified


# -- could not verify ---------------------------------------------------------------------------------------

def test_stopped_server_is_unverifiable_within_the_lifetime(tmp_path, knot):
    """A stopped nameserver: every name is dns-unverifiable ([?], an error), and the run ends within a lifetime."""
    server = knot(ZONE)
    server.stop()
    names = [f"n{i}.example.com" for i in range(30)]
    start = time.monotonic()
    report = check(render(tmp_path, *names), [server], policy="dns: {timeout: 0.2, lifetime: 0.8}\n")
    assert time.monotonic() - start < 0.8 + 1.5
    found = by_host(report, "dns-unverifiable")
    assert set(found) == set(names)
    assert all(f.unverified and f.severity == "error" for f in found.values())
    assert not report.passed
    assert dns_item(report, "n0.example.com").status == "unverified"
    assert by_host(report, "dns-not-pointing-to-lb") == {}


def test_silent_server_with_on_unverifiable_warning(tmp_path, silent_server):
    """dns.onUnverifiable: warning makes an unanswered lookup a warning; the run still ends within a lifetime."""
    start = time.monotonic()
    report = check(render(tmp_path, "a.example.com", "b.example.com"), [silent_server],
                   policy="dns: {timeout: 0.2, lifetime: 0.6, onUnverifiable: warning}\n")
    assert time.monotonic() - start < 0.6 + 1.5
    found = by_host(report, "dns-unverifiable")
    assert {f.severity for f in found.values()} == {"warning"} and len(found) == 2
    assert "no answer within 0.6s" in found["a.example.com"].message


def test_no_load_balancer_known(tmp_path, knot):
    """Without any LB source, resolving names are unverifiable with how to name one; NXDOMAIN still fails."""
    report = check(render(tmp_path, "direct.example.com", "missing.example.com"), [knot(ZONE)], lb_hostnames=())
    unverifiable = by_host(report, "dns-unverifiable")
    assert set(unverifiable) == {"direct.example.com"}
    assert "--lb-hostname" in unverifiable["direct.example.com"].message
    assert set(by_host(report, "dns-not-pointing-to-lb")) == {"missing.example.com"}


def test_lb_hostname_that_does_not_answer_is_unverifiable(tmp_path, knot):
    """When the LB hostname's own lookup fails, a name with plain A records cannot be judged."""
    report = check(render(tmp_path, "direct.example.com", "chain.example.com"), [knot(ZONE)],
                   lb_hostnames=("lb.servfail.test",))
    assert "lb.servfail.test" in by_host(report, "dns-unverifiable")["direct.example.com"].message
    assert by_host(report, "dns-not-pointing-to-lb") == {}


# -- the load balancer hostname itself ---------------------------------------------------------------------

STALE_LB = """
stale-lb.example.com. CNAME old-lb.elb.example.net.
noaddr-lb.example.com. CNAME noaddr.elb.example.net.
noaddr.elb.example.net. TXT "the load balancer was deleted"
broken-lb.example.com. CNAME lb.servfail.test.
"""


@pytest.mark.parametrize("name, lb, why", [
    ("stale-lb.example.com", "old-lb.elb.example.net", "NXDOMAIN"),
    ("noaddr-lb.example.com", "noaddr.elb.example.net", "no A record and no AAAA record"),
])
def test_cname_to_an_lb_hostname_that_does_not_resolve_fails(tmp_path, knot, name, lb, why):
    """A CNAME to the LB hostname is not a pass when that hostname has no address (an ELB name left over after
    the load balancer was recreated): a failure, with the reason."""
    report = check(render(tmp_path, name), [knot(ZONE + STALE_LB)], lb_hostnames=(lb,))
    finding = by_host(report, "dns-not-pointing-to-lb")[name]
    assert f"the load balancer hostname {lb} does not resolve ({why})" in finding.message
    assert "stale after a recreate" in finding.message and not finding.unverified
    assert dns_item(report, name).status == "fail"
    assert by_host(report, "dns-unverifiable") == {} and by_host(report, "dns-aaaa-mismatch") == {}


def test_cname_to_an_lb_hostname_whose_lookup_fails_is_unverifiable(tmp_path, knot):
    """A CNAME to the LB hostname whose own lookup fails (SERVFAIL) cannot be judged: could not verify."""
    report = check(render(tmp_path, "broken-lb.example.com"), [knot(ZONE + STALE_LB)],
                   lb_hostnames=("lb.servfail.test",))
    assert by_host(report, "dns-not-pointing-to-lb") == {}
    finding = by_host(report, "dns-unverifiable")["broken-lb.example.com"]
    assert "load balancer hostname lb.servfail.test" in finding.message and "servfail" in finding.message
    assert dns_item(report, "broken-lb.example.com").status == "unverified"


# -- a hostile nameserver: never a pass, never a crash, within the deadline ---------------------------------

HOSTILE_POLICY = "dns: {timeout: 0.2, lifetime: 0.6}\n"
HOSTILE_DEADLINE = 0.6 + 1.5  # one lifetime, and the run around it


def hostile_run(tmp_path, server, monkeypatch, name="app.example.com"):
    spy = Destinations(monkeypatch)
    start = time.monotonic()
    report = check(render(tmp_path, name), [server], lb_hostnames=(), lb_addresses=(GOOD,), policy=HOSTILE_POLICY)
    elapsed = time.monotonic() - start
    assert elapsed < HOSTILE_DEADLINE, elapsed
    assert spy.addresses() <= {("127.0.0.1", server.port)}, spy.seen  # no query went anywhere else
    return report


@pytest.mark.parametrize("mode", MODES)
def test_hostile_nameserver_is_could_not_verify(tmp_path, hostile, monkeypatch, mode):
    """Each fault on the name's A/AAAA (its bad answers all point at the load balancer) makes the DNS line
    "could not verify": a dns-unverifiable error, no pass, no other DNS finding, within one lifetime."""
    server = hostile(mode, delay=1.0)
    report = hostile_run(tmp_path, server, monkeypatch)
    assert dns_item(report, "app.example.com").status == "unverified"
    found = by_host(report, "dns-unverifiable")["app.example.com"]
    assert found.unverified and found.severity == "error" and "could not verify" in found.message
    assert {f.check for f in dns_findings(report)} == {"dns-unverifiable"}
    assert not report.passed


@pytest.mark.parametrize("mode", ["silent", "malformed", "refused", "wrong-id", "huge", "cname-loop"])
def test_hostile_nameserver_on_every_question(tmp_path, hostile, monkeypatch, mode):
    """The same fault on every question (CAA walk included): still could not verify, never a pass."""
    server = hostile(mode, everything=True, delay=1.0)
    report = hostile_run(tmp_path, server, monkeypatch)
    assert dns_item(report, "app.example.com").status == "unverified"
    assert set(by_host(report, "dns-unverifiable")) == {"app.example.com"}


def test_hostile_caa_servfail_blocks_issuance(tmp_path, hostile, monkeypatch):
    """SERVFAIL on every question: the A line cannot be verified, and CAA that cannot be read blocks issuance
    (Let's Encrypt refuses then): the line fails, it never passes."""
    server = hostile("servfail", everything=True)
    report = hostile_run(tmp_path, server, monkeypatch)
    assert dns_item(report, "app.example.com").status == "fail"
    assert "SERVFAIL" in by_host(report, "caa-forbids-issuer")["app.example.com"].message


def test_hostile_lb_hostname(tmp_path, hostile, monkeypatch):
    """The load balancer hostname's own lookups go bad while the name CNAMEs to it: could not verify."""
    server = hostile("wrong-question", name="lb.elb.example.net",
                     records={("app.example.com", "A"): [GOOD], ("app.example.com", "AAAA"): ["2001:db8::10"]})
    spy = Destinations(monkeypatch)
    report = check(render(tmp_path, "app.example.com"), [server], lb_hostnames=("lb.elb.example.net",),
                   policy=HOSTILE_POLICY)
    assert spy.addresses() <= {("127.0.0.1", server.port)}
    assert dns_item(report, "app.example.com").status == "unverified"
    assert "lb.elb.example.net" in by_host(report, "dns-unverifiable")["app.example.com"].message


# -- split horizon ----------------------------------------------------------------------------------------------

def test_two_servers_disagreeing(tmp_path, knot):
    """Nameservers that disagree give dns-split-horizon (warning), and the outside view's failure is reported."""
    inside = knot(ZONE, name="inside")
    outside = knot(ZONE.replace("direct.example.com. A 192.0.2.10", "direct.example.com. A 203.0.113.5"),
                   name="outside")
    report = check(render(tmp_path, "direct.example.com", "chain.example.com"), [inside, outside])
    split = by_host(report, "dns-split-horizon")
    assert set(split) == {"direct.example.com"} and split["direct.example.com"].severity == "warning"
    assert "192.0.2.10" in split["direct.example.com"].message and "203.0.113.5" in split["direct.example.com"].message
    failed = by_host(report, "dns-not-pointing-to-lb")["direct.example.com"]
    assert f"nameserver {outside.address}" in failed.message


# -- which names, which load balancer, how often -------------------------------------------------------------------

def test_served_names_without_http01_are_warnings(tmp_path, knot):
    """A DNS-01 name and a route hostname that point elsewhere are warnings, not errors."""
    route = """
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: legacy, namespace: apps}
spec:
  hostnames: [missing-route.example.com]
  rules: [{backendRefs: [{name: web, port: 80}]}]
"""
    path = render(tmp_path, "elsewhere.example.com", issuer="le-dns", extra=route)
    found = by_host(check(path, [knot(ZONE)]), "dns-not-pointing-to-lb")
    assert {h: f.severity for h, f in found.items()} == {"elsewhere.example.com": "warning",
                                                        "missing-route.example.com": "warning"}
    assert found["missing-route.example.com"].kind == "HTTPRoute"


def test_each_name_is_looked_up_once(tmp_path, knot):
    """Two Certificates and a route sharing a name: one finding, and each question reaches the server once."""
    server = knot(ZONE)
    route = """
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: apps}
spec:
  hostnames: [elsewhere.example.com]
"""
    path = render(tmp_path, "elsewhere.example.com", "elsewhere.example.com", extra=route)
    before = server.queries()
    report = check(path, [server])
    assert len(dns_findings(report, "dns-not-pointing-to-lb")) == 1
    # the name: A, AAAA, CAA at elsewhere.example.com, example.com, com; the LB hostname: A, AAAA
    assert server.queries() - before == 7


def test_lb_from_gateway_status_and_service_status(tmp_path, knot):
    """Without CLI or policy, the Gateway's status.addresses names the LB, else a LoadBalancer Service's status."""
    gateway = f"""
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: apps}}
spec: {{gatewayClassName: traefik, listeners: [{{name: web, protocol: HTTP, port: 80}}]}}
status: {{addresses: [{{type: Hostname, value: {LB}}}]}}
"""
    service = """
---
apiVersion: v1
kind: Service
metadata: {name: traefik, namespace: apps}
spec: {type: LoadBalancer, ports: [{port: 80}]}
status: {loadBalancer: {ingress: [{ip: 198.51.100.7}]}}
"""
    server = knot(ZONE)
    both = check(render(tmp_path, "chain.example.com", "elsewhere.example.com", extra=gateway + service),
                 [server], lb_hostnames=())
    assert set(by_host(both, "dns-not-pointing-to-lb")) == {"elsewhere.example.com"}
    assert "status.addresses of Gateway apps/gw" in by_host(both, "dns-not-pointing-to-lb")[
        "elsewhere.example.com"].message
    only_service = check(render(tmp_path / "svc", "chain.example.com", "elsewhere.example.com", extra=service),
                         [server], lb_hostnames=())
    assert set(by_host(only_service, "dns-not-pointing-to-lb")) == {"chain.example.com"}


def test_every_gateway_with_addresses_is_a_target(tmp_path, knot):
    """Two Gateways with different load balancers: a name pointing at either one passes."""
    gateways = "".join(f"""
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: {name}, namespace: apps}}
spec: {{gatewayClassName: traefik, listeners: [{{name: web, protocol: HTTP, port: 80}}]}}
status: {{addresses: [{address}]}}
""" for name, address in (("public", f"{{type: Hostname, value: {LB}}}"), ("legacy", "{value: 198.51.100.7}")))
    path = render(tmp_path, "chain.example.com", "elsewhere.example.com", "missing.example.com", extra=gateways)
    report = check(path, [knot(ZONE)], lb_hostnames=())
    assert set(by_host(report, "dns-not-pointing-to-lb")) == {"missing.example.com"}
    assert "Gateway apps/public, Gateway apps/legacy" in by_host(report, "dns-not-pointing-to-lb")[
        "missing.example.com"].message


def test_command_line_beats_policy(tmp_path, knot):
    """--lb-address wins over the policy's loadBalancer, which wins over what the render says."""
    server = knot(ZONE)
    path = render(tmp_path, "direct.example.com", "elsewhere.example.com")
    policy = "loadBalancer: {addresses: [198.51.100.7]}\n"
    from_policy = check(path, [server], lb_hostnames=(), policy=policy)
    assert set(by_host(from_policy, "dns-not-pointing-to-lb")) == {"direct.example.com"}
    from_cli = check(path, [server], lb_hostnames=(), lb_addresses=("192.0.2.10",), policy=policy)
    assert set(by_host(from_cli, "dns-not-pointing-to-lb")) == {"elsewhere.example.com"}


def test_live_change_is_seen_by_the_next_run(tmp_path, knot):
    """Fixing the record with knotc makes the next run pass."""
    server = knot(ZONE)
    path = render(tmp_path, "elsewhere.example.com")
    assert by_host(check(path, [server]), "dns-not-pointing-to-lb")
    server.change(unset=["elsewhere.example.com."], set=[f"elsewhere.example.com. 60 CNAME {LB}."])
    assert dns_findings(check(path, [server])) == []


# -- offline -------------------------------------------------------------------------------------------------------

def test_offline_sends_no_query(tmp_path, knot):
    """--offline: no query reaches the server, no DNS finding, and the DNS line is [?] "offline"."""
    server = knot(ZONE)
    path = render(tmp_path, "elsewhere.example.com", "missing.example.com")
    before = server.queries()
    report = check(path, [server], offline=True)
    assert server.queries() == before
    assert dns_findings(report) == []
    item = dns_item(report, "elsewhere.example.com")
    assert (item.status, item.note) == ("unverified", "offline")
    check(path, [server])  # the same run online does reach it: the counter above can move
    assert server.queries() > before


@pytest.mark.parametrize("setting", ["timeout: .inf", "lifetime: .inf", "lifetime: .nan", "timeout: .NaN",
                                     "lifetime: -.inf", "lifetime: 61", "timeout: 1e9", "lifetime: 0"])
def test_policy_refuses_non_finite_and_absurd_waits(tmp_path, setting):
    """dns.timeout and dns.lifetime must be finite, positive and at most 60 s: .inf would hang on a silent
    nameserver and .nan sent no query. The error names the key; the CLI exits 2."""
    from conftest import gate_cli

    from gate.checks import CHECKS
    from gate.policy import PolicyError, load_policy
    path = write(tmp_path, "p.yaml", f"dns: {{{setting}}}\n")
    with pytest.raises(PolicyError) as error:
        load_policy(str(path), CHECKS.keys())
    assert f"dns.{setting.split(':')[0]}:" in str(error.value)
    proc = gate_cli("check", "--offline", "--policy", str(path), "examples/healthy")
    assert proc.returncode == 2 and f"dns.{setting.split(':')[0]}" in proc.stderr.decode()


def test_policy_accepts_sensible_waits(tmp_path):
    """Fractions of a second up to a minute are fine."""
    from gate.checks import CHECKS
    from gate.policy import load_policy
    path = write(tmp_path, "p.yaml", "dns: {timeout: 0.25, lifetime: 60}\n")
    assert load_policy(str(path), CHECKS.keys()).settings["dns"]["lifetime"] == 60


@pytest.mark.parametrize("option, value", [("--lb-address", "lb.example.com"), ("--nameserver", "1.2.3.4:99999")])
def test_bad_option_values_are_usage_errors(option, value):
    """A malformed --lb-address or --nameserver exits 2 with a message naming the option."""
    from conftest import gate_cli
    proc = gate_cli("check", "--offline", option, value, "examples/healthy")
    assert proc.returncode == 2 and option in proc.stderr.decode()
