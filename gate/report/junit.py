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
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from itertools import repeat

from gate.checks.base import Check
from gate.model import SEVERITY_RANK, Finding, Report, Suppressed
from gate.report.pieces import batched

# XML 1.0 cannot carry most control characters, and a parser message may quote them from the input.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    return NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _case_name(finding: Finding) -> str:
    return _clean(finding.resource_ref or f"{finding.file}:{finding.line}")


# The XML is written as text, as xml.etree.ElementTree writes it after ET.indent (ElementTree built
# three elements per finding: about 1 s at 45,000 findings, a third of the checks): the same escapes,
# attribute order, `<empty />` elements and two-space indentation (tests/report/test_junit.py
# re-serialises the output with ElementTree and compares).

def _attribute(text: str) -> str:
    """ElementTree's escape for an attribute value: markup, quotes, and CR, LF, tab as references."""
    text = _text(text)
    if '"' in text:
        text = text.replace('"', "&quot;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    if "\n" in text:
        text = text.replace("\n", "&#10;")
    if "\t" in text:
        text = text.replace("\t", "&#09;")
    return text


def _text(text: str) -> str:
    """ElementTree's escape for character data."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _start(tag: str, attributes: dict[str, str]) -> str:
    return "<" + tag + "".join([f' {name}="{_attribute(value)}"' for name, value in attributes.items()])


def _element(tag: str, attributes: dict[str, str], children: list[str] | None = None, text: str = "",
             margin: str = "\n") -> str:
    """`<tag a="v" />`, `<tag a="v">text</tag>`, or the children on lines of their own, one level
    deeper than `margin` (the newline and indentation before this element)."""
    start = _start(tag, attributes)
    if children:
        inner = margin + "  "
        return "".join((start, ">", inner, inner.join(children), margin, "</", tag, ">"))
    if text:
        return f"{start}>{_text(text)}</{tag}>"
    return start + " />"


CASE, CHILD = "\n    ", "\n      "  # a testcase's margin (in a suite in the root), its child's


class _Cleaned(dict[str, str]):
    """_clean of a text that many cases repeat (a file, a check, a remediation), once."""

    def __missing__(self, text: str) -> str:
        value = self[text] = _clean(text)
        return value


def _testcase(check_id: str, name: str, finding: Finding | None, fail_on: str,
              cleaned: _Cleaned | None = None) -> tuple[str, str]:
    """One case, and its outcome: "failure", "skipped" or "passed"."""
    if finding is None:
        return _element("testcase", {"classname": check_id, "name": name, "time": "0"}), "passed"
    cleaned = _Cleaned() if cleaned is None else cleaned
    # _clean works character by character, so the parts are cleaned apart, the repeated ones once
    message = _clean(finding.message)
    start = (f'<testcase classname="{_attribute(check_id)}" name="{_attribute(name)}" time="0" '
             f'file="{_attribute(cleaned[finding.file])}" line="{_attribute(str(finding.line))}">{CHILD}')
    outcome = _outcome(finding, fail_on)
    counts = SEVERITY_RANK[finding.severity] >= SEVERITY_RANK[fail_on]
    if outcome == "skipped":
        verdict = "the gate fails on it" if counts else "below --fail-on"
        return (f'{start}<skipped message="{_attribute(f"could not verify ({verdict}): {message}")}" />'
                f'{CASE}</testcase>'), "skipped"
    # what the finding is and how to fix it, as the case's text
    described = _text(f"{cleaned[finding.severity]} at {cleaned[finding.file]}:{finding.line}: {message}"
                      f"\n  remediation: {cleaned[finding.remediation]}")
    if outcome == "failure":
        return (f'{start}<failure type="{_attribute(finding.severity)}" '
                f'message="{_attribute(f"{cleaned[finding.check]}: {message}")}">{described}</failure>'
                f'{CASE}</testcase>'), "failure"
    # below --fail-on: passing, but visible
    return f"{start}<system-out>{described}</system-out>{CASE}</testcase>", "passed"


def _outcome(finding: Finding, fail_on: str) -> str:
    """A finding's case: skipped when it could not be verified, failed at or above --fail-on, else passed."""
    if finding.unverified:
        return "skipped"
    return "failure" if SEVERITY_RANK[finding.severity] >= SEVERITY_RANK[fail_on] else "passed"


def _names(findings: list[Finding]) -> list[str]:
    """A case name per finding: the resource, numbered from the second finding on the same one."""
    seen: dict[str, int] = defaultdict(int)
    names = []
    for finding in findings:
        base = _case_name(finding)
        seen[base] += 1
        names.append(base if seen[base] == 1 else f"{base} ({seen[base]})")
    return names


def render(report: Report, colour: bool = False) -> str:
    return "".join(_pieces(report))


def write(report: Report, sink) -> None:
    """`render`'s text, handed to `sink` in pieces of about a MiB: 100,000 findings make 60 MiB of XML."""
    batched(_pieces(report), sink)


_COUNTED = ("tests", "failures", "errors", "skipped")


def _pieces(report: Report) -> Iterator[str]:
    # The root and each suite open with their totals: counted in a first pass over the outcomes (no text
    # made), then the cases are made and handed out one at a time.
    suites = _suites(report)
    counts = [_count(outcome for _, outcome in cases(False)) for _, cases in suites]
    totals = {key: sum(c[key] for c in counts) for key in _COUNTED}
    root = _start("testsuites", {"name": "ingress-gate", **{key: str(totals[key]) for key in _COUNTED}, "time": "0"})
    yield '<?xml version="1.0" encoding="UTF-8"?>\n'
    if not suites:
        yield root + " />\n"
        return
    yield root + ">"
    for (name, cases), count in zip(suites, counts):
        start = _start("testsuite", {"name": name, **{key: str(count[key]) for key in _COUNTED}, "time": "0"})
        if not count["tests"]:
            yield "\n  " + start + " />"
            continue
        yield "\n  " + start + ">"
        for case, _ in cases(True):
            yield CASE + case
        yield "\n  </testsuite>"
    yield "\n</testsuites>\n"


def _count(outcomes: Iterable[str]) -> dict[str, int]:
    counts = dict.fromkeys(_COUNTED, 0)
    for outcome in outcomes:
        counts["tests"] += 1
        if outcome != "passed":
            counts[{"failure": "failures", "error": "errors", "skipped": "skipped"}[outcome]] += 1
    return counts


Cases = Callable[[bool], Iterator[tuple[str, str]]]  # (with text?) -> (case, outcome); "" as case without


def _suites(report: Report) -> list[tuple[str, Cases]]:
    """(suite name, its cases) per check, and one for the inputs that could not be read."""
    by_check: dict[str, list[Finding]] = defaultdict(list)
    for finding in report.findings:
        by_check[finding.check].append(finding)
    silenced: dict[str, list[Suppressed]] = defaultdict(list)
    for quiet in report.suppressed:
        silenced[quiet.finding.check].append(quiet)
    cleaned = _Cleaned()

    def of_check(entry: Check) -> Cases:
        findings, quiet = by_check.get(entry.id, []), silenced.get(entry.id, [])

        def cases(text: bool) -> Iterator[tuple[str, str]]:
            for name, f in zip(_names(findings) if text else repeat(""), findings):
                yield _testcase(entry.id, name, f, report.fail_on, cleaned) if text else ("", _outcome(f, report.fail_on))
            for q in quiet:
                if not text:
                    yield "", "skipped"
                    continue
                skipped = _element("skipped", {"message": _clean(f"suppressed by {q.by}: {q.reason}")}, margin=CHILD)
                yield _element("testcase", {"classname": entry.id, "name": f"{_case_name(q.finding)} (suppressed)",
                                            "time": "0", "file": _clean(q.finding.file),
                                            "line": str(q.finding.line)}, [skipped], margin=CASE), "skipped"
            if findings or quiet:
                return
            offline = entry.probe is not None and report.probe_status.get(entry.probe) == "offline"
            case_name = f"{entry.title} ({'not run: offline' if offline else 'no findings'})"
            if offline:  # never "passed": nothing was asked
                skipped = _element("skipped", {"message": f"offline: {entry.id} needs the {entry.probe} probe"},
                                   margin=CHILD)
                yield _element("testcase", {"classname": entry.id, "name": case_name, "time": "0"},
                               [skipped], margin=CASE), "skipped"
            else:
                yield _testcase(entry.id, case_name, None, report.fail_on)
        return cases

    def of_errors(text: bool) -> Iterator[tuple[str, str]]:
        for error in report.errors:
            yield (_element("testcase", {"classname": "input", "name": _clean(error), "time": "0"},
                            [_element("error", {"type": "input-error", "message": _clean(error)}, margin=CHILD)],
                            margin=CASE) if text else ""), "error"

    suites: list[tuple[str, Cases]] = [(entry.id, of_check(entry)) for entry in report.checks]
    if report.errors:
        suites.append(("input", of_errors))
    return suites
