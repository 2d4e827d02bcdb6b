"""`--format junit`: JUnit XML for CI test reports (GitLab, Jenkins, test-reporter actions).

A test suite per check, a test case per check and resource: failed when a verified finding is at or
above --fail-on, skipped when the only findings could not be verified (the gate may still fail on
them, as the policy says; the message tells), passed otherwise. A check with no finding is one
passing case. Inputs that could not be read are errors in a suite of their own.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict

from gate.model import SEVERITY_RANK, Finding, Report

# XML 1.0 cannot carry most control characters, and a parser message may quote them from the input.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    return NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _case_name(finding: Finding) -> str:
    return _clean(finding.resource_ref or f"{finding.file}:{finding.line}")


def _describe(findings: list[Finding]) -> str:
    return _clean("\n".join(f"{'unverified ' if f.unverified else ''}{f.severity} at {f.location}: {f.message}\n"
                     f"  remediation: {f.remediation}" for f in findings))


def _testcase(suite: ET.Element, check_id: str, name: str, findings: list[Finding], fail_on: str) -> str:
    """Add one case; return its outcome: "failure", "skipped" or "passed"."""
    case = ET.SubElement(suite, "testcase", classname=check_id, name=name, time="0")
    if findings:
        case.set("file", _clean(findings[0].file))
        case.set("line", str(findings[0].line))
    threshold = SEVERITY_RANK[fail_on]
    failing = [f for f in findings if not f.unverified and SEVERITY_RANK[f.severity] >= threshold]
    unverified = [f for f in findings if f.unverified]
    if failing:
        head = failing[0]
        element = ET.SubElement(case, "failure", type=head.severity, message=_clean(f"{head.check}: {head.message}"))
        element.text = _describe(findings)
        return "failure"
    if unverified:
        counts = any(SEVERITY_RANK[f.severity] >= threshold for f in unverified)
        verdict = "the gate fails on it" if counts else "below --fail-on"
        ET.SubElement(case, "skipped", message=_clean(f"could not verify ({verdict}): {unverified[0].message}"))
        return "skipped"
    if findings:  # below --fail-on: passing, but visible
        ET.SubElement(case, "system-out").text = _describe(findings)
    return "passed"


def document(report: Report) -> ET.Element:
    by_case: dict[str, dict[str, list[Finding]]] = defaultdict(lambda: defaultdict(list))
    for finding in report.findings:
        by_case[finding.check][_case_name(finding)].append(finding)
    root = ET.Element("testsuites", name="ingress-gate")
    totals: dict[str, int] = defaultdict(int)
    for entry in report.checks:
        suite = ET.SubElement(root, "testsuite", name=entry.id)
        outcomes = [_testcase(suite, entry.id, name, findings, report.fail_on)
                    for name, findings in sorted(by_case.get(entry.id, {}).items())]
        if not outcomes:
            outcomes.append(_testcase(suite, entry.id, f"{entry.title} (no findings)", [], report.fail_on))
        _count(suite, outcomes, totals)
    if report.errors:
        suite = ET.SubElement(root, "testsuite", name="input")
        for error in report.errors:
            case = ET.SubElement(suite, "testcase", classname="input", name=_clean(error), time="0")
            ET.SubElement(case, "error", type="input-error", message=_clean(error))
        _count(suite, ["error"] * len(report.errors), totals)
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(totals[key]))
    root.set("time", "0")
    return root


def _count(suite: ET.Element, outcomes: list[str], totals: dict[str, int]) -> None:
    counts = {"tests": len(outcomes), "failures": outcomes.count("failure"), "errors": outcomes.count("error"),
              "skipped": outcomes.count("skipped")}
    for key, value in counts.items():
        suite.set(key, str(value))
        totals[key] += value
    suite.set("time", "0")


def render(report: Report, colour: bool = False) -> str:
    root = document(report)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
