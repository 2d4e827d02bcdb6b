"""DNS of the names the render serves: they must reach the load balancer before a CA validates them.

Let's Encrypt validates HTTP-01 by connecting to the address the name resolves to from public
resolvers, IPv6 first when any AAAA exists, after checking CAA (../shared/docs/domain.md); a name that
points elsewhere fails validation and, in the incident, left cert-manager looping. Names that ACME
HTTP-01 validates are errors; the other served names (listener, route and Ingress hostnames, DNS-01
names) get the same checks at warning level, because traffic will not arrive either.

The lookups happen in the `dns` probe (gate/probes/dns.py); these checks only read its answers.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from gate.checks.base import Check, Context, Hit, collector
from gate.domain.kube import GATEWAY_GROUP, as_dict, as_list, dig, normalize_host
from gate.domain.served_names import Served, served_names
from gate.model import Resource
from gate.probes.base import Probe, ProbeName

# The probe's values (gate.probes.dns_answers) are imported where questions are asked or answers read: an
# offline run has neither, and four frozen dataclasses are start-up a pre-commit hook pays on every commit.
if TYPE_CHECKING:
    from gate.probes.dns_answers import CaaSet, Lookup, NameAnswer, Question

CHECKS: list[Check] = []
check = collector(CHECKS)

# CAA properties a CA understands (RFC 8659, RFC 9495); an unknown one flagged critical forbids issuance
CAA_KNOWN_TAGS = frozenset({"issue", "issuewild", "iodef", "issuemail", "issuevmc", "contactemail",
                            "contactphone"})
CHALLENGE_METHODS = {"http01": "http-01", "dns01": "dns-01"}  # RFC 8657 validationmethods values


@dataclass(frozen=True)
class LoadBalancer:
    hostnames: tuple[str, ...]
    addresses: frozenset[str]
    source: str  # where it came from, for messages


def load_balancer(ctx: Context) -> LoadBalancer | None:
    """The expected target; first match wins: command line, policy, Gateway status, Service status."""
    sources = [
        ("--lb-hostname/--lb-address", ctx.config.dns.lb_hostnames, ctx.config.dns.lb_addresses),
        ("policy loadBalancer", ctx.option("loadBalancer.hostnames") or (), ctx.option("loadBalancer.addresses") or ()),
    ]
    for label, hostnames, addresses in sources:
        if hostnames or addresses:
            return _balancer(hostnames, addresses, label)
    found = _status_targets(ctx)
    if found:
        field = "status.addresses" if found[0][0].kind == "Gateway" else "status.loadBalancer.ingress"
        return _balancer([h for _, hostnames, _ in found for h in hostnames],
                         [a for _, _, addresses in found for a in addresses],
                         f"{field} of {', '.join(res.ref for res, _, _ in found)}")
    return None


def _status_targets(ctx: Context) -> list[tuple[Resource, list, list]]:
    """(object, hostnames, addresses) from the Gateways' status, else the LoadBalancer Services' status.

    Every Gateway (or Service) that has addresses counts: a name pointing at any of them is served.
    """
    gateways = []
    for gateway in ctx.index.all_of(GATEWAY_GROUP, "Gateway"):
        entries = [as_dict(e) for e in as_list(dig(gateway.body, "status", "addresses"))]
        gateways.append((gateway, [e.get("value") for e in entries if e.get("type") == "Hostname"],
                         [e.get("value") for e in entries if e.get("type", "IPAddress") == "IPAddress"]))
    services = []
    for service in ctx.index.all_of("", "Service"):
        if service.spec.get("type") == "LoadBalancer":
            entries = [as_dict(e) for e in as_list(dig(service.body, "status", "loadBalancer", "ingress"))]
            services.append((service, [e.get("hostname") for e in entries], [e.get("ip") for e in entries]))
    for candidates in (gateways, services):
        found = [(res, [h for h in hostnames if h], [a for a in addresses if a])
                 for res, hostnames, addresses in candidates]
        found = [entry for entry in found if entry[1] or entry[2]]
        if found:
            return found
    return []


def _balancer(hostnames: Any, addresses: Any, source: str) -> LoadBalancer:
    names = tuple(dict.fromkeys(normalize_host(h) for h in hostnames if isinstance(h, str) and h.strip()))
    ips = set()
    for value in addresses:
        try:
            ips.add(str(ipaddress.ip_address(str(value).strip())))
        except ValueError:
            continue  # the CLI and the policy schema reject these; a status field may hold anything
    return LoadBalancer(names, frozenset(ips), source)


def caa_identity(ctx: Context, acme_server: str) -> str | None:
    """The CA domain CAA records name for an ACME server (policy dns.caaIdentities: URL or host)."""
    identities = as_dict(ctx.option("dns.caaIdentities"))
    host = (urlsplit(acme_server).hostname or "").lower()
    found = identities.get(acme_server) or identities.get(host)
    return found.lower() if isinstance(found, str) else None


# -- the probe ---------------------------------------------------------------------------------------

def questions(ctx: Context) -> dict[str, Question]:
    """name -> the one Question asked about it (served names and load balancer hostnames)."""
    from gate.probes.dns_answers import Question

    out: dict[str, Question] = {}
    for name, served in served_names(ctx.index).items():
        caa = served.issuance is not None
        if not served.wildcard or caa:
            out[name] = Question(name, addresses=not served.wildcard, caa=caa)
    lb = load_balancer(ctx)
    if out and lb is not None:
        for host in lb.hostnames:
            old = out.get(host)
            out[host] = Question(host, addresses=True, caa=old.caa if old else False)
    return out


def collect(ctx: Context) -> set[Question]:
    return set(questions(ctx).values())


async def execute(requests: set[Question], ctx: Context) -> dict[Question, dict[str, NameAnswer]]:
    # The resolver (asyncio, sockets, dnspython for the system's configuration) only when a run asks
    # DNS: an offline run, a pre-commit hook's, never does
    from gate.probes.dns import Resolver

    resolver = Resolver(
        nameservers=list(ctx.config.dns.nameservers or ctx.option("dns.nameservers") or []),
        timeout=float(ctx.option("dns.timeout")),
        lifetime=float(ctx.option("dns.lifetime")),
    )
    return await resolver.resolve_all(requests, on_answer=ctx.progress.counter("DNS names answered", len(requests)))


PROBES = [Probe(ProbeName.DNS, collect, execute)]


# -- reading the answers -------------------------------------------------------------------------------

class Judgement(NamedTuple):
    """One check's reading of one nameserver's answer about one name."""

    failed: str | None = None  # verified: the check fails, and why
    unknown: str | None = None  # a lookup needed for the check did not complete (dns-unverifiable)
    unjudged: str | None = None  # the answer is there, but the gate cannot judge it (reported unverified)


PASS = Judgement()


@dataclass
class Verdict:
    """One check's result for one name over all nameservers."""

    failures: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    unjudged: list[str] = field(default_factory=list)


