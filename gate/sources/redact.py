"""What never leaves a cluster read: Secret data and pod environment. Checks see a Secret's identity and
metadata only, and a workload's pod template without `env` and `envFrom` (which often carry credentials)."""

from __future__ import annotations

import copy
from typing import Any

from gate.domain.kube import CONTAINER_FIELDS, WORKLOAD_KINDS, WORKLOAD_TEMPLATE_PATHS, as_list, dig

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


def without_pod_env(body: dict[str, Any]) -> dict[str, Any]:
    """A workload (or Pod) with `env`/`envFrom` removed from every container of its pod template, and
    without the last-applied annotation (a copy of the whole object, env included)."""
    out = copy.deepcopy(body)
    meta = out.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
        meta["annotations"] = {k: v for k, v in meta["annotations"].items() if k != LAST_APPLIED}
    path = () if out.get("kind") == "Pod" else WORKLOAD_TEMPLATE_PATHS.get(str(out.get("kind")), ("spec", "template"))
    template = dig(out, *path) if path else out
    pod = template.get("spec") if isinstance(template, dict) else None
    if isinstance(pod, dict):
        for field in CONTAINER_FIELDS:
            for container in as_list(pod.get(field)):  # any value: only a list holds containers
                if isinstance(container, dict):
                    container.pop("env", None)
                    container.pop("envFrom", None)
    return out


def redacted(body: dict[str, Any]) -> dict[str, Any]:
    """What the gate keeps of an object read from a cluster (live or snapshot)."""
    kind = body.get("kind")
    if kind == "Secret" and body.get("apiVersion") == "v1":
        return secret_metadata_only(body)
    if kind in WORKLOAD_KINDS:
        return without_pod_env(body)
    return body
