"""`--format json`: the document is exactly what `json.dumps(document(report), indent=2)` writes."""

from __future__ import annotations

import json

import pytest
from conftest import EXAMPLES, FIXTURES, gate_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from sample_reports import HOSTILE, finding, hostile_report, report_of

from gate.model import Suppressed
from gate.report import json_report
from gate.report.json_report import document, finding_dict, finding_json, render
from gate.run import RunConfig, run


def stdlib(report) -> str:
    return json.dumps(document(report), indent=2) + "\n"


@pytest.mark.parametrize("folder", [EXAMPLES / "healthy", EXAMPLES / "incident", FIXTURES], ids=lambda p: p.name)
def test_render_is_json_dumps_on_the_examples(folder):
    report = run(RunConfig(paths=[str(folder)], offline=True))
    assert report.findings or folder.name == "healthy"
    assert render(report) == stdlib(report)


def test_written_in_pieces_it_is_the_rendered_text(monkeypatch, tmp_path):
    """`write` (what the CLI uses: a report of 100,000 objects is hundreds of MiB) hands out render's text in
    pieces; the CLI's file and stdout are that text byte for byte."""
    import gate.report.jsontext as jsontext

    monkeypatch.setattr(jsontext, "_FLUSH_ITEMS", 2)
    for report in (hostile_report(), run(RunConfig(paths=[str(EXAMPLES / "incident")], offline=True))):
        pieces: list[str] = []
        json_report.write(report, pieces.append)
        assert len(pieces) > 2 and "".join(pieces) == render(report)
    out = tmp_path / "report.json"
    cli = gate_cli("check", "--offline", "--format", "json", "--format", f"json={out}", "examples/incident")
    expected = render(run(RunConfig(paths=["examples/incident"], offline=True))).encode()
    assert cli.stdout == expected and out.read_bytes() == expected


def test_render_is_json_dumps_for_hostile_findings():
    """Controls, bidi overrides, surrogates, optional fields, suppressed ones, in findings and under items."""
    report = hostile_report()
    text = render(report)
    assert text == stdlib(report)
    assert text.isascii()
    assert json.loads(text)["services"][0]["items"][0]["suppressed"][0]["suppressedBy"] == "annotation"


@pytest.mark.parametrize("fields", [{"line": "3"}, {"line": True}, {"line": 3.5}, {"unverified": 1},
                                    {"hostname": ["a", "b"]}, {"message": None}, {"name": 7}, {"line": 10**40}])
def test_a_field_of_another_type_is_written_as_json_would(fields):
    """Findings built outside the loader (a plugin, a test) need not follow the model's types."""
    odd = finding(**fields)
    assert finding_json(odd) == json.dumps(finding_dict(odd), indent=2)
    report = report_of([odd])
    report.suppressed.append(Suppressed(finding=odd, reason=None, by="policy"))
    assert render(report) == stdlib(report)


_text = st.text(st.one_of(st.characters(codec=None, categories=None), st.sampled_from("".join(HOSTILE))),
                max_size=10)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.fixed_dictionaries({"message": _text, "name": _text, "file": _text, "line": st.integers(),
                                       "unverified": st.booleans(), "hostname": st.none() | _text,
                                       "source": st.none() | _text, "image": st.none() | _text}), max_size=4))
def test_any_finding_is_written_as_json_dumps_writes_it(fields):
    report = report_of([finding(**f) for f in fields])
    assert render(report) == stdlib(report)