LB_RESOLVES, LB_GONE, LB_UNKNOWN = "resolves", "gone", "unknown"


@dataclass(frozen=True)
class Expected:
    """The load balancer as the nameservers resolved it."""

    lb: LoadBalancer | None
    v4: frozenset[str]
    v6: frozenset[str]
    problems: tuple[tuple[str, str], ...]  # (family, why) when a part of the address set is not known
    # (LB hostname, nameserver) -> (LB_RESOLVES | LB_GONE | LB_UNKNOWN, why): a CNAME to the LB hostname
    # only reaches the load balancer while that hostname still has addresses
    hosts: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    def unknown(self, family: str) -> list[str]:
        return [why for fam, why in self.problems if fam == family]

    def host_state(self, host: str, server: str) -> tuple[str, str]:
        return self.hosts.get((host, server), (LB_UNKNOWN, "not looked up"))

    def describe(self) -> str:
        if self.lb is None:
            return ("the load balancer, which is not known (pass --lb-hostname or --lb-address, or set "
                    "loadBalancer in the policy)")
        gone = {host for (host, _), (state, _) in self.hosts.items() if state == LB_GONE}
        names = [f"{h} (which does not resolve)" if h in gone else h for h in self.lb.hostnames]
        parts = [f"a CNAME to {' or '.join(names)}"] if names else []
        if self.v4 or self.v6:
            parts.append(f"addresses within {', '.join(sorted(self.v4 | self.v6))}")
        return f"{' or '.join(parts) or 'no addresses'} (load balancer from {self.lb.source})"


