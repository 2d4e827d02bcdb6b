"""What a check is: catalogue data (id, severity, title, remediation) plus a function over the index.

A check function takes the run's `Context` and yields `Hit`s; the runner turns them into findings
(severity from the policy, suppressions, location), so a check module only says what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from gate.index import Index
from gate.model import SEVERITIES, Resource

CHECK_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

# The checklist lines a check can feed, in the order a person reads a service top to bottom.
ITEMS: dict[str, str] = {
    "dns": "DNS A record points to the load balancer",
    "certificate": "Certificate can be issued for the name",
    "issuer": "Issuer and ACME solver can validate the name",
    "listener": "Gateway listener has its TLS Secret",
    "route": "Route attaches to the Gateway",
    "backend": "Backend Service exists",
    "workload": "Workload runs behind the Service",
    "image": "Image present in the registry",
    "order": "Argo CD sync-wave order is safe",
    "manifest": "Manifests are valid",
}


@dataclass(slots=True)
class Hit:
    """What a check found: the resource it is about and what is wrong with it.

    A hit about a place rather than an object (a document that does not parse, a policy entry)
    has no resource and gives `file` and `line` instead.
    """

    resource: Resource | None
    message: str
    file: str | None = None
    line: int | None = None
    # The field the hit is about, e.g. "spec.listeners[2]" or ("metadata", "annotations", key):
    # the finding's line becomes that field's when the document's layout shows it.
    path: str | tuple[str | int, ...] | None = None
    source: str | None = None
    hostname: str | None = None
    unverified: bool = False
    image: str | None = None
    severity: str | None = None  # overrides the check's default (not an explicit policy setting)
    # False for a hit of an `unresolved` check that is about something other than a missing object
    # (a wrong port): policy `unresolvedReferences` then leaves its severity alone.
    points_at_nothing: bool = True


@dataclass
class Context:
    """Everything a check may read. Checks never do I/O: network answers arrive in `probes`."""

    index: Index
    settings: dict[str, Any] = field(default_factory=dict)  # the merged policy document
    # (file, line, message, helm source, check id) of what the loader found wrong with the input
    load_problems: list[tuple[str, int, str, str | None, str]] = field(default_factory=list)
    # (file, line, message) of policy exemptions past their `expires` date
    expired_exemptions: list[tuple[str, int, str]] = field(default_factory=list)
    offline: bool = False
    options: dict[str, Any] = field(default_factory=dict)  # command-line settings (lb, nameservers...)
    probes: dict[str, dict[Any, Any]] = field(default_factory=dict)  # probe name -> request -> result
    probe_status: dict[str, str] = field(default_factory=dict)  # probe name -> "ran" / "offline" / ...

    def unresolved_note(self) -> str:
        """What a 'missing' message should add so a user with a partial render knows what to pass."""
        if self.index.cluster_state_consulted:
            sources = "; ".join(self.options.get("cluster_state_sources", ()))
            return f"not in the render, nor in the cluster state consulted{f' ({sources})' if sources else ''}"
        return "not in the render (no cluster state consulted: pass --cluster-state or --kube if it exists already)"


@dataclass(frozen=True)
class Check:
    id: str
    severity: str
    title: str
    remediation: str
    fn: Callable[[Context], Iterable[Hit]] = field(repr=False, compare=False)
    item: str = "manifest"
    # A "this reference points at nothing" check: policy `unresolvedReferences` sets its severity.
    unresolved: bool = False
    network: str | None = None  # the probe it needs ("dns", "registry"); `--offline` leaves it unverified

    def __post_init__(self) -> None:
        if not CHECK_ID.match(self.id):
            raise ValueError(f"check id {self.id!r} is not kebab-case")
        if self.severity not in SEVERITIES:
            raise ValueError(f"check {self.id}: severity {self.severity!r} is not one of {SEVERITIES}")
        if self.item not in ITEMS:
            raise ValueError(f"check {self.id}: unknown checklist item {self.item!r}")


def collector(registry: list[Check]) -> Callable[..., Callable[[Callable], Check]]:
    """`check = collector(CHECKS)`, then `@check("id", "error", title=..., remediation=...)`."""

    def check(id: str, severity: str, *, title: str, remediation: str, item: str = "manifest",
              unresolved: bool = False, network: str | None = None) -> Callable[[Callable], Check]:
        def register(fn: Callable[[Context], Iterable[Hit]]) -> Check:
            entry = Check(id=id, severity=severity, title=title, remediation=remediation, fn=fn, item=item,
                          unresolved=unresolved, network=network)
            registry.append(entry)
            return entry
        return register
    return check


@dataclass(frozen=True)
class Probe:
    """A batch of network questions the run asks once, concurrently, before the checks read answers.

    `collect` returns the distinct requests (names, image references) the index needs answered;
    `execute` answers them all and returns request -> result, where failures are result values,
    never exceptions, so a failed lookup becomes "could not verify", never a pass.
    """

    name: str
    collect: Callable[[Context], set[Any]]
    execute: Callable[[set[Any], Context], Awaitable[dict[Any, Any]]]
