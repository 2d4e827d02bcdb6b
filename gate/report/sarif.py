"""`--format sarif`: SARIF 2.1.0 as GitHub code scanning reads it (upload with github/codeql-action/upload-sarif).

Rules are the whole catalogue, so a rule's index and id stay the same whatever --include/--exclude
or the policy selected. Alert identity across runs comes from `partialFingerprints`: GitHub keeps an
alert open (or dismissed) while its fingerprint stays the same, so the fingerprint is built from what
the finding is about (check id, the resource's group/kind/namespace/name, hostname, image), never
from the message text or the line, which move when someone edits the file above.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

from gate import __version__
from gate.checks import CHECKS
from gate.checks.base import Check
from gate.model import Finding, Report
from gate.report.jsontext import Sink, WrittenLater, boolean, compact, string
from gate.report.locations import artifact_uri, relative_path, resource_identity
from gate.report.safe import clean, utf8

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
# Our own key: GitHub recomputes `primaryLocationLineHash` itself and warns when a tool's value differs.
FINGERPRINT_KEY = "ingressGateFinding/v1"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def rule_name(check_id: str) -> str:
    """`route-backend-missing` -> `RouteBackendMissing` (SARIF wants an identifier-like name)."""
    return "".join(part.capitalize() for part in check_id.split("-"))


def rule(entry: Check) -> dict[str, Any]:
    network = (f" Needs the network ({entry.probe}); with --offline it is reported as not verified."
               if entry.probe else "")
    return {
        "id": entry.id,
        "name": rule_name(entry.id),
        "shortDescription": {"text": entry.title},
        "fullDescription": {"text": f"{entry.title}. Why: {entry.why} Checklist line: {entry.item_label}."
                                    f"{network}"},
        "help": {"text": f"Why: {entry.why}\nRemediation: {entry.remediation}",
                 "markdown": f"**{entry.title}**\n\nWhy: {entry.why}\n\nRemediation: {entry.remediation}"},
        "defaultConfiguration": {"level": LEVELS[entry.severity]},
        "properties": {"tags": ["kubernetes", "ingress-gate", entry.item]},
    }


def fingerprint_basis(finding: Finding) -> str:
    """What makes two findings in two runs the same alert (before the occurrence number)."""
    if finding.kind:
        about = resource_identity(finding)
    else:  # a finding about a place (a document that does not parse): the file is all there is
        about = f"file:{relative_path(finding.file) or finding.file}"
    return "\x1f".join((finding.check, about, finding.hostname or "", finding.image or ""))


def fingerprints(findings: list[Finding]) -> list[str]:
    """One stable hash per finding; the n-th finding with the same basis gets occurrence n.

    Findings arrive sorted by file, line, severity, check and message, so two findings of one check
    on one resource (two missing backends of one route) keep their order between runs.
    """
    seen: Counter[str] = Counter()
    out = []
    for finding in findings:
        basis = fingerprint_basis(finding)
        seen[basis] += 1
        out.append(hashlib.sha256(utf8(f"{basis}\x1f{seen[basis]}")).hexdigest()[:32])
    return out


def result(finding: Finding, fingerprint: str, rule_index: int) -> dict[str, Any]:
    subject = f"{finding.resource_ref}: " if finding.resource_ref else ""
    prefix = "Could not verify: " if finding.unverified else ""
    location: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": artifact_location(finding.file),
            "region": {"startLine": max(1, finding.line)},
        },
    }
    if finding.kind:
        location["logicalLocations"] = [{"name": finding.name, "kind": "resource",
                                         "fullyQualifiedName": finding.resource_ref}]
    properties: dict[str, Any] = {"severity": finding.severity, "unverified": finding.unverified}
    for key, value in (("hostname", finding.hostname), ("image", finding.image),
                       ("helmTemplate", finding.source)):
        if value:
            properties[key] = value
    return {
        "ruleId": finding.check,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": clean(f"{prefix}{subject}{finding.message}")},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint},
        "properties": properties,
    }


def artifact_location(file: str) -> dict[str, str]:
    location = {"uri": artifact_uri(file)}
    if relative_path(file) is not None:
        location["uriBaseId"] = "%SRCROOT%"
    return location


def results_json(report: Report) -> WrittenLater:
    """`[compact(result(...)) for each finding]`, made as it is written (gate.report.jsontext)."""
    return WrittenLater(len(report.findings), lambda: _results_text(report))


def _results_text(report: Report) -> Iterator[str]:
    # What is the same for many results (a file's artifact location, a rule's index) is written once:
    # pathlib and the URI quoting per finding cost more than the rest of the result.
    index = {check_id: int.__repr__(i) for i, check_id in enumerate(CHECKS)}
    artifacts: dict[str, str] = {}
    for finding, fingerprint in zip(report.findings, fingerprints(report.findings)):
        line, unverified = finding.line, finding.unverified
        try:
            if type(line) is not int or type(unverified) is not bool:
                raise TypeError("not the model's types")
            artifact = artifacts.get(finding.file)
            if artifact is None:
                artifact = artifacts[finding.file] = compact(artifact_location(finding.file))
            ref = finding.resource_ref
            subject = f"{ref}: " if ref else ""
            prefix = "Could not verify: " if unverified else ""
            logical = (f',"logicalLocations":[{{"name":{string(finding.name)},"kind":"resource",'
                       f'"fullyQualifiedName":{string(ref)}}}]' if finding.kind else "")
            optional = ""
            if finding.hostname:
                optional = f',"hostname":{string(finding.hostname)}'
            if finding.image:
                optional += f',"image":{string(finding.image)}'
            if finding.source:
                optional += f',"helmTemplate":{string(finding.source)}'
            yield (
                f'{{"ruleId":{string(finding.check)},"ruleIndex":{index[finding.check]},'
                f'"level":{string(LEVELS[finding.severity])},'
                f'"message":{{"text":{string(clean(f"{prefix}{subject}{finding.message}"))}}},'
                f'"locations":[{{"physicalLocation":{{"artifactLocation":{artifact},'
                f'"region":{{"startLine":{int.__repr__(max(1, line))}}}}}{logical}}}],'
                f'"partialFingerprints":{{"{FINGERPRINT_KEY}":{string(fingerprint)}}},'
                f'"properties":{{"severity":{string(finding.severity)},"unverified":{boolean(unverified)}'
                f'{optional}}}}}')
        except TypeError:  # a field that is not what the model says: json decides how it is written
            yield compact(result(finding, fingerprint, list(CHECKS).index(finding.check)))


def document(report: Report, results: list[Any] | None = None) -> dict[str, Any]:
    """The SARIF log as plain values; `render` passes the results as text (results_json)."""
    ids = list(CHECKS)
    if results is None:
        index = {check_id: i for i, check_id in enumerate(ids)}
        results = [result(f, fp, index[f.check]) for f, fp in zip(report.findings, fingerprints(report.findings))]
    invocation: dict[str, Any] = {"executionSuccessful": not report.errors}
    if report.errors:
        invocation["toolExecutionNotifications"] = [{"level": "error", "message": {"text": error}}
                                                    for error in report.errors]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "ingress-gate",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": [rule(CHECKS[check_id]) for check_id in ids],
            }},
            "invocations": [invocation],
            "results": results,
            "properties": {"verdict": report.verdict.value, "passed": report.passed, "failOn": report.fail_on,
                           "summary": report.summary, "counts": report.counts},
        }],
    }


def render(report: Report, colour: bool = False) -> str:
    """Exactly `json.dumps(document(report), separators=(",", ":")) + "\\n"` (tests/report/test_sarif.py).

    Compact: machines read SARIF (45,000 findings: 53 MiB indented, 32 MiB compact)."""
    return compact(document(report, results_json(report))) + "\n"


def write(report: Report, sink: Sink) -> None:
    """`render`'s text, handed to `sink` in pieces of about a MiB."""
    compact(document(report, results_json(report)), sink)
    sink("\n")
