"""One decision engine: what the policy makes of each hit (severity, suppressed, exempted).

Every finding passes through `Decisions.decide` and nowhere else: the check's default severity, the
policy's per-check severity, `unresolvedReferences` for references that point at nothing,
suppression annotations on the resource (kube-linter style, a reason required) and exemptions in the
policy file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from gate.domain.kube import dig, pod_template
from gate.model import Finding, Hit, Resource, Suppressed

if TYPE_CHECKING:
    from gate.checks.base import Check
    from gate.policy import Policy

IGNORE_PREFIX = "gate.ingress-gate.dev/ignore-"


def suppression_annotations(resource: Resource) -> Iterator[tuple[str, str, str]]:
    """(where, check id, reason) for each `gate.ingress-gate.dev/ignore-<id>` annotation.

    Read on the resource, on its pod template (kube-linter #487: people annotate the pods), and,
    for objects a controller derives (shim Certificates), on the object they come from.
    """
    sources: list[tuple[str, Any]] = [("metadata.annotations", resource.metadata.get("annotations"))]
    template = pod_template(resource)
    if template is not None and template is not resource.body:
        sources.append(("pod template annotations", dig(template, "metadata", "annotations")))
    if resource.derived_from is not None:
        sources.append((f"{resource.derived_from.kind} annotations", resource.derived_from.annotations))
    for where, found in sources:
        if not isinstance(found, dict):
            continue
        for key, value in found.items():
            if isinstance(key, str) and key.startswith(IGNORE_PREFIX):
                reason = value.strip() if isinstance(value, str) else ""
                yield f"{where} {key}", key[len(IGNORE_PREFIX):], reason


class Decisions:
    def __init__(self, policy: Policy):
        self.policy = policy
        self._reasons: dict[int, dict[str, str]] = {}  # id(resource) -> check id -> reason

    def severity(self, check: Check, hit: Hit) -> str:
        explicit = self.policy.severities.get(check.id)
        if explicit:
            return explicit
        unresolved = self.policy.settings.get("unresolvedReferences")
        if check.unresolved and hit.points_at_nothing and unresolved:
            return unresolved
        return hit.severity or check.severity

    def silenced(self, check: Check, hit: Hit, finding: Finding) -> Suppressed | None:
        """Why the finding is not reported, if it is not: an annotation first, then an exemption."""
        reason = self._annotation_reason(hit.resource, check.id)
        if reason:
            return Suppressed(finding, reason, "annotation")
        exemption = self.policy.exemption_for(finding)
        if exemption is not None:
            return Suppressed(finding, exemption.reason, "policy")
        return None

    def _annotation_reason(self, resource: Resource | None, check_id: str) -> str:
        if resource is None:
            return ""
        reasons = self._reasons.get(id(resource))
        if reasons is None:  # each resource's annotations are read once, however many findings it has
            reasons = self._reasons[id(resource)] = {
                cid: reason for _, cid, reason in suppression_annotations(resource) if reason}
        return reasons.get(check_id, "")
