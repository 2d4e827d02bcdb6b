"""The alerting rules `gate alerts` prints, as one table of data.

Everything a rule needs lives in its `AlertRule` row: the PromQL expression (a `string.Template` with
`${ns}` for the namespace matcher and `${max_httproutes}` for the route threshold), how long it must
hold, its severity, the annotations, the threshold with its reasoning (for docs/alerts.md), and the
cert-manager versions it applies to. render.py only fills the templates in and lays the rows out in
one of three formats.

Why these signals and not an ACME request rate: while cert-manager's HTTP-01 self-check fails, it never
asks the ACME server to validate, so Let's Encrypt sees nothing and no ACME error or rate limit shows
up. What does move is the Challenge state, the solver HTTPRoute count, the challenges controller's
sync rate, and then the ingress controller's memory, restarts and config reloads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Version = tuple[int, int, int]

# cert-manager releases that change what can be alerted on.
CHALLENGE_METRIC_SINCE: Version = (1, 19, 0)  # certmanager_certificate_challenge_status appears
LEAK_FIXED_IN: Version = (1, 15, 2)  # the HTTPRoute lister starts without Gateway API support too
PARENTREF_LOOP_IN: Version = (1, 20, 0)  # solver route rejected by the HTTPRoute CRD, fixed in v1.20.1

GROUPS = {
    "cert-manager": "ingress-gate.cert-manager",
    "gateway-api": "ingress-gate.gateway-api",
    "ingress": "ingress-gate.ingress-controller",
}

_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


def parse_version(text: str) -> Version:
    """`v1.15.1`, `1.15.1` or `1.15` (patch 0); anything else is a ValueError."""
    match = _VERSION.fullmatch(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a cert-manager version such as 1.15.1 or v1.19.2")
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def show(version: Version) -> str:
    return "v" + ".".join(map(str, version))


@dataclass(frozen=True)
class Hint:
    """A sentence of a description that only holds for some cert-manager versions.

    With no version given every hint is kept (each one names the versions it is about); with a version,
    only those that apply to it.
    """

    text: str
    before: Version | None = None  # applies to versions < before
    since: Version | None = None  # applies to versions >= since
    only: Version | None = None  # applies to exactly this version
    cause: bool = False  # a likely cause when the version is known to have it, a possible one otherwise

    def applies(self, version: Version | None) -> bool:
        if version is None:
            return True
        if self.only is not None and version != self.only:
            return False
        if self.before is not None and version >= self.before:
            return False
        return not (self.since is not None and version < self.since)


@dataclass(frozen=True)
class AlertRule:
    alert: str
    group: str  # a key of GROUPS
    severity: str  # "critical" pages, "warning" notifies
    for_: str
    expr: str  # string.Template: ${ns}, ${max_httproutes}
    summary: str
    description: str  # Prometheus template text: {{ $labels.x }} is expanded when the alert fires
    threshold: str  # the condition in words and why it is set there (docs only)
    hints: tuple[Hint, ...] = ()
    since: Version | None = None  # cert-manager versions the rule needs (None: any)
    before: Version | None = None  # only for cert-manager < before; left out when no version is given

    def applies(self, version: Version | None) -> bool:
        if version is None:
            return self.before is None  # no version given: assume a current cert-manager
        if self.before is not None and version >= self.before:
            return False
        return not (self.since is not None and version < self.since)

    def describe(self, version: Version | None) -> str:
        parts = [self.description.strip()]
        for hint in self.hints:
            if hint.applies(version):
                prefix = ("Likely cause: " if version else "Possible cause: ") if hint.cause else ""
                parts.append(prefix + hint.text.strip())
        return " ".join(parts)


_LEAK = Hint(
    "cert-manager < v1.15.2 with the gatewayHTTPRoute solver and Gateway API support off "
    "(no --enable-gateway-api, Helm config.enableGatewayAPI=false) creates a new cm-acme-http-solver "
    "HTTPRoute on every self-check round, every 10 s, and never deletes the old ones (cert-manager #7176, "
    "fixed in v1.15.2 and v1.16.0).",
    before=LEAK_FIXED_IN, cause=True)
_LEAK_TOO = Hint(
    "With cert-manager < v1.15.2, the gatewayHTTPRoute solver and Gateway API support off, every self-check "
    "round also leaks a solver HTTPRoute (cert-manager #7176): watch GatewayHTTPRouteCountGrowing.",
    before=LEAK_FIXED_IN)
_ONE_ROUTE = Hint(
    "cert-manager >= v1.15.2 keeps at most one solver route per Challenge, so growth means many "
    "Challenges (count them with kubectl get challenges -A) or another controller creating routes; a "
    "failed Challenge still leaves its route behind until the Challenge is deleted (cert-manager #5260).",
    since=LEAK_FIXED_IN)
_ROUTE_CHECK = (
    "Count the solver routes with kubectl get httproute -A -l acme.cert-manager.io/http01-solver=true "
    "--no-headers | wc -l. Every HTTPRoute is held in the ingress controller's memory and triggers a "
    "config rebuild: fix the Challenges (DNS to the load balancer first) before the controller runs out "
    "of memory, then delete the stale routes.")

RULES: tuple[AlertRule, ...] = (
    AlertRule(
        alert="CertManagerChallengeStuck",
        group="cert-manager",
        severity="warning",
        for_="15m",
        # One series per Challenge and state, value 1 for the current state. `reason` is a label and
        # its text changes while the self-check retries, which would restart `for`: aggregate it away.
        # "" is a Challenge not yet scheduled; pending/processing are the states before a result.
        expr="""
