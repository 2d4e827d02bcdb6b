"""`--format junit`: JUnit XML with a case per check and resource, failing at --fail-on."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from conftest import EXAMPLES, FIXTURES, check_text, gate_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from sample_reports import HOSTILE, example_findings, finding, hostile_report, report_of

from gate.report import junit
from gate.run import RunConfig, run

EMPTY_REASON = """
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
  annotations:
    gate.ingress-gate.dev/ignore-route-backend-missing: ""
spec:
  ports:
  - port: 80
"""


def cases(root: ET.Element) -> dict[tuple[str, str], ET.Element]:
    return {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}


def test_incident_has_one_failure_per_finding():
    """Each of the incident's 12 errors is one failed case (the Gateway's 4 are 4, not 1) with file and
    line; the network checks that did not run offline are skipped, not passed; totals add up."""
    proc = gate_cli("check", "--offline", "--format", "junit", "examples/incident")
    assert proc.returncode == 1
    root = ET.fromstring(proc.stdout)
    findings = [f for f in example_findings("incident") if f["severity"] == "error"]  # at or above --fail-on
    expected = {(f["check"], f"{f['resource']['kind']} {f['resource']['namespace']}/{f['resource']['name']}"
                 if f["resource"]["namespace"] else f"{f['resource']['kind']} {f['resource']['name']}")
                for f in findings}
    assert root.tag == "testsuites" and root.get("failures") == str(len(findings))
    failed = {key: c for key, c in cases(root).items() if c.find("failure") is not None}
    assert {(check, name.split(" (")[0]) for check, name in failed} == expected and len(failed) == 12
    offline = [c for c in root.iter("testcase") if c.get("name").endswith("(not run: offline)")]
    assert offline and all(c.find("skipped") is not None for c in offline)
    skipped = [c for c in root.iter("testcase") if c.find("skipped") is not None]
    assert root.get("skipped") == str(len(skipped)) and set(offline) <= set(skipped)
    route = failed[("route-backend-missing", "HTTPRoute acme-pay-production/pay-route")]
    assert (route.get("file"), route.get("line")) == ("examples/incident/acme-pay-production/app.yaml", "56")
    assert "Deploy the backend Service" in route.find("failure").text
    assert int(root.get("tests")) == sum(int(s.get("tests")) for s in root.iter("testsuite"))


def test_healthy_has_no_failure_and_a_passing_case_per_check():
    """With no finding, every selected check is one passing case."""
    root = ET.fromstring(gate_cli("check", "--offline", "--format", "junit", "examples/healthy").stdout)
    suites = list(root.iter("testsuite"))
    assert suites and all(len(s.findall("testcase")) == 1 for s in suites)
    assert root.get("failures") == "0" and not list(root.iter("failure"))


def test_fail_on_decides_failure_or_pass(tmp_path):
    """A warning fails its case with --fail-on warning and passes (with the text in system-out) otherwise."""
    by_default = ET.fromstring(junit.render(check_text(tmp_path, EMPTY_REASON)))
    case = cases(by_default)[("suppression-invalid", "Service shop/web")]
    assert case.find("failure") is None and "empty" in case.find("system-out").text.lower()
    strict = ET.fromstring(junit.render(check_text(tmp_path, EMPTY_REASON, fail_on="warning")))
    failure = cases(strict)[("suppression-invalid", "Service shop/web")].find("failure")
    assert failure is not None and failure.get("type") == "warning"


def test_unverified_findings_are_skipped_and_say_whether_they_fail_the_gate():
    """A finding that could not be verified is a skipped case whose message tells it counts."""
    root = ET.fromstring(junit.render(report_of([finding(unverified=True, message="lookup timed out")])))
    skipped = cases(root)[("route-backend-missing", "HTTPRoute shop/web")].find("skipped")
    assert skipped is not None and "could not verify (the gate fails on it)" in skipped.get("message")
    assert root.get("skipped") == "1" and root.get("failures") == "0"


def test_control_characters_and_markup_stay_well_formed():
    """Escape sequences and XML markup from the input give XML that parses and keeps the text."""
    report = report_of([finding(message='bad \x1b[31m<tag attr="x"> & \x00')], errors=["cannot read <a&b>"])
    root = ET.fromstring(junit.render(report))
    failure = next(root.iter("failure"))
    assert '<tag attr="x"> &' in failure.get("message") and "\\x1b" in failure.get("message")
    error = next(root.iter("error"))
    assert error.get("message") == "cannot read <a&b>" and root.get("errors") == "1"


def as_elementtree_writes_it(text: str) -> str:
    """The document `text` denotes, written by ElementTree (after ET.indent), as the format was
    written before it was written as text."""
    root = ET.fromstring(text)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def parsed_line_ends(text: str) -> str:
    # an XML parser reads CR LF and a lone CR in character data as LF (attributes carry CR as &#13;)
    return text.replace("\r\n", "\n").replace("\r", "\n")


@pytest.mark.parametrize("folder", [EXAMPLES / "healthy", EXAMPLES / "incident", FIXTURES], ids=lambda p: p.name)
def test_the_text_is_what_elementtree_writes_on_the_examples(folder):
    for fail_on in ("error", "warning"):
        text = junit.render(run(RunConfig(paths=[str(folder)], offline=True, fail_on=fail_on)))
        assert text == as_elementtree_writes_it(text)


def test_the_text_is_what_elementtree_writes_for_hostile_text():
    """Markup, quotes, CR/LF/tab, controls, bidi and surrogates in every field of every kind of case
    (failure, skipped, suppressed, below --fail-on, input error) are escaped as ElementTree escapes them."""
    report = hostile_report()
    report.findings += [finding(severity="warning", message="a\r\nb\t<c>&\"'"), finding(unverified=True, file="\t&\"")]
    report.errors += [f"cannot read {text}" for text in HOSTILE]
    text = junit.render(report)
    assert parsed_line_ends(text) == as_elementtree_writes_it(text)
    assert "\x1b" not in text and "\ud800" not in text
    nothing = report_of([])
    nothing.checks = []
    assert junit.render(nothing) == as_elementtree_writes_it(junit.render(nothing))


_text = st.text(st.one_of(st.characters(codec=None, categories=None), st.sampled_from("".join(HOSTILE) + "<>&\"'")),
                max_size=10)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.fixed_dictionaries({"message": _text, "name": _text, "file": _text, "remediation": _text,
                                       "severity": st.sampled_from(["error", "warning", "info"]),
                                       "unverified": st.booleans(), "line": st.integers(-2, 10**6)}), max_size=4),
       st.sampled_from(["error", "warning"]))
def test_any_finding_is_written_as_elementtree_writes_it(fields, fail_on):
    report = report_of([finding(**f) for f in fields], fail_on=fail_on)
    text = junit.render(report)
    assert parsed_line_ends(text) == as_elementtree_writes_it(text)


def test_written_in_pieces_it_is_the_rendered_text(tmp_path):
    """`write` (what the CLI uses: 100,000 findings make 60 MiB of XML) hands out render's text in pieces,
    the totals first; the CLI's stdout and file are that text."""
    for report in (hostile_report(), run(RunConfig(paths=[str(FIXTURES)], offline=True)),
                   report_of([], errors=["x.yaml: cannot read"])):
        pieces: list[str] = []
        junit.write(report, pieces.append)
        assert "".join(pieces) == junit.render(report)
    out = tmp_path / "report.xml"
    cli = gate_cli("check", "--offline", "--format", "junit", "--format", f"junit={out}", "examples/incident")
    assert cli.stdout == out.read_bytes() and ET.fromstring(cli.stdout).get("failures") != "0"
