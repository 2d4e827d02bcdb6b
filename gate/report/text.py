"""The human checklist: per HTTPS service, `[x]` passed, `[ ]` failed, `[?]` could not verify."""

from __future__ import annotations

from gate.model import Finding, Report

MARKS = {"pass": "[x]", "fail": "[ ]", "unverified": "[?]"}
COLOURS = {"pass": "32", "fail": "31", "unverified": "33", "error": "31", "warning": "33", "info": "36"}


def _paint(text: str, code: str, colour: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if colour else text


def _where(finding: Finding) -> str:
    source = f" (template {finding.source})" if finding.source else ""
    return f"{finding.location}{source}"


def _finding_line(finding: Finding, colour: bool, indent: str) -> list[str]:
    tag = "unverified" if finding.unverified else finding.severity
    head = _paint(f"{tag}", COLOURS[finding.severity if not finding.unverified else "unverified"], colour)
    subject = f"{finding.resource_ref}: " if finding.resource_ref else ""
    return [f"{indent}{head} {finding.check}: {subject}{finding.message}",
            f"{indent}  at {_where(finding)}"]


def render(report: Report, colour: bool = False) -> str:
    lines: list[str] = []
    for service in report.services:
        lines.append(_paint(f"https://{service.hostname}", "1", colour))
        for item in service.items:
            mark = _paint(MARKS[item.status], COLOURS[item.status], colour)
            detail = f" ({item.note})" if item.note else ""
            about = f"  {item.resource}" if item.resource and item.status == "pass" else ""
            lines.append(f"  {mark} {item.label}{detail}{about}")
            for finding in item.findings:
                lines.extend(_finding_line(finding, colour, "      "))
        lines.append("")
    if report.unassigned:
        lines.append(_paint("Findings outside any HTTPS service", "1", colour))
        for finding in report.unassigned:
            lines.extend(_finding_line(finding, colour, "  "))
        lines.append("")
    for error in report.errors:
        lines.append(_paint(f"input error: {error}", COLOURS["error"], colour))
    counts = report.summary
    verdict = _paint("PASSED" if report.passed and not report.errors else "FAILED",
                     COLOURS["pass" if report.passed and not report.errors else "fail"], colour)
    extras = []
    if report.suppressed:
        extras.append(f"{len(report.suppressed)} suppressed")
    if report.cluster_state_consulted:
        extras.append(f"{report.known} object{'s' * (report.known != 1)} known from cluster state")
    if report.skipped:
        extras.append(f"{len(report.skipped)} documents skipped (not Kubernetes objects)")
    tail = f"; {', '.join(extras)}" if extras else ""
    lines.append(
        f"{verdict}: {counts['error']} error{'s' * (counts['error'] != 1)}, "
        f"{counts['warning']} warning{'s' * (counts['warning'] != 1)}, {counts['info']} info, "
        f"{counts['unverified']} unverified (fail on {report.fail_on}); {len(report.services)} services, "
        f"{report.resources} resources in {report.files} file{'s' * (report.files != 1)}{tail}")
    return "\n".join(lines) + "\n"