def answers_for(ctx: Context) -> tuple[dict[str, Served], dict[str, dict[str, NameAnswer]], Expected] | None:
    """(served names, name -> nameserver -> answer, the load balancer), or None when DNS was not asked."""
    probe = ctx.probes.get("dns")
    if probe is None:  # offline, or nothing to ask: the framework shows the items as not verified
        return None
    asked = questions(ctx)
    answers = {name: probe[q] for name, q in asked.items() if q in probe}
    return served_names(ctx.index), answers, _expected(load_balancer(ctx), answers)


def _expected(lb: LoadBalancer | None, answers: dict[str, dict[str, NameAnswer]]) -> Expected:
    if lb is None:
        return Expected(None, frozenset(), frozenset(), ())
    found = {"A": {a for a in lb.addresses if ipaddress.ip_address(a).version == 4}}
    found["AAAA"] = set(lb.addresses) - found["A"]
    problems = []
    hosts: dict[tuple[str, str], tuple[str, str]] = {}
    for host in lb.hostnames:
        for server, answer in answers.get(host, {}).items():
            hosts[(host, server)] = _host_state(answer)
        for family in ("A", "AAAA"):
            lookups = [getattr(answer, family.lower()) for answer in answers.get(host, {}).values()]
            lookups = [lookup for lookup in lookups if lookup is not None]
            good = [lookup for lookup in lookups if lookup.definitive]
            for lookup in good:
                found[family].update(lookup.records)
            if not good:  # no nameserver could say: the load balancer's address set is not known
                problem = lookups[0].describe() if lookups else "not looked up"
                problems.append((family, f"the {family} lookup of load balancer hostname {host}: {problem}"))
    return Expected(lb, frozenset(found["A"]), frozenset(found["AAAA"]), tuple(problems), hosts)


def _host_state(answer: NameAnswer) -> tuple[str, str]:
    """Whether a load balancer hostname has addresses, as one nameserver answered its A and AAAA."""
    from gate.probes.dns_answers import NXDOMAIN, RESOLVED

    lookups = [lookup for lookup in (answer.a, answer.aaaa) if lookup is not None]
    if any(lookup.status == RESOLVED and lookup.records for lookup in lookups):
        return LB_RESOLVES, ""
    failed = [lookup for lookup in lookups if not lookup.definitive]
    if failed or not lookups:
        return LB_UNKNOWN, "; ".join(lookup.describe() for lookup in failed) or "not looked up"
    # NXDOMAIN or no A and no AAAA: an ELB/NLB name disappears when its load balancer is deleted
    return LB_GONE, " and ".join(dict.fromkeys(
        "NXDOMAIN" if lookup.status == NXDOMAIN else f"no {kind} record"
        for kind, lookup in zip(("A", "AAAA"), lookups)))


Judge = Callable[[str, "NameAnswer"], Judgement]  # (nameserver, its answer) -> judgement


def _per_server(answers: dict[str, NameAnswer], judge: Judge) -> Verdict:
    verdict = Verdict()
    where = (lambda server: f" (nameserver {server})") if len(answers) > 1 else (lambda server: "")
    for server, answer in answers.items():
        judgement = judge(server, answer)
        for found, messages in zip(judgement, (verdict.failures, verdict.unknown, verdict.unjudged)):
            if found:
                messages.append(found + where(server))
    return verdict


def _lb_in_chain(lookup: Lookup | None, expected: Expected) -> str | None:
    """The first load balancer hostname the CNAME chain of `lookup` reaches, if any."""
    if lookup is None or expected.lb is None:
        return None
    return next((target for target in lookup.chain if target in expected.lb.hostnames), None)


