"""run(config) -> Report: the whole pipeline (load -> index -> probes -> checks -> checklist)."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from gate.checklist import build_checklists
from gate.checks import CHECKS, PROBES
from gate.checks.base import Check, Context, Hit
from gate.index import Index
from gate.sources.files import DEFAULT_MAX_FILE_BYTES, LoadResult, load_paths, paused_gc
from gate.sources.field_lines import field_line
from gate.model import SEVERITY_RANK, Finding, ServiceChecklist, Skipped, Suppressed
from gate.policy import Policy, load_policy, suppression_annotations
from gate.sources.snapshot import SourceError, check_options, gather_cluster_state, load_argocd_app

FAIL_ON = ("error", "warning")


class UsageError(Exception):
    """Bad options (unknown check id, ...): exit code 2."""


@dataclass
class RunConfig:
    paths: list[str]
    policy: str | None = None
    namespace: str = "default"
    offline: bool = False
    fail_on: str = "error"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    stdin: Any = None
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    today: dt.date | None = None
    # Settings later stages read through Context.options (load balancer, nameservers, registries...)
    options: dict[str, Any] = field(default_factory=dict)
    # What already exists (issue 6): snapshot files/folders, the live API, and Argo CD as a render source
    cluster_state: list[str] = field(default_factory=list)
    kube: bool = False
    kubeconfig: str | None = None
    kube_context: str | None = None
    argocd_app: str | None = None
    argocd_insecure: bool = False


@dataclass
class Report:
    findings: list[Finding]
    services: list[ServiceChecklist]
    unassigned: list[Finding]  # findings that belong to no HTTPS service
    suppressed: list[Suppressed]
    skipped: list[Skipped]
    errors: list[str]  # inputs that could not be read at all (exit code 2)
    checks: list[Check]
    fail_on: str = "error"
    files: int = 0
    documents: int = 0
    resources: int = 0
    policy_path: str | None = None
    probe_status: dict[str, str] = field(default_factory=dict)
    cluster_state_consulted: bool = False
    known: int = 0  # objects known to exist from cluster state (snapshots, the live API)

    @property
    def passed(self) -> bool:
        threshold = SEVERITY_RANK[self.fail_on]
        return not any(SEVERITY_RANK[f.severity] >= threshold for f in self.findings)

    @property
    def summary(self) -> dict[str, int]:
        counts = {"error": 0, "warning": 0, "info": 0, "unverified": 0}
        for finding in self.findings:
            counts["unverified" if finding.unverified else finding.severity] += 1
        return counts


def select_checks(policy: Policy, include: tuple[str, ...], exclude: tuple[str, ...]) -> list[Check]:
    unknown = sorted({*include, *exclude} - CHECKS.keys())
    if unknown:
        raise UsageError(f"unknown check id{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)} "
                         f"(see `gate checks`)")
    chosen = [c for c in CHECKS.values() if (not include or c.id in include) and c.id not in exclude]
    return [c for c in chosen if policy.severities.get(c.id) != "off"]


def severity(check: Check, hit: Hit, policy: Policy) -> str:
    explicit = policy.severities.get(check.id)
    if explicit:
        return explicit
    if check.unresolved and hit.points_at_nothing and policy.settings.get("unresolvedReferences"):
        return policy.settings["unresolvedReferences"]
    return hit.severity or check.severity


def to_finding(check: Check, hit: Hit, policy: Policy) -> Finding:
    res = hit.resource
    target = res.derived_from if res is not None and res.derived_from is not None else res
    line = hit.line or (field_line(res, hit.path) if res is not None and res is target and hit.path else None)
    return Finding(
        check=check.id, severity=severity(check, hit, policy), message=hit.message,
        file=hit.file or (target.file if target else "<input>"), line=line or (target.line if target else 1),
        api_version=res.api_version if res else "", kind=res.kind if res else "",
        namespace=res.namespace if res else "", name=res.name if res else "",
        remediation=check.remediation, source=hit.source or (target.source if target else None),
        hostname=hit.hostname, unverified=hit.unverified, image=hit.image,
    )


def run_probes(ctx: Context, checks: list[Check]) -> None:
    """Ask every probe the selected checks need, all at once, unless offline."""
    needed = {c.network for c in checks if c.network}
    jobs = []
    for probe in PROBES:
        if probe.name not in needed:
            continue
        if ctx.offline:
            ctx.probe_status[probe.name] = "offline"
            continue
        requests = probe.collect(ctx)
        ctx.probe_status[probe.name] = "ran" if requests else "nothing to ask"
        if requests:
            jobs.append((probe, requests))
    if not jobs:
        return

    async def ask_all() -> list[dict[Any, Any]]:
        return await asyncio.gather(*(probe.execute(requests, ctx) for probe, requests in jobs))

    for (probe, _), answers in zip(jobs, asyncio.run(ask_all())):
        ctx.probes[probe.name] = answers


def run(config: RunConfig, *, known: list | None = None) -> Report:
    with paused_gc():
        return _run(config, known=known)


def _run(config: RunConfig, *, known: list | None = None) -> Report:
    if config.fail_on not in FAIL_ON:
        raise UsageError(f"--fail-on must be one of {', '.join(FAIL_ON)}")
    policy = load_policy(config.policy, CHECKS.keys(), today=config.today)
    checks = select_checks(policy, tuple(config.include), tuple(config.exclude))
    try:
        check_options(config)
    except SourceError as exc:
        raise UsageError(str(exc)) from None
    loaded: LoadResult = load_paths(config.paths, stdin=config.stdin, max_file_bytes=config.max_file_bytes)
    if config.argocd_app:
        load_argocd_app(config.argocd_app, loaded, insecure=config.argocd_insecure,
                        max_bytes=config.max_file_bytes)
    state = gather_cluster_state(config, loaded.resources)
    index = Index(loaded.resources, [*(known or []), *state.loaded.resources], default_namespace=config.namespace)
    index.cluster_state_consulted = index.cluster_state_consulted or state.consulted
    ctx = Context(
        index=index, settings=policy.settings, offline=config.offline,
        options={**config.options, "check_ids": frozenset(CHECKS), "cluster_state_sources": tuple(state.sources)},
        load_problems=[tuple(p) for p in (*loaded.problems, *state.loaded.problems)],
        expired_exemptions=[(e.file, e.line, f"{e.describe()} expired on {e.expires.isoformat()} "
                                             f"(reason was: {e.reason})") for e in policy.expired],
    )
    run_probes(ctx, checks)

    findings: list[Finding] = []
    suppressed: list[Suppressed] = []
    annotation_cache: dict[int, dict[str, str]] = {}
    for entry in checks:
        for hit in entry.fn(ctx):
            finding = to_finding(entry, hit, policy)
            reason = _annotation_reason(hit, entry.id, annotation_cache)
            if reason:
                suppressed.append(Suppressed(finding, reason, "annotation"))
                continue
            exemption = policy.exemption_for(finding)
            if exemption is not None:
                suppressed.append(Suppressed(finding, exemption.reason, "policy"))
                continue
            findings.append(finding)
    findings.sort(key=lambda f: (f.file, f.line, -SEVERITY_RANK[f.severity], f.check, f.message))
    services, unassigned = build_checklists(ctx, findings, checks)
    return Report(
        findings=findings, services=services, unassigned=unassigned, suppressed=suppressed,
        skipped=[*loaded.skipped, *state.loaded.skipped], errors=[*loaded.errors, *state.loaded.errors],
        checks=checks, fail_on=config.fail_on,
        files=loaded.files, documents=loaded.documents, resources=len(index.resources),
        policy_path=policy.path, probe_status=ctx.probe_status,
        cluster_state_consulted=index.cluster_state_consulted, known=len(index.known),
    )


def _annotation_reason(hit: Hit, check_id: str, cache: dict[int, dict[str, str]]) -> str:
    """The reason of a `gate.ingress-gate.dev/ignore-<check_id>` annotation on the hit's resource."""
    if hit.resource is None:
        return ""
    reasons = cache.get(id(hit.resource))
    if reasons is None:  # read each resource's annotations once, however many findings it has
        reasons = cache[id(hit.resource)] = {cid: reason for _, cid, reason in suppression_annotations(hit.resource)
                                             if reason}
    return reasons.get(check_id, "")
