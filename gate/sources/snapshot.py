"""Cluster-state snapshots (`--cluster-state PATH`): objects known to exist already, e.g. the output
of `kubectl get svc,secret,... -A -o yaml`. Secrets keep their metadata only.
"""

from __future__ import annotations

from gate.model import Resource
from gate.sources.documents import LoadResult
from gate.sources.files import LoadBudget, load_paths
from gate.sources.redact import secret_metadata_only


def keep_secret_metadata(resources: list[Resource]) -> None:
    for res in resources:
        if res.kind == "Secret" and res.group == "":
            res.body = secret_metadata_only(res.body)


def load_snapshots(paths: list[str], *, max_file_bytes: int, budget: LoadBudget | None = None) -> LoadResult:
    """Cluster-state files and folders, as the loader reads any input, Secrets reduced on the spot."""
    loaded = load_paths(paths, origin="cluster", max_file_bytes=max_file_bytes, budget=budget)
    keep_secret_metadata(loaded.resources)
    return loaded