def judge_a(name: str, expected: Expected) -> Judge:
    from gate.probes.dns_answers import NODATA, NXDOMAIN, RESOLVED

    def judge(server: str, answer: NameAnswer) -> Judgement:
        a = answer.a
        if a is None:
            return PASS
        host = _lb_in_chain(a, expected)
        if host is not None:  # a CNAME to the LB hostname passes only while that hostname has addresses
            state, why = expected.host_state(host, server)
            if state == LB_RESOLVES:
                return PASS
            if state == LB_GONE:
                return Judgement(failed=f"{name} is a CNAME to {host}, but the load balancer hostname {host} "
                                        f"does not resolve ({why}): stale after a recreate of the load balancer?")
            return Judgement(unknown=f"{name} is a CNAME to the load balancer hostname {host}, whose own "
                                     f"lookup failed: {why}")
        if a.status == NXDOMAIN:
            via = f" via CNAME {' -> '.join(a.chain)}" if a.chain else ""
            return Judgement(failed=f"{name} does not exist (NXDOMAIN{via}); expected {expected.describe()}")
        if a.status in (RESOLVED, NODATA) and not a.records:
            return Judgement(failed=f"{name} has no A record ({a.describe()}); expected {expected.describe()}")
        if not a.definitive:
            return Judgement(unknown=f"A lookup of {name}: {a.describe()}")
        if expected.lb is None:
            return Judgement(unknown=f"{name} resolves to {a.describe()}, but no load balancer is known: pass "
                                     f"--lb-hostname or --lb-address, set loadBalancer in the policy, or include "
                                     f"the Gateway (with status.addresses) or the LoadBalancer Service (with "
                                     f"status.loadBalancer)")
        if set(a.records) <= expected.v4:
            return PASS
        if expected.unknown("A"):
            return Judgement(unknown=f"{name} resolves to {a.describe()}; {'; '.join(expected.unknown('A'))}")
        return Judgement(failed=f"{name} resolves to {a.describe()}; expected {expected.describe()}")
    return judge


def judge_aaaa(name: str, expected: Expected) -> Judge:
    def judge(server: str, answer: NameAnswer) -> Judgement:
        aaaa, a = answer.aaaa, answer.a
        if aaaa is None or _lb_in_chain(a, expected) or _lb_in_chain(aaaa, expected):
            return PASS  # a CNAME to the LB: the A check judges whether that hostname still resolves
        if not aaaa.definitive:
            return Judgement(unknown=f"AAAA lookup of {name}: {aaaa.describe()}")
        if not aaaa.records or expected.lb is None or set(aaaa.records) <= expected.v6:
            return PASS  # with no load balancer known the A check already says so
        if expected.unknown("AAAA"):
            return Judgement(unknown=f"{name} has AAAA {aaaa.describe()}; {'; '.join(expected.unknown('AAAA'))}")
        lb_v6 = ", ".join(sorted(expected.v6)) or "none"
        return Judgement(failed=f"{name} has AAAA {aaaa.describe()}, not the load balancer's IPv6 addresses "
                                f"({lb_v6}); Let's Encrypt tries IPv6 first and fails")
    return judge


