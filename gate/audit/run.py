"""audit(config) -> Audit: the live cluster through the audit checks, as `gate.run.run` does for a render."""

from __future__ import annotations

from dataclasses import dataclass

from gate.checklist.live import build_audit_checklists
from gate.checks import ALL_CHECK_IDS, AUDIT_CHECKS
from gate.checks.base import Context, InputCounts
from gate.config import FAIL_ON, RunConfig, UsageError
from gate.index import Index
from gate.model import Report
from gate.policy import load_policy
from gate.policy.decisions import Decisions
from gate.progress import NO_PROGRESS, Progress
from gate.run import run_checks, select_checks
from gate.sources import read_live
from gate.sources.files import paused_gc


@dataclass
class Audit:
    report: Report
    index: Index  # what was read, for the runbook: it names exactly these objects


def audit(config: RunConfig, *, progress: Progress = NO_PROGRESS) -> Audit:
    with paused_gc():
        return _audit(config, progress)


def _audit(config: RunConfig, progress: Progress) -> Audit:
    if config.fail_on not in FAIL_ON:
        raise UsageError(f"--fail-on must be one of {', '.join(FAIL_ON)}")
    cluster = config.cluster
    if not cluster.kube and not cluster.state_paths:
        raise UsageError("gate audit reads the cluster: give --kube, or --cluster-state PATH (kubectl get -o yaml)")
    if cluster.kube and cluster.state_paths:
        raise UsageError("give --kube or --cluster-state, not both: an audit judges one view of the cluster")
    if (cluster.kubeconfig or cluster.context) and not cluster.kube:
        raise UsageError("--kubeconfig and --context choose the cluster for --kube; add --kube")
    policy = load_policy(config.policy, ALL_CHECK_IDS, today=config.today)
    checks = select_checks(policy, config.include, config.exclude, AUDIT_CHECKS)

    progress.stage("reading the cluster state")
    state = read_live(config)
    loaded = state.loaded
    errors = list(loaded.errors)
    # A snapshot that does not parse is an input that could not be read: never a clean audit.
    errors += [f"{p.file}:{p.line}: {p.message}" for p in loaded.problems]
    if not loaded.resources and not errors:
        errors.append(f"nothing to audit: {'; '.join(state.sources)} holds no object of the kinds gate audit reads")
    progress.stage(f"read {len(loaded.resources)} objects; auditing")
    # Everything read is the subject of the audit: it goes in as the index's own objects.
    index = Index(loaded.resources, default_namespace=config.namespace)
    index.cluster_state_consulted = True
    ctx = Context(index=index, config=config, settings=policy.settings, load_problems=list(loaded.problems),
                  check_ids=ALL_CHECK_IDS, selected=frozenset(c.id for c in checks),
                  cluster_state_sources=tuple(state.sources),
                  inputs=InputCounts(files=loaded.files, documents=loaded.documents), progress=progress)
    findings, suppressed = run_checks(ctx, checks, Decisions(policy))
    services, unassigned = build_audit_checklists(ctx, findings, checks, suppressed)
    report = Report(
        findings=findings, services=services, unassigned=unassigned, suppressed=suppressed,
        skipped=list(loaded.skipped), errors=errors, checks=checks, fail_on=config.fail_on,
        files=loaded.files, documents=loaded.documents, resources=len(index.resources),
        policy_path=policy.path, cluster_state_consulted=True, known=0,
    )
    return Audit(report=report, index=index)
