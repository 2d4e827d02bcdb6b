"""The values that flow through the pipeline: resources in, hits and findings out, one report."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gate.checks.base import Check


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Status(StrEnum):
    """A checklist line's state: `[x]`, `[ ]`, `[?]`."""

    PASS = "pass"
    FAIL = "fail"
    UNVERIFIED = "unverified"
    SUPPRESSED = "suppressed"  # `[-]`: a finding was silenced (annotation or policy exemption), never `[x]`


class Verdict(StrEnum):
    """The run's outcome, computed once (`Report.verdict`): the exit code and every reporter follow it."""

    PASSED = "passed"  # exit 0
    FAILED = "failed"  # exit 1: a finding at or above the fail threshold
    ERROR = "error"  # exit 2: an input could not be read

    @property
    def exit_code(self) -> int:
        return {Verdict.PASSED: 0, Verdict.FAILED: 1, Verdict.ERROR: 2}[self]


SEVERITIES = tuple(Severity)
SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


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


@dataclass(slots=True)
class Hit:
    """What a check found: the resource it is about and what is wrong with it.

    A hit about a place rather than an object (a document that does not parse, a policy entry)
    has no resource and gives `file` and `line` instead.
    """

    resource: Resource | None
    message: str
    file: str | None = None
    line: int | None = None
    # The field the hit is about, e.g. "spec.listeners[2]" or ("metadata", "annotations", key):
    # the finding's line becomes that field's when the document's layout shows it.
    path: str | tuple[str | int, ...] | None = None
    source: str | None = None
    hostname: str | None = None
    unverified: bool = False
    image: str | None = None
    severity: str | None = None  # overrides the check's default (not an explicit policy setting)
    # False for a hit of an `unresolved` check that is about something other than a missing object
    # (a wrong port): policy `unresolvedReferences` then leaves its severity alone.
    points_at_nothing: bool = True
    # The checklist line this hit lands on when it is not the check's own (a route backend that needs
    # a ReferenceGrant belongs on "Backend Service exists", not on the listener's line).
    item: str | None = None


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
    item: str = ""  # the checklist line (gate.checklist.items) it lands on; "" for the check's own

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
    status: Status
    findings: list[Finding] = field(default_factory=list)
    note: str = ""
    resource: str = ""  # `Kind ns/name` the item is about
    location: str = ""
    suppressed: list[Suppressed] = field(default_factory=list)  # silenced findings about this line


@dataclass(slots=True)
class ServiceChecklist:
    hostname: str
    items: list[ChecklistItem] = field(default_factory=list)

    @property
    def status(self) -> str:
        states = {item.status for item in self.items}
        if "fail" in states:
            return "fail"
        if "unverified" in states:
            return "unverified"
        return "suppressed" if "suppressed" in states else "pass"


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
    # Served TLS names that are not public DNS names (localhost, `*.svc`, IPs): not listed as HTTPS
    # services and never asked of public DNS; reported once.
    private_names: list[str] = field(default_factory=list)
    source_root: str | None = None  # --source-root: where reports look for a finding's Helm template
    outside_changed: int = 0  # --changed: findings in files that were not given (not counted)

    @property
    def verdict(self) -> Verdict:
        """The one outcome: the exit code, JSON `verdict`/`passed`, SARIF, JUnit, text and Markdown follow it."""
        if self.errors:
            return Verdict.ERROR
        threshold = SEVERITY_RANK[self.fail_on]
        if any(SEVERITY_RANK[f.severity] >= threshold for f in self.findings):
            return Verdict.FAILED
        return Verdict.PASSED

    @property
    def passed(self) -> bool:
        """True only when the exit code is 0: an input error is never a pass."""
        return self.verdict is Verdict.PASSED

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code

    def fails(self, service: ServiceChecklist) -> bool:
        """A finding on one of the service's lines fails the gate (verified or not, as the policy says)."""
        threshold = SEVERITY_RANK[self.fail_on]
        return any(SEVERITY_RANK[f.severity] >= threshold for item in service.items for f in item.findings)

    def lines(self, status: str) -> list[ChecklistItem]:
        return [item for service in self.services for item in service.items if item.status == status]

    @property
    def summary(self) -> dict[str, int]:
        """Findings by severity (verified ones) and `unverified`: findings that could not be verified."""
        counts = {"error": 0, "warning": 0, "info": 0, "unverified": 0}
        for finding in self.findings:
            counts["unverified" if finding.unverified else finding.severity] += 1
        return counts

    @property
    def counts(self) -> dict[str, int]:
        """What the checklist shows, counted: `[?]` lines (offline, or with findings that could not be
        verified), `[-]` suppressed findings, failing services, findings outside any service."""
        unverified_lines = self.lines(Status.UNVERIFIED)
        offline = sum(1 for item in unverified_lines if item.note == "offline")
        return {
            "resources": self.resources,
            "services": len(self.services),
            "failingServices": sum(1 for s in self.services if self.fails(s)),
            "outsideServices": len(self.unassigned),
            "notVerifiedOffline": offline,
            "couldNotVerify": len(unverified_lines) - offline,
            "suppressed": len(self.suppressed),
        }