max by (namespace, name, domain, type) (
  certmanager_certificate_challenge_status{status=~"|pending|processing"}
) == 1
""",
        summary="ACME Challenge {{ $labels.namespace }}/{{ $labels.name }} for {{ $labels.domain }} is stuck",
        description=(
            "The {{ $labels.type }} Challenge {{ $labels.namespace }}/{{ $labels.name }} for "
            "{{ $labels.domain }} has not reached a final state for 15 minutes; a working HTTP-01 "
            "issuance takes 2-5 minutes. cert-manager's self-check never times out (cert-manager #7234) "
            "and sends nothing to the ACME server while it fails, so Let's Encrypt reports no error. "
            "Usual causes: the name's DNS does not point at the ingress load balancer yet, the solver "
            "HTTPRoute does not attach to a Gateway listener on port 80, or cert-manager runs without "
            "Gateway API support (reason \"gateway api is not enabled\"). See the reason with kubectl get "
            "challenge -n {{ $labels.namespace }} {{ $labels.name }} -o jsonpath='{.status.reason}'."),
        threshold="a Challenge neither valid nor failed for 15 minutes: three times a slow normal "
                  "issuance; the incident's leak had added about 300 routes by then",
        hints=(_LEAK_TOO,),
        since=CHALLENGE_METRIC_SINCE,
    ),
    AlertRule(
        alert="CertManagerCertificateNotReady",
        group="cert-manager",
        severity="warning",
        for_="15m",
        # The fallback where certmanager_certificate_challenge_status does not exist (< v1.19). A new
        # Certificate is Ready=False from the start; a renewal keeps Ready=True while it runs, so this
        # sees failed first issuances (the incident's case) and expired certificates, not a stuck renewal.
        expr="""
max by (namespace, name) (
  certmanager_certificate_ready_status{condition="False"}
) == 1
""",
        summary="Certificate {{ $labels.namespace }}/{{ $labels.name }} has not been Ready for 15 minutes",
        description=(
            "cert-manager reports Certificate {{ $labels.namespace }}/{{ $labels.name }} Ready=False for "
            "15 minutes; a working ACME HTTP-01 issuance takes 2-5 minutes. With HTTP-01, look at its "
            "Challenges (kubectl get challenges -n {{ $labels.namespace }}): a Challenge pending with "
            "\"Waiting for HTTP-01 challenge propagation\" is a failing self-check, which never times out "
            "(cert-manager #7234) and never reaches Let's Encrypt. Usual cause: the name's DNS does not "
            "point at the ingress load balancer yet."),
        threshold="Ready=False for 15 minutes: three times a slow normal issuance",
        hints=(_LEAK_TOO,),
        before=CHALLENGE_METRIC_SINCE,
    ),
    AlertRule(
        alert="GatewayHTTPRouteCountHigh",
        group="gateway-api",
        severity="warning",
        for_="5m",
        # kube-apiserver's count of stored objects, cluster-wide. Kubernetes 1.34 deprecates
        # apiserver_storage_objects for apiserver_resource_objects (the group moves to its own label);
        # `or` reads whichever the cluster exports. Every apiserver replica reports the same count:
        # max, not sum. -1 means the count failed.
        expr="""
(
  max by (cluster) (apiserver_storage_objects{resource="httproutes.gateway.networking.k8s.io"} >= 0)
  or
  max by (cluster) (apiserver_resource_objects{group="gateway.networking.k8s.io", resource="httproutes"} >= 0)
) > ${max_httproutes}
""",
        summary="The cluster stores {{ $value | printf \"%.0f\" }} HTTPRoutes",
        description=(
            "The cluster stores {{ $value | printf \"%.0f\" }} HTTPRoutes, more than the threshold set for it. " + _ROUTE_CHECK),
        threshold="more than --max-httproutes (default 200) HTTPRoutes for 5 minutes; set it to 2-3 times "
                  "the cluster's normal count (the incident cluster had about 30 before the leak)",
        hints=(_LEAK, _ONE_ROUTE),
    ),
    AlertRule(
        alert="GatewayHTTPRouteCountGrowing",
        group="gateway-api",
        severity="critical",
        for_="30m",
        # The slope over 30 minutes, per hour. A one-off deploy of many routes is a step: its slope
        # stays high for less than the 30 minute window, so `for: 30m` only lets sustained growth
        # through. The incident leaked about 1,250 routes an hour (one every ~11.5 s in 4 namespaces).
        expr="""
