"""`--format markdown`: the checklist for the job summary and pull-request comments."""

from __future__ import annotations

import re

from conftest import gate_cli
from sample_reports import example_findings, finding, report_of

from gate.model import ChecklistItem, ServiceChecklist
from gate.report import markdown


def tables(text: str) -> list[list[str]]:
    """Each Markdown table as its list of lines."""
    found, current = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            found.append(current)
            current = []
    return found + ([current] if current else [])


def columns(row: str) -> int:
    return len(re.split(r"(?<!\\)\|", row.strip())) - 2


def test_incident_has_a_table_per_failing_service_with_links(monkeypatch):
    """Services with findings are open tables; findings link to file#Lline; the quiet ones are folded."""
    for var in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_SHA"):
        monkeypatch.delenv(var, raising=False)
    # Without the two checks whose findings reach every service, some services have none to fold.
    quiet_checks = ("--exclude", "certmanager-gateway-api-disabled", "--exclude", "certificate-wait-deadlock")
    proc = gate_cli("check", "--offline", "--format", "markdown", *quiet_checks, "examples/incident")
    assert proc.returncode == 1
    text = proc.stdout.decode()
    assert text.startswith("## ingress-gate: ❌ FAILED\n")
    found = [f for f in example_findings("incident")
             if f["check"] not in ("certmanager-gateway-api-disabled", "certificate-wait-deadlock")]
    errors = sum(f["severity"] == "error" for f in found)
    assert f"**{errors} errors, 0 warnings, 0 info** (fail on error) · " in text
    head, folded = text.split("<details>", 1)
    failing = re.findall(r"^### ❌ https://(\S+)$", head, re.MULTILINE)
    assert {"pay.example.com", "pay.sandbox.example.com", "rbac.example.com", "rbac.sandbox.example.com"} <= set(failing)
    assert re.search(r"\[examples/incident/acme-pay-production/app\.yaml:56\]"
                     r"\(examples/incident/acme-pay-production/app\.yaml#L56\)", head)
    quiet = re.findall(r"^### \S+ https://(\S+)$", folded, re.MULTILINE)
    assert f"<summary>{len(quiet)} services without findings" in folded and "</details>" in folded
    assert len(quiet) + len(re.findall(r"^### ", head, re.MULTILINE)) == 23 and "admin.example.com" in quiet
    for table in tables(text):
        assert table[1] == "|---|---|---|---|"
        assert {columns(row) for row in table} == {4}


def test_links_go_to_the_commit_in_github_actions(monkeypatch):
    """With the Actions environment set, a finding links to the file at that commit and line."""
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.example")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/deploy")
    monkeypatch.setenv("GITHUB_SHA", "0123abc")
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    text = markdown.render(report_of([finding(file="deploy/my app.yaml", line=7)]))
    assert "](https://github.example/acme/deploy/blob/0123abc/deploy/my%20app.yaml#L7)" in text


def test_cells_escape_pipes_newlines_and_html():
    """A message with `|`, newlines and HTML stays inside its cell and renders as text."""
    bad = finding(message="a | b\nc <script>alert(1)</script> & [x](y)")
    item = ChecklistItem("Backend Service exists", "fail", [bad], resource="HTTPRoute shop/web")
    text = markdown.render(report_of([bad], services=[ServiceChecklist("shop.example.com", [item])]))
    row = next(line for line in text.splitlines() if "Backend Service exists" in line)
    assert columns(row) == 4
    assert "a \\| b<br>c \\<script\\>" in row and "&amp;" in row and "\\[x\\](y)" in row
    assert "<script>" not in text


def test_long_lists_are_folded_and_capped():
    """Many findings outside a service are folded, and past the row cap the rest is counted, not printed."""
    many = [finding(name=f"r{i}", line=i + 1) for i in range(markdown.MAX_ROWS + 25)]
    text = markdown.render(report_of(many))
    assert f"<details><summary>{len(many)} findings</summary>" in text
    assert sum(1 for line in text.splitlines() if line.startswith("| error |")) == markdown.MAX_ROWS
    assert "> 25 more findings are not shown here" in text


def test_healthy_passes_and_input_errors_are_listed():
    """A passing run says PASSED; input errors are listed and turn the verdict to ERROR (exit 2)."""
    assert gate_cli("check", "--offline", "--format", "markdown", "examples/healthy").stdout.decode() \
        .startswith("## ingress-gate: ✅ PASSED")
    text = markdown.render(report_of([], errors=["missing.yaml: no such file"]))
    assert text.startswith("## ingress-gate: ❌ ERROR") and "### Input errors\n\n- missing.yaml: no such file" in text
