"""cert-manager's objects as they live in a cluster: Challenges, Orders, solver HTTPRoutes, Certificate
status, and the clock arithmetic an audit needs (stuck since, next attempt under backoff).

Sources (../shared/docs/domain.md, cert-manager section): solver routes carry the label
`acme.cert-manager.io/http01-solver=true` and a controller ownerReference to their Challenge
(pkg/issuer/acme/http/httproute.go); cert-manager keeps at most one per Challenge from v1.15.2 on,
and before that leaks one per self-check round with Gateway API support off (#7176). On a final
Challenge state cert-manager deletes solver pods and Services but never solver HTTPRoutes; those
go only with their owner by garbage collection (#5260). Issuance backoff after a failed
CertificateRequest: 1h x 2^(n-1), capped at 32h, from `status.lastFailureTime`
(pkg/controller/certificates/trigger/trigger_controller.go).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field

from gate.domain.kube import as_dict, as_list
from gate.model import Resource

ACME_GROUP = "acme.cert-manager.io"
SOLVER_LABEL = "acme.cert-manager.io/http01-solver"
CHALLENGE_STATES = ("pending", "processing", "valid", "ready", "invalid", "errored", "expired")
FINAL_STATES = frozenset({"valid", "invalid", "errored", "expired"})
BACKOFF_START = dt.timedelta(hours=1)
BACKOFF_CAP = dt.timedelta(hours=32)
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_time(value: object) -> dt.datetime | None:
    """An RFC 3339 timestamp as the API server writes it (`2026-03-22T18:00:00Z`), else None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def show_time(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_duration(value: object) -> dt.timedelta:
    """`15m`, `1h30m`, `90s` (the subset of Go durations the policy accepts)."""
    match = _DURATION.match(str(value).strip()) if isinstance(value, str) else None
    if match is None or not any(match.groups()):
        raise ValueError(f"not a duration like 15m or 1h30m: {value!r}")
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return dt.timedelta(hours=hours, minutes=minutes, seconds=seconds)


def show_duration(delta: dt.timedelta) -> str:
    """`2h 05m`, `14m`, `40s`: how long, for a person."""
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return "0s"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m" if minutes else f"{secs}s"


def created(resource: Resource) -> dt.datetime | None:
    return parse_time(resource.metadata.get("creationTimestamp"))


def uid(resource: Resource) -> str:
    value = resource.metadata.get("uid")
    return value if isinstance(value, str) else ""


def is_solver_route(resource: Resource) -> bool:
    return resource.kind == "HTTPRoute" and resource.labels.get(SOLVER_LABEL) == "true"


def owner(resource: Resource, kind: str) -> tuple[str, str] | None:
    """(uid, name) of the object's controller ownerReference of `kind` (else its first of that kind)."""
    refs = [as_dict(r) for r in as_list(resource.metadata.get("ownerReferences"))]
    refs = [r for r in refs if r.get("kind") == kind]
    chosen = next((r for r in refs if r.get("controller") is True), refs[0] if refs else None)
    if chosen is None:
        return None
    return str(chosen.get("uid", "")), str(chosen.get("name", ""))


def challenge_state(challenge: Resource) -> str:
    state = as_dict(challenge.body.get("status")).get("state")
    return state if isinstance(state, str) and state else "pending"


def condition(resource: Resource, kind: str) -> dict | None:
    for cond in as_list(as_dict(resource.body.get("status")).get("conditions")):
        if isinstance(cond, dict) and cond.get("type") == kind:
            return cond
    return None


def next_attempt(failed_attempts: object, last_failure: dt.datetime | None) -> dt.datetime | None:
    """When cert-manager issues again after `failed_attempts` failed CertificateRequests: 1h x 2^(n-1),
    capped at 32h, from the last failure. None without a failure to count from."""
    if not isinstance(failed_attempts, int) or isinstance(failed_attempts, bool) or failed_attempts < 1:
        return None
    if last_failure is None:
        return None
    delay = BACKOFF_START * (2 ** min(failed_attempts - 1, 10))
    return last_failure + min(delay, BACKOFF_CAP)


# What the self-check's error says, in the words cert-manager and Go's net/http write it
# (pkg/issuer/acme/http/http.go: "failed to perform self check GET request", "wrong status code",
# "did not get expected response"; the challenges controller prefixes "Waiting for HTTP-01 challenge
# propagation: "). First match wins.
REASON_MEANINGS = (
    ("gateway api is not enabled",
     "cert-manager's Gateway API support is disabled: it cannot create the solver HTTPRoute"),
    ("no such host",
     "DNS: the name does not resolve (from the cluster's resolver); point it at the load balancer"),
    ("server misbehaving", "DNS: the cluster's resolver could not answer for the name"),
    ("connection refused",
     "DNS points at an address that refuses port 80: not the load balancer, or no HTTP listener there"),
    ("i/o timeout", "DNS points at an address that does not answer on port 80 (not the load balancer?)"),
    ("context deadline exceeded", "the name's address does not answer on port 80 in time (DNS or firewall)"),
    ("connection reset by peer", "the address resets HTTP: a redirect to HTTPS before the certificate exists, "
                                 "or not the load balancer"),
    ("wrong status code '404'",
     "the request reaches an ingress, but no route serves the token: the solver route is not attached to "
     "the Gateway (listener, hostname, port or allowedRoutes), or DNS points at another ingress"),
    ("wrong status code '503'", "the solver route is attached but its backend (solver Service or pod) is missing"),
    ("wrong status code '502'", "the solver route is attached but its backend (solver pod) does not answer"),
    ("wrong status code", "the request reaches a server that does not serve the token"),
    ("did not get expected response", "DNS points at another server, which answers with something else"),
    ("certificate", "the request was redirected to HTTPS, which has no valid certificate yet"),
)


def reason_meaning(reason: str) -> str | None:
    lowered = reason.lower()
    for marker, meaning in REASON_MEANINGS:
        if marker in lowered:
            return meaning
    return None


@dataclass
class SolverRoutes:
    """Solver HTTPRoutes grouped by owner Challenge and by namespace, built once per run."""

    by_owner: dict[str, list[Resource]] = field(default_factory=lambda: defaultdict(list))  # owner uid
    by_namespace: dict[str, list[Resource]] = field(default_factory=lambda: defaultdict(list))
    unowned: list[Resource] = field(default_factory=list)  # no Challenge ownerReference at all
    owner_names: dict[str, str] = field(default_factory=dict)  # owner uid -> name in the reference


def group_solver_routes(routes: list[Resource]) -> SolverRoutes:
    found = SolverRoutes()
    for route in routes:
        if not is_solver_route(route):
            continue
        found.by_namespace[route.namespace].append(route)
        ref = owner(route, "Challenge")
        if ref is None or not ref[0]:
            found.unowned.append(route)
            continue
        found.by_owner[ref[0]].append(route)
        found.owner_names.setdefault(ref[0], ref[1])
    return found


def span(resources: list[Resource]) -> tuple[dt.datetime | None, dt.datetime | None, float | None]:
    """(oldest, newest creation time, growth per hour between them) of a group of objects."""
    times = sorted(t for t in map(created, resources) if t is not None)
    if not times:
        return None, None, None
    hours = (times[-1] - times[0]).total_seconds() / 3600
    rate = (len(times) - 1) / hours if hours > 0 else None
    return times[0], times[-1], rate
