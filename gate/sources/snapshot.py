"""Cluster-state snapshots (`--cluster-state PATH`): objects known to exist already, e.g. the output
of `kubectl get svc,secret,... -A -o yaml`. Secrets keep their metadata only.
"""

from __future__ import annotations

from gate.model import Resource
from gate.sources.documents import LoadResult
from gate.domain.kube import WORKLOAD_KINDS
from gate.sources.budget import LoadBudget
from gate.sources.files import load_paths
from gate.sources.redact import redacted


def redact_all(resources: list[Resource]) -> None:
    """Secrets to their metadata, workloads without pod env: what a cluster read may keep."""
    for res in resources:
        if res.kind == "Secret" or res.kind in WORKLOAD_KINDS:
            res.body = redacted(res.body)
            res.text = None  # the document's text still holds what was dropped: no field lines from it


def load_snapshots(paths: list[str], *, max_file_bytes: int, budget: LoadBudget | None = None) -> LoadResult:
    """Cluster-state files and folders, as the loader reads any input, redacted on the spot."""
    loaded = load_paths(paths, origin="cluster", max_file_bytes=max_file_bytes, budget=budget)
    redact_all(loaded.resources)
    return loaded
