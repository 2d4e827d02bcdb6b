"""run(config) -> Report: the pipeline, and nothing else.

sources -> index -> probes -> checks -> decisions (policy) -> checklist -> Report. The CLI, the
GitHub Action and the tests all come through here.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gate import parallel
from gate.checklist.builder import build_checklists, private_https_names
from gate.checks import ALL_CHECK_IDS, AUDIT_CHECKS, CHECKS, PROBES
from gate.checks.api import VALIDATING, begin_validation, start_validation
from gate.checks.base import Check, Context, InputCounts
from gate.config import FAIL_ON, RunConfig, UsageError
from gate.index import Index
from gate.model import SEVERITY_RANK, Finding, Hit, Report, Resource, Suppressed
from gate.policy import Policy, load_policy
from gate.policy.decisions import Decisions
from gate.probes.base import ProbeStatus
from gate.progress import NO_PROGRESS, Progress
from gate.sources import SourceError, check_options, read_known, read_render
from gate.sources.budget import LoadBudget
from gate.sources.field_lines import field_line
from gate.sources.files import display_path, paused_gc
from gate.sources.selection import Selection, SelectionError, select

# Canned probe answers (tests): probe name -> request -> answer, as a mapping or a function.
ProbeAnswers = Mapping[str, Mapping[Any, Any] | Callable[[Any], Any]]

__all__ = ["AUDIT_CHECKS", "FAIL_ON", "Report", "RunConfig", "UsageError", "run"]

INPUT_EMPTY = "input-empty"


def select_checks(policy: Policy, include: tuple[str, ...], exclude: tuple[str, ...],
                  catalogue: Mapping[str, Check] = CHECKS) -> list[Check]:
    unknown = sorted({*include, *exclude} - catalogue.keys())
    if unknown:
        other = "gate audit" if catalogue is CHECKS else "gate check"
        elsewhere = [i for i in unknown if i in ALL_CHECK_IDS]
        hint = f"; {', '.join(elsewhere)} run{'s' * (len(elsewhere) == 1)} in `{other}`" if elsewhere else ""
        raise UsageError(f"unknown check id{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)} "
                         f"(see `gate checks`{hint})")
    # input-empty is what keeps "nothing was read" from passing: --include does not drop it (only
    # --exclude or the policy do), and it alone does not count as a check to run.
    chosen = [c for c in catalogue.values()
              if (not include or c.id in include or c.id == INPUT_EMPTY) and c.id not in exclude]
    if not any(c.id != INPUT_EMPTY for c in chosen):
        raise UsageError("--include and --exclude leave no check to run")
    selected = [c for c in chosen if policy.severities.get(c.id) != "off"]
    if not any(c.id != INPUT_EMPTY for c in selected):
        raise UsageError("--include and --exclude leave no check to run: the policy turns off "
                         f"{', '.join(c.id for c in chosen if c.id != INPUT_EMPTY)}")
    return selected


# Field lines looked up per object: each lookup walks the object's text, so a hostile object with a
# finding on each of 100,000 list items would cost 100,000 walks of 100,000 lines. At most this many
# lookups, and at most this much text walked, per object; past them a finding points at the object's
# first line.
FIELD_LINES_PER_OBJECT = 128
FIELD_LINE_TEXT_PER_OBJECT = 16 * 1024 * 1024


def to_finding(check: Check, hit: Hit, severity: str) -> tuple[Finding, tuple[Resource, Any] | None]:
    """The finding a hit makes, with the object and path whose field line it should point at (the
    finding points at the object's first line until `add_field_lines` looks it up), if any."""
    res = hit.resource
    target = res.derived_from if res is not None and res.derived_from is not None else res
    line = hit.line
    lookup = (res, hit.path) if not line and res is not None and res is target and hit.path else None
    finding = Finding(
        check=check.id, severity=severity, message=hit.message,
        file=hit.file or (target.file if target else "<input>"), line=line or (target.line if target else 1),
        api_version=res.api_version if res else "", kind=res.kind if res else "",
        namespace=res.namespace if res else "", name=res.name if res else "",
        remediation=check.remediation, source=hit.source or (target.source if target else None),
        hostname=hit.hostname, unverified=hit.unverified, image=hit.image, item=hit.item or check.item,
    )
    return finding, lookup


# Below this many lookups one process is faster than forks (gate.parallel); taken in runs of this many.
FIELD_LINES_PARALLEL = 2_000
FIELD_LINES_RUN = 256


def add_field_lines(wanted: list[tuple[list[Any], int, Resource, Any]]) -> None:
    """Point findings at their fields: `wanted` is (list, position, object, path) in report order,
    the list holding the Finding (or the Suppressed holding it) at the position. Each object gets
    at most its share of lookups, in that order (FIELD_LINES_PER_OBJECT)."""
    lookups: dict[int, int] = {}
    granted = []
    for entry in wanted:
        res = entry[2]
        done = lookups.get(id(res), 0)
        allowed = min(FIELD_LINES_PER_OBJECT, max(1, FIELD_LINE_TEXT_PER_OBJECT // max(1, len(res.text or ""))))
        if done < allowed:
            lookups[id(res)] = done + 1
            granted.append(entry)
    # Each lookup walks its object's text, independently of the others: split between processes.
    def look_up(runs: Iterator[range]) -> list[tuple[int, int | None]]:
        return [(i, field_line(granted[i][2], granted[i][3])) for indices in runs for i in indices]

    shares = parallel.shares_for(len(granted), FIELD_LINES_PARALLEL)
    for part in parallel.fork_ranges(look_up, len(granted), shares, FIELD_LINES_RUN):
        for i, line in part:
            bucket, position = granted[i][0], granted[i][1]
            if line:
                held = bucket[position]
                finding = held.finding if isinstance(held, Suppressed) else held
                # Still being made: no one has hashed or shown it yet (a frozen dataclass's copy through
                # dataclasses.replace costs more than the lookup).
                object.__setattr__(finding, "line", line)


def run_probes(ctx: Context, checks: list[Check], canned: ProbeAnswers | None = None) -> None:
    """Ask every probe the selected checks need, all at once, unless offline or answered in advance."""
    needed = {c.probe for c in checks if c.probe}
    jobs = []
    for name, probe in PROBES.items():
        if name not in needed:
            continue
        if name in (canned or {}):
            answers = canned[name]
            requests = probe.requests(ctx)
            pick = answers if callable(answers) else answers.get
            ctx.probes[name] = {request: pick(request) for request in requests}
            ctx.probe_status[name] = ProbeStatus.CANNED
        elif ctx.offline:
            ctx.probe_status[name] = ProbeStatus.OFFLINE
        else:
            requests = probe.requests(ctx)
            ctx.probe_status[name] = ProbeStatus.RAN if requests else ProbeStatus.NOTHING_TO_ASK
            if requests:
                jobs.append((probe, requests))
    if not jobs:
        return
    import asyncio  # only for a run that asks the network: an offline one never pays its import

    async def ask_all() -> list[dict[Any, Any]]:
        return await asyncio.gather(*(probe.answer(requests, ctx) for probe, requests in jobs))

    for (probe, _), answers in zip(jobs, asyncio.run(ask_all()), strict=True):
        ctx.probes[probe.name] = answers


@contextmanager
def _timed(timings: dict[str, float] | None, stage: str) -> Iterator[None]:
    """Adds the seconds spent inside to `timings[stage]` (benchmarks/scaling.py reads them)."""
    if timings is None:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start


def run_checks(ctx: Context, checks: list[Check], decisions: Decisions,
               timings: dict[str, float] | None = None,
               late: frozenset[str] = frozenset()) -> tuple[list[Finding], list[Suppressed]]:
    """Every check's hits through the policy's decisions: (findings in report order, suppressed).

    The checks in `late` run after the others (their input is computed in the background meanwhile);
    findings, suppressions and field-line lookups are still made in catalogue order, so the report is
    the same whichever order the checks ran in."""
    found: list[list[Finding]] = [[] for _ in checks]
    quiet: list[list[Suppressed]] = [[] for _ in checks]
    wanted: list[list[tuple[list[Any], int, Resource, Any]]] = [[] for _ in checks]
    order = [i for i, c in enumerate(checks) if c.id not in late] + [i for i, c in enumerate(checks) if c.id in late]
    for i in order:
        entry = checks[i]
        ctx.current = entry
        with _timed(timings, f"check:{entry.id}"):
            for hit in entry.fn(ctx):
                finding, lookup = to_finding(entry, hit, decisions.severity(entry, hit))
                silenced = decisions.silenced(entry, hit, finding)
                bucket: list[Any] = found[i] if silenced is None else quiet[i]
                bucket.append(finding if silenced is None else silenced)
                if lookup is not None:
                    wanted[i].append((bucket, len(bucket) - 1, *lookup))
    ctx.current = None
    with _timed(timings, "field-lines"):
        add_field_lines([entry for per_check in wanted for entry in per_check])
    findings = [f for per_check in found for f in per_check]
    findings.sort(key=lambda f: (f.file, f.line, -SEVERITY_RANK[f.severity], f.check, f.message))
    return findings, [s for per_check in quiet for s in per_check]


def run(config: RunConfig, *, known: list[Resource] | None = None, probe_answers: ProbeAnswers | None = None,
        progress: Progress = NO_PROGRESS, timings: dict[str, float] | None = None) -> Report:
    """`known`: objects known to exist besides the cluster state the config names; `probe_answers`:
    canned network answers by probe name, so a check's judgement is testable without a server;
    `progress`: where to say how far a long run is (stderr, from the CLI); `timings`: filled with
    the seconds each stage took (load, index, probes, check:<id>, checklist)."""
    with paused_gc():
        return _run(config, known or [], probe_answers, progress, timings)


def _run(config: RunConfig, known: list[Resource], probe_answers: ProbeAnswers | None,
         progress: Progress, timings: dict[str, float] | None = None) -> Report:
    if config.fail_on not in FAIL_ON:
        raise UsageError(f"--fail-on must be one of {', '.join(FAIL_ON)}")
    policy = load_policy(config.policy, ALL_CHECK_IDS, today=config.today)
    checks = select_checks(policy, config.include, config.exclude)
    try:
        check_options(config)
    except SourceError as exc:
        raise UsageError(str(exc)) from None

    try:
        selection = select(config.paths, changed=config.changed, policy_paths=policy.settings.get("paths") or (),
                           exclude=policy.settings.get("exclude") or (), policy_file=policy.path,
                           other_source=bool(config.cluster.argocd_app))
    except SelectionError as exc:
        raise UsageError(str(exc)) from None
    progress.stage("reading inputs")
    budget = LoadBudget()  # documents and memory, shared by the render and the cluster state
    with _timed(timings, "load"):
        loaded = read_render(dataclasses.replace(config, paths=selection.paths), budget)
        if config.cluster.state_paths or config.cluster.kube:
            progress.stage(f"read {len(loaded.resources)} resources; reading cluster state")
        state = read_known(config, loaded.resources, budget)
    progress.stage(f"read {loaded.files} file{'s' * (loaded.files != 1)}, {len(loaded.resources)} resources; checking")
    # The API validation runs in forked children beside the index, the probes (and their network waits)
    # and the other checks; its checks run last. It starts before the index when no CRD was read (then
    # nothing the index finds changes a schema), else once the index has the CRDs in view. A timed run
    # (benchmarks/scaling.py) runs each stage on its own, so that a stage's time is not what it shared
    # the CPUs with.
    selected = frozenset(c.id for c in checks)
    late = VALIDATING & selected if timings is None else frozenset()
    begun = begin_validation(config, policy.settings, loaded.resources, state.loaded.resources, known) \
        if late else None
    with _timed(timings, "index"):
        index = Index(loaded.resources, [*known, *state.loaded.resources], default_namespace=config.namespace)
    index.cluster_state_consulted = index.cluster_state_consulted or state.consulted
    ctx = Context(
        index=index, config=config, settings=policy.settings,
        load_problems=[*loaded.problems, *state.loaded.problems],
        expired_exemptions=[(e.file, e.line, f"{e.describe()} expired on {e.expires.isoformat()} "
                                             f"(reason was: {e.reason})") for e in policy.expired],
        check_ids=ALL_CHECK_IDS, selected=selected,
        cluster_state_sources=tuple(state.sources),
        inputs=InputCounts(files=loaded.files, documents=loaded.documents,
                           skipped=tuple((s.file, s.line, s.reason) for s in loaded.skipped),
                           first_input=_first_input(config)),
        progress=progress,
    )
    if late:
        start_validation(ctx, begun=begun)
    with _timed(timings, "probes"):
        run_probes(ctx, checks, probe_answers)

    findings, suppressed = run_checks(ctx, checks, Decisions(policy), timings, late)
    with _timed(timings, "checklist"):
        services, unassigned = build_checklists(ctx, findings, checks, suppressed)
    findings, services, unassigned, outside = focus_on_changed(selection, findings, services, unassigned)
    return Report(
        findings=findings, services=services, unassigned=unassigned, suppressed=suppressed,
        skipped=[*loaded.skipped, *state.loaded.skipped], errors=[*loaded.errors, *state.loaded.errors],
        checks=checks, fail_on=config.fail_on,
        files=loaded.files, documents=loaded.documents, resources=len(index.resources),
        policy_path=policy.path, probe_status=dict(ctx.probe_status),
        cluster_state_consulted=index.cluster_state_consulted, known=len(index.known),
        private_names=private_https_names(index), source_root=config.source_root, outside_changed=outside,
    )


def focus_on_changed(selection: Selection, findings: list[Finding], services: list, unassigned: list[Finding]):
    """--changed: the findings in the given files, and the services that involve them.

    The checklists are built from every finding first, so a service line broken by a file that was
    not given still shows `[ ]` (never `[x]` on a broken line); only the verdict is about the given files.
    """
    if selection.focus is None:
        return findings, services, unassigned, 0
    focus = selection.focus
    kept = [f for f in findings if f.file in focus]

    def involved(service) -> bool:
        return any(item.location.rpartition(":")[0] in focus or any(f.file in focus for f in item.findings)
                   for item in service.items)

    return kept, [s for s in services if involved(s)], [f for f in unassigned if f.file in focus], \
        len(findings) - len(kept)


def _first_input(config: RunConfig) -> str:
    """The first path given, as findings name it (for a finding about an input with nothing in it)."""
    for raw in config.paths:
        return "<stdin>" if raw == "-" else display_path(Path(raw))
    return f"argocd:{config.cluster.argocd_app}" if config.cluster.argocd_app else ""