def judge_caa(ctx: Context, served: Served) -> Judge:
    from gate.probes.dns_answers import NODATA, RESOLVED, SERVFAIL

    choice = served.issuance
    ca = caa_identity(ctx, choice.acme_server) if choice else None
    method = CHALLENGE_METHODS.get(choice.challenge) if choice else None

    def judge(server: str, answer: NameAnswer) -> Judgement:
        caa: CaaSet | None = answer.caa
        if caa is None or caa.status == NODATA:
            return PASS
        if caa.status == SERVFAIL:  # the CA's own lookup fails the same way, and it then refuses (RFC 8659)
            return Judgement(failed=f"the CAA lookup of {caa.owner} fails (SERVFAIL); the CA refuses to issue for "
                                    f"{served.name} while CAA cannot be read")
        if caa.status != RESOLVED:
            return Judgement(unknown=f"CAA lookup of {caa.owner}: {caa.status}"
                                     f"{': ' + caa.detail if caa.detail else ''}")
        critical = [tag for flags, tag, _ in caa.records if flags & 128 and tag not in CAA_KNOWN_TAGS]
        if critical:
            return Judgement(failed=f"CAA at {caa.owner} has the critical property {critical[0]!r}, unknown to "
                                    f"CAs: no CA may issue for {served.name}")
        tag = "issuewild" if served.wildcard and any(t == "issuewild" for _, t, _ in caa.records) else "issue"
        values = [value for _, t, value in caa.records if t == tag]
        if not values:
            return PASS  # no issuer restriction in the set
        shown = ", ".join(v.split(";")[0].strip().lower() or '";" (no CA)' for v in values)
        if ca is None:
            return Judgement(unjudged=f"CAA at {caa.owner} allows only {shown} ({tag}); ACME server "
                                      f"{choice.acme_server} has no CA domain in policy dns.caaIdentities")
        if any(_caa_allows(v, ca, method) for v in values):
            return PASS
        return Judgement(failed=f"CAA at {caa.owner} allows only {shown} ({tag}) for {served.name}; the issuer "
                                f"{choice.issuer.ref if choice.issuer else ''} uses {ca} ({choice.acme_server})")
    return judge


def _caa_allows(value: str, ca: str, method: str | None) -> bool:
    domain, _, parameters = value.partition(";")
    if domain.strip().lower() != ca:
        return False
    for parameter in parameters.split(";"):
        key, _, setting = parameter.strip().partition("=")
        if key.strip().lower() == "validationmethods" and method:
            return method in {m.strip().lower() for m in setting.split(",")}
    return True


def _view(answer: NameAnswer) -> tuple:
    """What a name looks like from one nameserver, for comparing nameservers (split horizon)."""
    a, aaaa = answer.a, answer.aaaa
    return (a.status if a else None, a.chain if a else (), a.records if a else (),
            aaaa.records if aaaa and aaaa.definitive else ())


def _hit(served: Served, message: str, *, unverified: bool = False, severity: str | None = None) -> Hit:
    if severity is None and served.level == "warning":
        severity = "warning"
    return Hit(served.owner, message, hostname=served.name, unverified=unverified, severity=severity)


def _addressed(served: dict[str, Served]) -> Iterator[Served]:
    return (s for s in served.values() if not s.wildcard)


# -- the checks ------------------------------------------------------------------------------------------

@check("dns-not-pointing-to-lb", "error", item="dns", probe="dns", options=("dns", "loadBalancer"),
       why="Let's Encrypt validates HTTP-01 by connecting to the address the name resolves to from public resolvers in"
           " several regions; a name that does not reach the load balancer fails validation, and cert-manager's "
           "self-check loops meanwhile (boulder va/va.go; cert-manager pkg/issuer/acme/http/http.go).",
       title="A name does not resolve to the load balancer",
       remediation="Point the name at the load balancer (a CNAME to its hostname, or A records within its "
                   "addresses) and wait for the change to reach public resolvers before applying the "
                   "Certificate.")
def dns_not_pointing_to_lb(ctx: Context) -> Iterator[Hit]:
    return _address_failures(ctx, judge_a)


@check("dns-aaaa-mismatch", "error", item="dns", probe="dns", options=("dns", "loadBalancer"),
       why="When any AAAA record exists Let's Encrypt tries IPv6 first and falls back to IPv4 only on a timeout: a "
           "stale AAAA breaks validation although the A record is right (Let's Encrypt IPv6 validation docs).",
       title="A name has AAAA records that are not the load balancer's",
       remediation="Remove the stale AAAA records, or point them at the load balancer's IPv6 addresses.")
def dns_aaaa_mismatch(ctx: Context) -> Iterator[Hit]:
    return _address_failures(ctx, judge_aaaa)


def _address_failures(ctx: Context, judge: Callable[[str, Expected], Judge]) -> Iterator[Hit]:
    """A hit per looked-up name whose answers `judge` (A or AAAA against the load balancer) fails."""
    found = answers_for(ctx)
    if found is None:
        return
    served, answers, expected = found
    for item in _addressed(served):
        verdict = _per_server(answers.get(item.name, {}), judge(item.name, expected))
        if verdict.failures:
            yield _hit(item, "; ".join(dict.fromkeys(verdict.failures)))