deriv((
  max by (cluster) (apiserver_storage_objects{resource="httproutes.gateway.networking.k8s.io"} >= 0)
  or
  max by (cluster) (apiserver_resource_objects{group="gateway.networking.k8s.io", resource="httproutes"} >= 0)
)[30m:1m]) * 3600 > 120
""",
        summary="HTTPRoutes are growing by {{ $value | printf \"%.0f\" }} an hour",
        description=(
            "The number of HTTPRoutes has grown steadily for over 30 minutes, now at "
            "{{ $value | printf \"%.0f\" }} an hour. " + _ROUTE_CHECK),
        threshold="more than 120 new HTTPRoutes an hour, sustained for 30 minutes: a one-off deploy of "
                  "many routes is a step and never lasts that long; the incident's leak added ~1,250 an hour",
        hints=(_LEAK, _ONE_ROUTE),
    ),
    AlertRule(
        alert="CertManagerChallengeSyncStorm",
        group="cert-manager",
        severity="warning",
        for_="30m",
        # Leader election: only one controller pod syncs at a time, and the leader can move, so sum per
        # namespace rather than per pod. A failing self-check re-queues its Challenge every 10 s
        # (--dns01-check-retry-period), so one stuck Challenge alone is about 0.1 syncs a second.
        expr="""
sum by (namespace) (
  rate(certmanager_controller_sync_call_count{controller="challenges", ${ns}}[10m])
) > 0.05
""",
        summary="cert-manager's challenges controller is resyncing {{ $value | printf \"%.2f\" }} times a second",
        description=(
            "The challenges controller in {{ $labels.namespace }} has been syncing "
            "{{ $value | printf \"%.2f\" }} times a second for 30 minutes: Challenges are being retried "
            "without end. Each failing HTTP-01 self-check re-queues its Challenge every 10 s; find them "
            "with kubectl get challenges -A and read their status.reason."),
        threshold="more than 0.05 syncs a second (3 a minute) for 30 minutes: half the rate of a single "
                  "stuck Challenge; normal issuance syncs a handful of times per certificate",
        hints=(
            _LEAK,
            Hint("cert-manager v1.20.0 loops when a solver route has two parentRefs to the same Gateway "
                 "and no sectionName: the HTTPRoute CRD rejects it on every try (cert-manager #8634, fixed "
                 "in v1.20.1).", only=PARENTREF_LOOP_IN, cause=True),
        ),
    ),
    AlertRule(
        alert="IngressContainerMemoryNearLimit",
        group="ingress",
        severity="warning",
        for_="5m",
        # cAdvisor's working set is what the kernel's OOM killer compares with the limit. Its container=""
        # series is the pod's cgroup and "POD" the pause container: neither has a container limit.
        expr="""
max by (namespace, pod, container) (
  container_memory_working_set_bytes{container!="", container!="POD", ${ns}}
)
/
max by (namespace, pod, container) (
  kube_pod_container_resource_limits{resource="memory", ${ns}}
)
> 0.7
""",
        summary="{{ $labels.namespace }}/{{ $labels.pod }} {{ $labels.container }} uses "
                "{{ $value | humanizePercentage }} of its memory limit",
        description=(
            "Container {{ $labels.container }} of {{ $labels.namespace }}/{{ $labels.pod }} has used more than "
            "70% of its memory limit for 5 minutes. An ingress controller holds every route of the cluster "
            "in memory and rebuilds its configuration on each change, so a growing route count "
            "(GatewayHTTPRouteCountHigh) grows it until the kernel kills it (OOMKilled, exit code 137). "
            "Remove the cause (stale solver routes) before raising the limit; with Go controllers set "
            "GOMEMLIMIT below the limit."),
        threshold="working set above 70% of the container's memory limit for 5 minutes: room to act "
                  "before the OOM kill at 100%",
    ),
    AlertRule(
        alert="IngressPodCrashLooping",
        group="ingress",
        severity="critical",
        for_="5m",
        # The waiting reason flips back to running for a few seconds at each restart: max_over_time keeps
        # it set across those gaps. The restart count catches a loop kube-state-metrics scraped between
        # back-offs.
        expr="""
