"""`--format json`: a versioned document other tooling is written against (schemaVersion 1)."""

from __future__ import annotations

import json
from typing import Any

from gate.model import ChecklistItem, Finding, Report

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


def item_dict(item: ChecklistItem) -> dict[str, Any]:
    out = {"label": item.label, "status": item.status, "note": item.note, "resources": item.resource,
           "findings": [finding_dict(f) for f in item.findings]}
    if item.suppressed:
        out["suppressed"] = [{**finding_dict(s.finding), "reason": s.reason, "suppressedBy": s.by}
                             for s in item.suppressed]
    return out


def document(report: Report) -> dict[str, Any]:
    return {
        "schemaVersion": SCHEMA_VERSION,
        "verdict": report.verdict.value,  # passed / failed / error, as the exit code 0 / 1 / 2
        "passed": report.passed,  # true only when the exit code is 0
        "failOn": report.fail_on,
        "summary": report.summary,
        "counts": report.counts,
        "findings": [finding_dict(f) for f in report.findings],
        "services": [{"hostname": s.hostname, "status": s.status, "items": [item_dict(i) for i in s.items]}
                     for s in report.services],
        "suppressed": [{**finding_dict(s.finding), "reason": s.reason, "suppressedBy": s.by}
                       for s in report.suppressed],
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
    return json.dumps(document(report), indent=2) + "\n"
