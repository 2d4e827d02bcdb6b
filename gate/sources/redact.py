"""What never leaves a cluster read: Secret data. Checks see a Secret's identity and metadata only."""

from __future__ import annotations

from typing import Any

# kubectl apply stores the whole object, Secret data included, in this annotation.
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


class SourceError(Exception):
    """Options that contradict each other (exit code 2)."""


def secret_metadata_only(body: dict[str, Any]) -> dict[str, Any]:
    """A Secret reduced to what checks may read: its identity and metadata, never its data.

    `data`, `stringData` and everything else outside `metadata` are dropped, and so are the
    metadata fields that can carry the data (the last-applied annotation) or only add noise.
    """
    meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    kept = {k: v for k, v in meta.items() if k in ("name", "namespace", "labels", "annotations", "uid",
                                                   "creationTimestamp", "ownerReferences")}
    annotations = kept.get("annotations")
    if isinstance(annotations, dict):
        kept["annotations"] = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": kept}