max by (namespace, pod, container) (
  max_over_time(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff", ${ns}}[5m])
) >= 1
or
max by (namespace, pod, container) (
  increase(kube_pod_container_status_restarts_total{${ns}}[15m])
) >= 3
""",
        summary="{{ $labels.namespace }}/{{ $labels.pod }} {{ $labels.container }} is crash-looping",
        description=(
            "Container {{ $labels.container }} of {{ $labels.namespace }}/{{ $labels.pod }} keeps restarting. "
            "For an ingress controller with one replica this is a full ingress outage. kubectl describe pod "
            "-n {{ $labels.namespace }} {{ $labels.pod }} shows the last state: OOMKilled (exit code 137) "
            "after a route count jump points at leaked solver HTTPRoutes (GatewayHTTPRouteCountHigh); each "
            "restart loads the whole route table again and dies again."),
        threshold="CrashLoopBackOff seen within 5 minutes, or 3 restarts in 15 minutes, for 5 minutes",
    ),
    AlertRule(
        alert="TraefikConfigReloadRateHigh",
        group="ingress",
        severity="warning",
        for_="15m",
        # Traefik counts one reload per configuration build (a changed route, Service or EndpointSlice,
        # throttled by providersThrottleDuration) and records the time of the last successful one in
        # traefik_config_last_reload_success. A leak adds a route every few seconds, so it rebuilds
        # constantly; a stable cluster rebuilds a few times an hour.
        expr="""
sum by (namespace, pod) (
  rate(traefik_config_reloads_total{${ns}}[10m])
) > 0.2
""",
        summary="Traefik {{ $labels.namespace }}/{{ $labels.pod }} rebuilds its configuration "
                "{{ $value | printf \"%.2f\" }} times a second",
        description=(
            "Traefik {{ $labels.namespace }}/{{ $labels.pod }} has reloaded its configuration more than once "
            "every 5 seconds for 15 minutes. Each reload rebuilds the routing table of every route in the "
            "cluster; something keeps changing routes or their backends, such as cert-manager creating "
            "solver HTTPRoutes. time() - traefik_config_last_reload_success tells how long ago the last "
            "build succeeded."),
        threshold="more than 0.2 reloads a second (one every 5 s) for 15 minutes; the incident's leak "
                  "changed a route every ~3 s",
        hints=(_LEAK,),
    ),
    AlertRule(
        alert="IngressHPAAtMaxReplicas",
        group="ingress",
        severity="warning",
        for_="10m",
        # An HPA with min = max is always "at max": leave those out.
        expr="""
max by (namespace, horizontalpodautoscaler) (
  kube_horizontalpodautoscaler_status_current_replicas{${ns}}
)
>=
max by (namespace, horizontalpodautoscaler) (
  kube_horizontalpodautoscaler_spec_max_replicas{${ns}}
)
unless
max by (namespace, horizontalpodautoscaler) (
  kube_horizontalpodautoscaler_spec_max_replicas{${ns}}
)
<=
max by (namespace, horizontalpodautoscaler) (
  kube_horizontalpodautoscaler_spec_min_replicas{${ns}}
)
""",
        summary="HPA {{ $labels.namespace }}/{{ $labels.horizontalpodautoscaler }} is at its maximum replicas",
        description=(
            "HPA {{ $labels.namespace }}/{{ $labels.horizontalpodautoscaler }} has run at its maxReplicas for "
            "10 minutes and cannot add capacity. For an ingress controller, CPU spent rebuilding a huge "
            "route table looks like load: check the HTTPRoute count before raising maxReplicas."),
        threshold="current replicas >= maxReplicas for 10 minutes (HPAs with minReplicas = maxReplicas "
                  "left out)",
    ),
)

# Rules whose selectors are scoped to --namespace (the namespaces cert-manager and the ingress
# controller run in). The others carry no such namespace: the Challenge and Certificate metrics are
# labelled with the namespace of the object (the application's), the apiserver counts are cluster-wide.
NAMESPACED = frozenset(r.alert for r in RULES if "${ns}" in r.expr)


def select(version: Version | None) -> list[AlertRule]:
    return [rule for rule in RULES if rule.applies(version)]


def markdown_table() -> str:
    """The summary table of docs/alerts.md (a test keeps the two equal)."""
    def versions(rule: AlertRule) -> str:
        if rule.since:
            return f">= {show(rule.since)}"
        if rule.before:
            return f"< {show(rule.before)}"
        return "any"

    lines = ["| Alert | Severity | For | Fires when | cert-manager |", "|---|---|---|---|---|"]
    lines += [f"| [{r.alert}](#{r.alert.lower()}) | {r.severity} | {r.for_} | {r.threshold} | {versions(r)} |"
              for r in RULES]
    return "\n".join(lines) + "\n"
