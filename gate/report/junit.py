"""`--format junit`: JUnit XML for CI test reports (GitLab, Jenkins, test-reporter actions).

A test suite per check, a test case per finding: failed when it is verified and at or above
--fail-on (one failure per finding, so the failure count is the gate's), skipped when it could not
be verified (the message says whether the gate fails on it) or was suppressed (with the reason),
passed when below --fail-on (the text in `system-out`). A check with no finding is one case:
passed, or skipped when it needs the network and the run was offline. Inputs that could not be
read are errors in a suite of their own.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict

from gate.model import SEVERITY_RANK, Finding, Report, Suppressed

# XML 1.0 cannot carry most control characters, and a parser message may quote them from the input.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    return NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _case_name(finding: Finding) -> str:
    return _clean(finding.resource_ref or f"{finding.file}:{finding.line}")


def _describe(findings: list[Finding]) -> str:
    return _clean("\n".join(f"{'unverified ' if f.unverified else ''}{f.severity} at {f.location}: {f.message}\n"
                     f"  remediation: {f.remediation}" for f in findings))


def _testcase(suite: ET.Element, check_id: str, name: str, finding: Finding | None, fail_on: str) -> str:
    """Add one case; return its outcome: "failure", "skipped" or "passed"."""
    case = ET.SubElement(suite, "testcase", classname=check_id, name=name, time="0")
    if finding is None:
        return "passed"
    case.set("file", _clean(finding.file))
    case.set("line", str(finding.line))
    threshold = SEVERITY_RANK[fail_on]
    counts = SEVERITY_RANK[finding.severity] >= threshold
    if finding.unverified:
        verdict = "the gate fails on it" if counts else "below --fail-on"
        ET.SubElement(case, "skipped", message=_clean(f"could not verify ({verdict}): {finding.message}"))
        return "skipped"
    if counts:
        element = ET.SubElement(case, "failure", type=finding.severity,
                                message=_clean(f"{finding.check}: {finding.message}"))
        element.text = _describe([finding])
        return "failure"
    ET.SubElement(case, "system-out").text = _describe([finding])  # below --fail-on: passing, but visible
    return "passed"


def _names(findings: list[Finding]) -> list[str]:
    """A case name per finding: the resource, numbered from the second finding on the same one."""
    seen: dict[str, int] = defaultdict(int)
    names = []
    for finding in findings:
        base = _case_name(finding)
        seen[base] += 1
        names.append(base if seen[base] == 1 else f"{base} ({seen[base]})")
    return names


def document(report: Report) -> ET.Element:
    by_check: dict[str, list[Finding]] = defaultdict(list)
    for finding in report.findings:
        by_check[finding.check].append(finding)
    silenced: dict[str, list[Suppressed]] = defaultdict(list)
    for quiet in report.suppressed:
        silenced[quiet.finding.check].append(quiet)
    root = ET.Element("testsuites", name="ingress-gate")
    totals: dict[str, int] = defaultdict(int)
    for entry in report.checks:
        suite = ET.SubElement(root, "testsuite", name=entry.id)
        findings = by_check.get(entry.id, [])
        outcomes = [_testcase(suite, entry.id, name, f, report.fail_on) for name, f in zip(_names(findings), findings)]
        for quiet in silenced.get(entry.id, []):
            case = ET.SubElement(suite, "testcase", classname=entry.id, name=f"{_case_name(quiet.finding)} (suppressed)",
                                 time="0", file=_clean(quiet.finding.file), line=str(quiet.finding.line))
            ET.SubElement(case, "skipped", message=_clean(f"suppressed by {quiet.by}: {quiet.reason}"))
            outcomes.append("skipped")
        if not outcomes:
            offline = entry.probe is not None and report.probe_status.get(entry.probe) == "offline"
            case_name = f"{entry.title} ({'not run: offline' if offline else 'no findings'})"
            if offline:  # never "passed": nothing was asked
                case = ET.SubElement(suite, "testcase", classname=entry.id, name=case_name, time="0")
                ET.SubElement(case, "skipped", message=f"offline: {entry.id} needs the {entry.probe} probe")
                outcomes.append("skipped")
            else:
                outcomes.append(_testcase(suite, entry.id, case_name, None, report.fail_on))
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
