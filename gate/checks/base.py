"""What a check is: catalogue data (id, severity, title, remediation, why, options, probe) plus a
function over the index.

A check function takes the run's `Context` and yields `Hit`s; the runner turns them into findings
(severity, suppressions and exemptions decided by the policy), so a check module only says what is
wrong. Families import this module and `gate.domain`, never each other.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from gate.checklist.items import PIPELINES
from gate.config import RunConfig
from gate.domain import certmanager_controller, controllers
from gate.domain.certmanager_controller import CertManagerConfig
from gate.domain.controllers import Controller
from gate.index import Index
from gate.model import SEVERITIES, Hit
from gate.probes.base import ProbeName, ProbeStatus
from gate.progress import NO_PROGRESS, Progress
from gate.sources.documents import Problem

CHECK_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_MISSING = object()

__all__ = ["Check", "Context", "Hit", "InputCounts", "collector"]


@dataclass(frozen=True)
class InputCounts:
    """What the render's sources read, for checks about the input as a whole (input-empty)."""

    files: int = 0
    documents: int = 0  # documents with content (empty ones are not counted)
    skipped: tuple[tuple[str, int, str], ...] = ()  # (file, line, reason): documents that are not objects
    first_input: str = ""  # the first file (or <stdin>) read, for a location when nothing else has one


@dataclass
class Context:
    """Everything a check may read. Checks never do I/O: network answers arrive in `probes`."""

    index: Index
    config: RunConfig = field(default_factory=RunConfig)
    settings: dict[str, Any] = field(default_factory=dict)  # the merged policy document
    load_problems: list[Problem] = field(default_factory=list)  # what the sources found wrong with the input
    # (file, line, message) of policy exemptions past their `expires` date
    expired_exemptions: list[tuple[str, int, str]] = field(default_factory=list)
    check_ids: frozenset[str] = frozenset()  # every id of the catalogue (suppressions may name any)
    selected: frozenset[str] = frozenset()  # the ids this run runs
    cluster_state_sources: tuple[str, ...] = ()
    inputs: InputCounts = field(default_factory=InputCounts)  # what the render's sources read
    probes: dict[str, dict[Any, Any]] = field(default_factory=dict)  # probe name -> request -> result
    probe_status: dict[str, ProbeStatus] = field(default_factory=dict)
    current: Check | None = None  # the check being run: `option` holds it to what it declares
    _world: dict[str, Any] = field(default_factory=dict, repr=False)  # what is learnt once per run
    progress: Progress = NO_PROGRESS  # probes say how many answers are in (stderr, long runs)

    @property
    def offline(self) -> bool:
        return self.config.offline

    def option(self, path: str) -> Any:
        """A policy setting by its dotted path (`dns.lifetime`): declared by the check that reads it,
        with its default in policies/default.yaml, never in code."""
        if self.current is not None and not any(path == o or path.startswith(o + ".") for o in self.current.options):
            raise RuntimeError(f"check {self.current.id} reads the option {path!r} without declaring it")
        value: Any = self.settings
        for step in path.split("."):
            value = value.get(step, _MISSING) if isinstance(value, dict) else _MISSING
            if value is _MISSING:
                raise KeyError(f"policy option {path!r} has no default in policies/default.yaml")
        return value

    def gateway_controller(self) -> Controller:
        """The Gateway controller: the policy's `gatewayController`, else detected from the GatewayClass
        and the controller's Deployment in view (render or cluster state), else unknown."""
        configured = controllers.from_policy(self.option("gatewayController"))
        if configured is not None:
            return configured
        if "controller" not in self._world:
            self._world["controller"] = controllers.detect(
                self.index.all_of("gateway.networking.k8s.io", "GatewayClass"), self.index.all_workloads())
        return self._world["controller"]

    def cert_manager(self) -> CertManagerConfig | None:
        """cert-manager's version and Gateway API support: the policy's `certManager`, else its controller
        Deployment in view, else None (not in view)."""
        configured = certmanager_controller.from_policy(self.option("certManager"))
        if configured is not None:
            return configured
        if "cert-manager" not in self._world:
            config_maps = {(r.namespace, r.name): r for r in self.index.all_of("", "ConfigMap")}
            self._world["cert-manager"] = certmanager_controller.detect(self.index.all_workloads(), config_maps)
        return self._world["cert-manager"]

    def learnt(self, key: str, build: Callable[[], Any]) -> Any:
        """What several checks read, built once per run (`build()` the first time it is asked)."""
        if key not in self._world:
            self._world[key] = build()
        return self._world[key]

    def unresolved_note(self) -> str:
        """What a 'missing' message should add so a user with a partial render knows what to pass."""
        if self.index.cluster_state_consulted:
            sources = "; ".join(self.cluster_state_sources)
            return f"not in the render, nor in the cluster state consulted{f' ({sources})' if sources else ''}"
        return "not in the render (no cluster state consulted: pass --cluster-state or --kube if it exists already)"


@dataclass(frozen=True)
class Check:
    id: str
    severity: str
    title: str
    remediation: str
    why: str  # the upstream behaviour that makes it matter, with its source
    fn: Callable[[Context], Iterable[Hit]] = field(repr=False, compare=False)
    item: str = "manifest"  # the checklist item (gate.checklist.items) its findings land on
    # A "this reference points at nothing" check: policy `unresolvedReferences` sets its severity.
    unresolved: bool = False
    probe: ProbeName | None = None  # the network answers it reads; `--offline` leaves it unverified
    options: tuple[str, ...] = ()  # the policy settings it reads (dotted paths), defaults in default.yaml
    # "check" (`gate check`, the render) or "audit" (`gate audit`, the live cluster): each command runs
    # its own pipeline's checks only.
    pipeline: str = "check"

    def __post_init__(self) -> None:
        if not CHECK_ID.match(self.id):
            raise ValueError(f"check id {self.id!r} is not kebab-case")
        if self.severity not in SEVERITIES:
            raise ValueError(f"check {self.id}: severity {self.severity!r} is not one of {SEVERITIES}")
        if self.pipeline not in PIPELINES:
            raise ValueError(f"check {self.id}: unknown pipeline {self.pipeline!r}")
        if self.item not in PIPELINES[self.pipeline]:
            raise ValueError(f"check {self.id}: unknown checklist item {self.item!r}")
        if self.probe is not None:
            object.__setattr__(self, "probe", ProbeName(self.probe))  # a misspelt probe fails at import
        if not self.why.strip() or not self.remediation.rstrip().endswith("."):
            raise ValueError(f"check {self.id}: needs a why and a remediation that ends with a period")

    @property
    def item_label(self) -> str:
        """The checklist line its findings land on, in words."""
        return PIPELINES[self.pipeline][self.item]


def collector(registry: list[Check], pipeline: str = "check") -> Callable[..., Callable[[Callable], Check]]:
    """`check = collector(CHECKS)`, then `@check("id", "error", title=..., remediation=..., why=...)`."""

    def check(id: str, severity: str, *, title: str, remediation: str, why: str, item: str = "manifest",
              unresolved: bool = False, probe: str | None = None,
              options: tuple[str, ...] = ()) -> Callable[[Callable], Check]:
        def register(fn: Callable[[Context], Iterable[Hit]]) -> Check:
            entry = Check(id=id, severity=severity, title=title, remediation=remediation, why=why, fn=fn,
                          item=item, unresolved=unresolved, probe=ProbeName(probe) if probe else None,
                          options=tuple(options), pipeline=pipeline)
            registry.append(entry)
            return entry
        return register
    return check
