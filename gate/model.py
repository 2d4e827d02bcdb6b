"""The values that flow through the pipeline: resources in, findings out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("error", "warning", "info")
SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}


def api_group(api_version: str) -> str:
    """`gateway.networking.k8s.io/v1` -> `gateway.networking.k8s.io`; `v1` -> `` (core)."""
    return api_version.rpartition("/")[0] if "/" in api_version else ""


@dataclass(eq=False, slots=True)
class Resource:
    """One Kubernetes object, with where it came from.

    `origin` is "render" for what will be applied and "cluster" for what is known to exist already
    (cluster-state snapshots, the live API); checks report on the first and resolve references
    against both.
    """

    api_version: str
    kind: str
    name: str
    namespace: str  # "" for cluster-scoped objects
    body: dict[str, Any]
    file: str
    line: int
    source: str | None = None  # Helm's "# Source:" template path, when the render carries one
    origin: str = "render"
    derived_from: Resource | None = None  # set on objects a controller will create (shim Certificates)
    # The text of the document the object is alone in, and the file line of its first line: where
    # `gate.sources.field_lines` finds the line of a field (None for List items, JSON and API objects).
    text: str | None = field(default=None, repr=False)
    text_line: int = 1

    @property
    def group(self) -> str:
        return api_group(self.api_version)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.group, self.kind, self.namespace, self.name)

    @property
    def metadata(self) -> dict[str, Any]:
        meta = self.body.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def annotations(self) -> dict[str, str]:
        ann = self.metadata.get("annotations")
        return ann if isinstance(ann, dict) else {}

    @property
    def labels(self) -> dict[str, str]:
        labels = self.metadata.get("labels")
        return labels if isinstance(labels, dict) else {}

    @property
    def spec(self) -> dict[str, Any]:
        spec = self.body.get("spec")
        return spec if isinstance(spec, dict) else {}

    @property
    def ref(self) -> str:
        """`Kind namespace/name`, the way people name an object in a message."""
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem with one resource, at one place in the input."""

    check: str
    severity: str
    message: str
    file: str
    line: int
    api_version: str = ""
    kind: str = ""
    namespace: str = ""
    name: str = ""
    remediation: str = ""
    source: str | None = None
    hostname: str | None = None  # the HTTPS name a finding is about, for the per-service checklist
    unverified: bool = False  # "could not verify": a network probe failed or was skipped
    image: str | None = None  # the image reference an image finding is about

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def resource_ref(self) -> str:
        if not self.kind:
            return ""
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


@dataclass(slots=True)
class Skipped:
    """A document that is not a Kubernetes object (values files, kustomizations, empty documents)."""

    file: str
    line: int
    reason: str


@dataclass(slots=True)
class Suppressed:
    finding: Finding
    reason: str
    by: str  # "annotation" or "policy"


@dataclass(slots=True)
class ChecklistItem:
    label: str
    status: str  # "pass", "fail", "unverified"
    findings: list[Finding] = field(default_factory=list)
    note: str = ""
    resource: str = ""  # `Kind ns/name` the item is about
    location: str = ""


@dataclass(slots=True)
class ServiceChecklist:
    hostname: str
    items: list[ChecklistItem] = field(default_factory=list)

    @property
    def status(self) -> str:
        states = {item.status for item in self.items}
        if "fail" in states:
            return "fail"
        return "unverified" if "unverified" in states else "pass"
