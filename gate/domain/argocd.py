"""Argo CD sync ordering: phases, waves and kinds, as gitops-engine applies them.

Argo CD sorts a sync by hook phase, then wave, then kind, then name (gitops-engine
pkg/sync/sync_tasks.go), and waits for each (phase, wave) step to be Healthy before the next. Within
one step it applies everything back to back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from gate.model import Resource

SYNC_WAVE = "argocd.argoproj.io/sync-wave"
ARGO_HOOK = "argocd.argoproj.io/hook"
HELM_HOOK = "helm.sh/hook"
HELM_WEIGHT = "helm.sh/hook-weight"

PHASES = {"PreSync": -1, "Sync": 0, "PostSync": 1, "SyncFail": 2}
# How Argo CD maps Helm hooks onto its phases (gitops-engine pkg/sync/hook/helm).
HELM_PHASES = {"crd-install": "PreSync", "pre-install": "PreSync", "pre-upgrade": "PreSync",
               "post-install": "PostSync", "post-upgrade": "PostSync"}
KIND_ORDER = [
    "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy", "PodDisruptionBudget",
    "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass", "PersistentVolume",
    "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
    "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod",
    "ReplicationController", "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job",
    "CronJob", "IngressClass", "Ingress", "APIService",
]
# Listed kinds get negative ranks; any other kind ranks 0, i.e. last (same trick as gitops-engine).
KIND_RANK = {kind: i - len(KIND_ORDER) for i, kind in enumerate(KIND_ORDER)}
_INTEGER = re.compile(r"^[+-]?\d+$")  # what Go's strconv.Atoi accepts


class Step(NamedTuple):
    phase: str
    wave: int

    def __str__(self) -> str:
        return f"wave {self.wave}" if self.phase == "Sync" else f"{self.phase} hook, wave {self.wave}"

    @property
    def rank(self) -> tuple[int, int]:
        """What Argo CD waits between: a later rank starts only once earlier ones are Healthy."""
        return (PHASES[self.phase], self.wave)


def integer(value: object) -> int | None:
    return int(value) if isinstance(value, str) and _INTEGER.match(value.strip()) else None


def step_of(resource: Resource) -> Step | None:
    """The (phase, wave) Argo CD applies a resource in; None when it is not applied (Skip, other hooks)."""
    annotations = resource.annotations
    phase = "Sync"
    hook = annotations.get(ARGO_HOOK)
    if isinstance(hook, str) and hook.strip():
        phases = [p.strip() for p in hook.split(",")]
        known = [p for p in phases if p in PHASES]
        if not known:
            return None  # Skip, PreDelete, PostDelete: not part of the apply order
        phase = min(known, key=PHASES.__getitem__)
    elif isinstance(annotations.get(HELM_HOOK), str):
        mapped = [HELM_PHASES[h.strip()] for h in annotations[HELM_HOOK].split(",") if h.strip() in HELM_PHASES]
        if not mapped:
            return None
        phase = min(mapped, key=PHASES.__getitem__)
    wave = integer(annotations.get(SYNC_WAVE))
    if wave is None:
        wave = integer(annotations.get(HELM_WEIGHT)) or 0
    return Step(phase, wave)


def order_key(resource: Resource, step: Step) -> tuple[int, int, int, str]:
    return (PHASES[step.phase], step.wave, KIND_RANK.get(resource.kind, 0), resource.name)


def step_rank(resource: Resource) -> tuple[int, int] | None:
    step = step_of(resource)
    return None if step is None else step.rank


def steps_in(resources: Iterable[Resource]) -> set[Step]:
    """The distinct (phase, wave) steps the applied resources fall in."""
    return {step for step in map(step_of, resources) if step is not None}


def multi_step(resources: Iterable[Resource]) -> bool:
    """Argo CD waits on health only in a sync of more than one step (wave or phase); a render without
    sync-wave or hook annotations is applied in one step and nothing is waited for
    (gitops-engine pkg/sync/sync_context.go)."""
    return len(steps_in(resources)) > 1
