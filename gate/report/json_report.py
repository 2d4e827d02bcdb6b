"""`--format json`: a versioned document other tooling is written against (schemaVersion 1)."""

from __future__ import annotations

from typing import Any

from gate.model import ChecklistItem, Finding, Report, ServiceChecklist, Suppressed
from gate.report.jsontext import Sink, ValuesLater, WrittenLater, boolean, indented, string

SCHEMA_VERSION = 1


def finding_dict(finding: Finding) -> dict[str, Any]:
    out: dict[str, Any] = {
        "check": finding.check,
        "severity": finding.severity,
        "message": finding.message,
        "remediation": finding.remediation,
        "resource": {"apiVersion": finding.api_version, "kind": finding.kind,
                     "namespace": finding.namespace, "name": finding.name},
        "file": finding.file,
        "line": finding.line,
        "unverified": finding.unverified,
    }
    for key, value in (("source", finding.source), ("hostname", finding.hostname), ("image", finding.image)):
        if value:
            out[key] = value
    return out


def suppressed_dict(quiet: Suppressed) -> dict[str, Any]:
    return {**finding_dict(quiet.finding), "reason": quiet.reason, "suppressedBy": quiet.by}


class _Plain:
    """How `document` turns findings into values: dicts (`document(report)`, what tooling reads)."""

    def findings(self, findings: list[Finding]) -> list[Any]:
        return [finding_dict(f) for f in findings]

    def suppressed(self, entries: list[Suppressed]) -> list[Any]:
        return [suppressed_dict(s) for s in entries]

    def services(self, services: list[ServiceChecklist]) -> list[Any]:
        return [service_dict(s, self) for s in services]


class _Text(_Plain):
    """...or their JSON text, made as it is written (gate.report.jsontext says why): what `render`
    encodes. A finding is in `findings` and again under its checklist line, and is written twice
    rather than kept: at 200,000 objects the kept texts would be 180 MiB."""

    def findings(self, findings: list[Finding]) -> Any:
        return WrittenLater(len(findings), lambda: map(finding_json, findings))

    def suppressed(self, entries: list[Suppressed]) -> Any:
        # suppressed_dict's keys: finding_dict's (the text without its closing "\n}"), then two more
        return WrittenLater(len(entries), lambda: (f"{finding_json(s.finding)[:-2]},\n  \"reason\": "
                                                   f"{indented(s.reason)},\n  \"suppressedBy\": {indented(s.by)}\n}}"
                                                   for s in entries))

    def services(self, services: list[ServiceChecklist]) -> Any:
        # One service at a time, made and written: 50,000 services' items as dicts would take 150 MiB (and
        # as text, one service of 22,000 solver routes' findings would be 50 MiB at once).
        return ValuesLater(len(services), lambda: (service_dict(s, self) for s in services))


def item_dict(item: ChecklistItem, values: _Plain | None = None) -> dict[str, Any]:
    values = values or _Plain()
    out = {"label": item.label, "status": item.status, "note": item.note, "resources": item.resource,
           "findings": values.findings(item.findings)}
    if item.suppressed:
        out["suppressed"] = values.suppressed(item.suppressed)
    return out


def service_dict(service: ServiceChecklist, values: _Plain | None = None) -> dict[str, Any]:
    return {"hostname": service.hostname, "status": service.status,
            "items": [item_dict(i, values) for i in service.items]}


def document(report: Report, values: _Plain | None = None) -> dict[str, Any]:
    values = values or _Plain()
    return {
        "schemaVersion": SCHEMA_VERSION,
        "verdict": report.verdict.value,  # passed / failed / error, as the exit code 0 / 1 / 2
        "passed": report.passed,  # true only when the exit code is 0
        "failOn": report.fail_on,
        "summary": report.summary,
        "counts": report.counts,
        "findings": values.findings(report.findings),
        "services": values.services(report.services),
        "suppressed": values.suppressed(report.suppressed),
        "skipped": [{"file": s.file, "line": s.line, "reason": s.reason} for s in report.skipped],
        "inputErrors": report.errors,
        "stats": {"files": report.files, "documents": report.documents, "resources": report.resources,
                  "known": report.known},
        "probes": report.probe_status,
        "clusterStateConsulted": report.cluster_state_consulted,
        "policy": report.policy_path,
        "notPublicNames": report.private_names,
    }


def render(report: Report, colour: bool = False) -> str:
    """Exactly `json.dumps(document(report), indent=2) + "\\n"` (tests/report/test_json_report.py)."""
    return indented(document(report, _Text())) + "\n"


def write(report: Report, sink: Sink) -> None:
    """`render`'s text, handed to `sink` in pieces of about a MiB."""
    indented(document(report, _Text()), sink)
    sink("\n")


def finding_json(finding: Finding) -> str:
    """`json.dumps(finding_dict(finding), indent=2)`, written directly (the keys are finding_dict's)."""
    line, unverified = finding.line, finding.unverified
    if type(line) is not int or type(unverified) is not bool:  # not what the model says: json decides
        return indented(finding_dict(finding))
    try:
        optional = ""
        if finding.source:
            optional = f',\n  "source": {string(finding.source)}'
        if finding.hostname:
            optional += f',\n  "hostname": {string(finding.hostname)}'
        if finding.image:
            optional += f',\n  "image": {string(finding.image)}'
        return (f'{{\n  "check": {string(finding.check)},\n  "severity": {string(finding.severity)},'
                f'\n  "message": {string(finding.message)},\n  "remediation": {string(finding.remediation)},'
                f'\n  "resource": {{\n    "apiVersion": {string(finding.api_version)},'
                f'\n    "kind": {string(finding.kind)},\n    "namespace": {string(finding.namespace)},'
                f'\n    "name": {string(finding.name)}\n  }},\n  "file": {string(finding.file)},'
                f'\n  "line": {int.__repr__(line)},\n  "unverified": {boolean(unverified)}{optional}\n}}')
    except TypeError:  # a field that is not a str: json decides how it is written
        return indented(finding_dict(finding))
