"""`--format sarif`: valid SARIF 2.1.0 that GitHub code scanning keeps stable across runs."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import EXAMPLES, FIXTURES, gate_cli, needs_shared, write
from sample_reports import example_findings, finding, hostile_report, report_of
from sarif_check import valid_sarif

from gate.checks import CHECKS
from gate.report import sarif
from gate.run import RunConfig, run


def gate_sarif(*args: str, cwd=None) -> tuple[int, dict]:
    proc = gate_cli("check", "--offline", "--format", "sarif", *args, cwd=cwd)
    return proc.returncode, valid_sarif(proc.stdout.decode())


@needs_shared
def test_incident_sarif_is_valid_with_one_result_per_finding():
    """The incident's SARIF validates, has every finding as a result with rule, level, file and line."""
    code, doc = gate_sarif("examples/incident")
    assert code == 1
    run = doc["runs"][0]
    results = run["results"]
    expected = example_findings("incident")
    assert [(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in results] == \
        [(f["check"], f["line"]) for f in expected]
    rules = run["tool"]["driver"]["rules"]
    for res, finding in zip(results, expected, strict=True):
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["level"] == finding["severity"]
        place = res["locations"][0]["physicalLocation"]
        assert place["artifactLocation"]["uri"].startswith("examples/incident/")
        assert place["region"]["startLine"] > 1
    missing = [r for r in results if r["ruleId"] == "route-backend-missing"]
    assert {r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in missing} == {56}


@needs_shared
def test_rules_are_the_whole_catalogue_with_help_and_default_level():
    """Every check id is a rule once, with descriptions, the remediation as help, and its default level."""
    code, doc = gate_sarif("--exclude", "sync-wave-order", "examples/healthy")
    assert code == 0 and doc["runs"][0]["results"] == []
    rules = doc["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(CHECKS)
    for rule in rules:
        entry = CHECKS[rule["id"]]
        assert rule["shortDescription"]["text"] == entry.title
        assert entry.title in rule["fullDescription"]["text"]
        assert entry.remediation in rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] == {"error": "error", "warning": "warning",
                                                         "info": "note"}[entry.severity]


@needs_shared
def test_fingerprints_survive_edits_above_and_differ_between_findings(tmp_path):
    """Moving every finding down by inserting lines keeps each fingerprint; distinct findings differ."""
    shutil.copytree(EXAMPLES / "incident", tmp_path / "incident")
    _, before = gate_sarif("incident", cwd=tmp_path)
    for path in (tmp_path / "incident").rglob("*.yaml"):
        path.write_text("# reviewed\n# by the platform team\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    _, after = gate_sarif("incident", cwd=tmp_path)

    def prints(doc):
        return {r["partialFingerprints"][sarif.FINGERPRINT_KEY]:
                (r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"])
                for r in doc["runs"][0]["results"]}
    old, new = prints(before), prints(after)
    assert len(old) == len(before["runs"][0]["results"]) >= 8, "fingerprints must be distinct"
    assert old.keys() == new.keys()
    for fingerprint, (rule_id, line) in old.items():
        assert new[fingerprint] == (rule_id, line + 2)


def test_two_findings_of_one_check_on_one_resource_get_distinct_stable_fingerprints():
    """Two missing backends of one route are two alerts, and the message text does not enter the print."""
    first = [finding(message="spec.rules[0].backendRefs[0] names Service shop/a"),
             finding(message="spec.rules[1].backendRefs[0] names Service shop/b", line=9)]
    reworded = [finding(message="backend shop/a is missing"), finding(message="backend shop/b is missing", line=12)]
    assert len(set(sarif.fingerprints(first))) == 2
    assert sarif.fingerprints(first) == sarif.fingerprints(reworded)
    other = [finding(name="api"), finding(name="web")]
    assert sarif.fingerprints(other)[0] != sarif.fingerprints(first)[0]


@needs_shared
def test_unverified_and_placeless_findings_are_valid_and_marked():
    """A could-not-verify finding says so; a finding with no resource or from stdin still validates."""
    report = report_of([
        finding("listener-secret-missing", "DNS lookup timed out", unverified=True, hostname="a.example.com"),
        finding("manifest-invalid", "could not parse: mapping values are not allowed here", file="<stdin>",
                line=0, api_version="", kind="", namespace="", name=""),
    ], errors=["no such file or directory: missing/"])
    doc = valid_sarif(sarif.render(report))
    unverified, placeless = doc["runs"][0]["results"]
    assert unverified["message"]["text"].startswith("Could not verify: ")
    assert unverified["properties"]["unverified"] is True and unverified["level"] == "error"
    assert placeless["locations"][0]["physicalLocation"]["region"]["startLine"] == 1
    assert "logicalLocations" not in placeless["locations"][0]
    argocd = valid_sarif(sarif.render(report_of([finding(file="argocd:shop/HTTPRoute/shop/web", line=1)])))
    location = argocd["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "argocd%3Ashop/HTTPRoute/shop/web"}  # not a file under the working folder
    invocation = doc["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"][0]["message"]["text"].startswith("no such file")


@needs_shared
def test_uris_are_relative_to_the_working_folder_whatever_the_path_given(tmp_path):
    """An absolute or ./-prefixed path comes out as the same relative URI; a path outside is a file:// URI."""
    render = write(tmp_path / "repo", "deploy/route.yaml", (EXAMPLES / "incident/acme-pay-production/app.yaml")
                   .read_text(encoding="utf-8"))
    uris = set()
    for given in (str(render), "./deploy/route.yaml", "deploy/../deploy/route.yaml"):
        _, doc = gate_sarif(given, cwd=tmp_path / "repo")
        uris |= {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in doc["runs"][0]["results"]}
    assert uris == {"deploy/route.yaml"}
    (tmp_path / "elsewhere").mkdir()
    _, outside = gate_sarif(str(render), cwd=tmp_path / "elsewhere")
    location = outside["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location["uri"] == render.as_uri() and "uriBaseId" not in location


@needs_shared
def test_sarif_file_written_next_to_text_output(tmp_path):
    """`--format sarif=PATH` writes a valid file while the checklist still goes to stdout."""
    out = tmp_path / "gate.sarif"
    proc = gate_cli("check", "--offline", "--format", f"sarif={out}", "examples/incident")
    assert proc.returncode == 1 and b"FAILED: " in proc.stdout
    assert len(valid_sarif(out.read_text(encoding="utf-8"))["runs"][0]["results"]) == len(example_findings("incident"))


def stdlib_sarif(report) -> str:
    return json.dumps(sarif.document(report), separators=(",", ":")) + "\n"


@needs_shared
@pytest.mark.parametrize("folder", [EXAMPLES / "healthy", EXAMPLES / "incident", FIXTURES], ids=lambda p: p.name)
def test_render_is_json_dumps_of_the_document_on_the_examples(folder):
    """The results written as text are what json writes of the plain document, byte for byte."""
    report = run(RunConfig(paths=[str(folder)], offline=True))
    text = sarif.render(report)
    assert text == stdlib_sarif(report)
    valid_sarif(text)


@needs_shared
def test_hostile_text_is_escaped_as_json_escapes_it_and_still_validates():
    """Controls, bidi overrides and surrogates in every field: the message shows them as escapes
    (safe.clean), every other field is json's escape; the log validates."""
    report = hostile_report()
    report.findings.append(finding(file="<stdin>", line=0, source="chart/templates/x.yaml", kind=""))
    text = sarif.render(report)
    assert text == stdlib_sarif(report) and text.isascii()
    messages = [r["message"]["text"] for r in valid_sarif(text)["runs"][0]["results"]]
    assert not [m for m in messages if any(c in m for c in "\x1b\u202e\ud800\n")]


@pytest.mark.parametrize("fields", [{"line": "3"}, {"line": True}, {"unverified": 1}, {"hostname": ["a"]},
                                    {"name": 7}, {"image": {"x": 1}}])
def test_a_field_of_another_type_is_written_as_json_would(fields):
    """Findings built outside the loader need not follow the model's types: the text is json's,
    or the same error as the plain document's (a line that is not a number cannot be a SARIF line)."""
    report = report_of([finding(**fields), finding()])
    try:
        expected = stdlib_sarif(report)
    except TypeError:
        with pytest.raises(TypeError):
            sarif.render(report)
    else:
        assert sarif.render(report) == expected


def test_written_in_pieces_it_is_the_rendered_text(monkeypatch, tmp_path):
    """`write` (what the CLI uses) hands out render's text in pieces; the CLI's file and stdout are that text."""
    import gate.report.jsontext as jsontext

    monkeypatch.setattr(jsontext, "_FLUSH_ITEMS", 2)
    for report in (hostile_report(), run(RunConfig(paths=[str(EXAMPLES / "incident")], offline=True))):
        pieces: list[str] = []
        sarif.write(report, pieces.append)
        assert len(pieces) > 2 and "".join(pieces) == sarif.render(report)
    out = tmp_path / "report.sarif"
    cli = gate_cli("check", "--offline", "--format", "sarif", "--format", f"sarif={out}", "examples/incident")
    assert cli.stdout == out.read_bytes()
    assert json.loads(out.read_text())["runs"][0]["results"]  # schema-checked by the tests above