@check("caa-forbids-issuer", "error", item="dns", probe="dns", options=("dns", "loadBalancer"),
       why="A CA checks CAA before every issuance, at the closest record up the tree, and refuses when it is not named"
           " (issue/issuewild); a DNS error on the CAA lookup blocks issuance too (RFC 8659; Let's Encrypt CAA docs).",
       title="CAA records forbid the issuer's CA",
       remediation="Add a CAA record allowing the CA (e.g. `0 issue \"letsencrypt.org\"`, `issuewild` for "
                   "wildcards) at the name or the parent that carries the CAA set, or fix the failing "
                   "CAA lookup.")
def caa_forbids_issuer(ctx: Context) -> Iterator[Hit]:
    found = answers_for(ctx)
    if found is None:
        return
    served, answers, _ = found
    for item in served.values():
        if item.issuance is None:
            continue
        verdict = _per_server(answers.get(item.name, {}), judge_caa(ctx, item))
        # CAA stops issuance whatever the challenge, so DNS-01 names are errors here too
        if verdict.failures:
            yield _hit(item, "; ".join(dict.fromkeys(verdict.failures)), severity="error")
        elif verdict.unjudged:
            yield _hit(item, "; ".join(dict.fromkeys(verdict.unjudged)), unverified=True, severity="error")


@check("dns-unverifiable", "error", item="dns", probe="dns", options=("dns", "loadBalancer"),
       why="A DNS lookup that failed says nothing about the name: the gate cannot claim it points at the load "
           "balancer, so it is reported as could-not-verify rather than passed.",
       title="The DNS of a name could not be verified",
       remediation="Make the nameservers reachable (--nameserver, policy dns.nameservers), raise dns.timeout / "
                   "dns.lifetime, or name the load balancer (--lb-hostname, --lb-address, policy loadBalancer).")
def dns_unverifiable(ctx: Context) -> Iterator[Hit]:
    found = answers_for(ctx)
    if found is None:
        return
    served, answers, expected = found
    on_unverifiable = str(ctx.option("dns.onUnverifiable"))
    for item in served.values():
        by_server = answers.get(item.name, {})
        reasons: list[str] = []
        if not item.wildcard:
            for judge in (judge_a(item.name, expected), judge_aaaa(item.name, expected)):
                verdict = _per_server(by_server, judge)
                if not verdict.failures:
                    reasons += verdict.unknown
        if item.issuance is not None:
            verdict = _per_server(by_server, judge_caa(ctx, item))
            if not verdict.failures:
                reasons += verdict.unknown
        if reasons:
            severity = on_unverifiable if item.level == "error" else "warning"
            yield _hit(item, "could not verify the DNS of " + item.name + ": " + "; ".join(dict.fromkeys(reasons)),
                       unverified=True, severity=severity)


@check("dns-split-horizon", "warning", item="dns", probe="dns", options=("dns", "loadBalancer"),
       why="cert-manager's HTTP-01 self-check resolves with the cluster's DNS while Let's Encrypt resolves publicly; "
           "nameservers that disagree make one of the two fail (cert-manager #863, #3238).",
       title="Nameservers disagree about a name",
       remediation="Make every view of the zone agree with what public resolvers see: the CA validates from "
                   "the public Internet, not from inside the cluster.")
def dns_split_horizon(ctx: Context) -> Iterator[Hit]:
    found = answers_for(ctx)
    if found is None:
        return
    served, answers, _ = found
    for item in _addressed(served):
        by_server = {server: answer for server, answer in answers.get(item.name, {}).items()
                     if answer.a is not None and answer.a.definitive}
        if len(by_server) > 1 and len({_view(answer) for answer in by_server.values()}) > 1:
            views = "; ".join(f"{server}: {answer.a.describe()}"
                              + (f", AAAA {answer.aaaa.describe()}" if answer.aaaa and answer.aaaa.records else "")
                              for server, answer in by_server.items())
            yield _hit(item, f"nameservers disagree about {item.name}: {views}", severity="warning")
