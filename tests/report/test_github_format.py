"""`--format github`: workflow commands whose data cannot break out of the command."""

from __future__ import annotations

import pytest
from conftest import EXAMPLES, FIXTURES, gate_cli, write
from sample_reports import example_findings, finding, hostile_report, report_of

from gate.report import github
from gate.run import RunConfig, run


def parse_command(line: str) -> tuple[str, dict[str, str], str]:
    """Read a workflow command as the Actions runner does: `::name k=v,k=v::data`, then unescape."""
    assert line.startswith("::")
    head, sep, data = line[2:].partition("::")
    assert sep
    name, _, props = head.partition(" ")

    def unescape(text: str, prop: bool) -> str:
        if prop:
            text = text.replace("%3A", ":").replace("%2C", ",")
        return text.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")
    properties = dict(p.split("=", 1) for p in props.split(",")) if props else {}
    return name, {k: unescape(v, True) for k, v in properties.items()}, unescape(data, False)


def test_escaping_matches_the_runner():
    """`%`, CR, LF are escaped in data; properties also escape `:` and `,`."""
    assert github.escape_data("100%\r\nx: a,b") == "100%25%0D%0Ax: a,b"
    assert github.escape_property("100%\r\nx: a,b") == "100%25%0D%0Ax%3A a%2Cb"
    assert github.escape_data("%0A") == "%250A"


def test_incident_annotations_point_at_files_and_lines():
    """Each incident finding is one ::error (or ::warning) with the relative file, line, check id and remediation."""
    proc = gate_cli("check", "--offline", "--format", "github", "examples/incident")
    assert proc.returncode == 1
    commands = [parse_command(line) for line in proc.stdout.decode().splitlines()]
    expected = example_findings("incident")
    assert [name for name, _, _ in commands] == [f["severity"] for f in expected]  # ::error / ::warning
    assert [(p["title"], p["line"]) for _, p, _ in commands] == [
        (f["check"] + (" (could not verify)" if f["unverified"] else ""), str(f["line"])) for f in expected]
    where = {(p["file"], p["line"], p["title"]) for _, p, _ in commands}
    assert ("examples/incident/acme-pay-production/app.yaml", "56", "route-backend-missing") in where
    assert all("\nRemediation: " in data for _, _, data in commands)


def test_hostile_file_names_and_messages_round_trip(tmp_path):
    """A file named with `,` `:` `%` and a message with newlines stay one command and decode exactly."""
    name = "we,ird:100%.yaml"
    write(tmp_path, name, "apiVersion: v1\nkind: Service\nmetadata: {name: a\n  bad: [\n")
    proc = gate_cli("check", "--offline", "--format", "github", name, cwd=tmp_path)
    assert proc.returncode == 1
    commands = [parse_command(line) for line in proc.stdout.decode().splitlines()]
    # the document that does not parse, and so no object in the input at all: one command each
    assert sorted(props["title"] for _, props, _ in commands) == ["input-empty", "manifest-invalid"]
    assert all(kind == "error" and props["file"] == name for kind, props, _ in commands)
    report = report_of([finding(message="line one\r\nline two ::warning::forged 50%", severity="warning",
                                unverified=True)])
    kind, props, data = parse_command(github.render(report).rstrip("\n"))
    assert kind == "warning" and props["title"] == "route-backend-missing (could not verify)"
    assert data.startswith("HTTPRoute shop/web: line one\r\nline two ::warning::forged 50%\nRemediation: ")


def test_info_is_a_notice_and_input_errors_have_no_file():
    """Severity info maps to ::notice; an unreadable input is an ::error without a location."""
    out = github.render(report_of([finding(severity="info")], errors=["missing: no such file"])).splitlines()
    assert parse_command(out[0])[0] == "notice"
    name, props, data = parse_command(out[1])
    assert name == "error" and "file" not in props and data == "missing: no such file"


def test_findings_from_stdin_or_argo_cd_have_no_file_to_annotate():
    """A finding whose place is stdin or an Argo CD application is annotated without file and line."""
    for place in ("<stdin>", "argocd:shop/HTTPRoute/shop/web"):
        name, props, data = parse_command(github.render(report_of([finding(file=place, line=1)])).rstrip("\n"))
        assert name == "error" and set(props) == {"title"} and data.startswith("HTTPRoute shop/web: ")


def annotations_one_by_one(report) -> str:
    return "".join(f"{github.annotation(f)}\n" for f in report.findings)


def test_render_writes_each_annotation_as_annotation_does():
    """render writes the repeated parts once; every line is still annotation(finding), hostile text,
    files that are not on disk, unverified findings and a line of 0 included."""
    report = hostile_report()
    report.findings += [finding(file="<stdin>", line=0), finding(file="argocd:a/HTTPRoute/b/c", unverified=True),
                        finding(file="dir,with:odd%chars/x.yaml", line=-3, severity="info"),
                        finding(file="/elsewhere/x.yaml", severity="warning")]
    report.errors = []
    assert github.render(report) == annotations_one_by_one(report)
    for line in github.render(report).splitlines():
        parse_command(line)  # each one command: no data broke out


@pytest.mark.parametrize("folder", [EXAMPLES / "incident", FIXTURES], ids=lambda p: p.name)
def test_render_is_annotation_per_finding_on_the_examples(folder):
    report = run(RunConfig(paths=[str(folder)], offline=True))
    report.errors = []
    assert report.findings and github.render(report) == annotations_one_by_one(report)


def test_written_in_pieces_it_is_the_rendered_text(monkeypatch):
    """`write` (what the CLI uses) hands out render's annotations in batches; joined, the same text."""
    from gate.report import github
    from gate.report import pieces as batching

    monkeypatch.setattr(batching, "BATCH_CHARS", 200)
    report = run(RunConfig(paths=[str(EXAMPLES / "incident")], offline=True))
    pieces: list[str] = []
    github.write(report, pieces.append)
    assert len(pieces) > 2 and "".join(pieces) == github.render(report)
    cli = gate_cli("check", "--offline", "--format", "github", "examples/incident")
    from gate.report.places import linked

    assert cli.stdout.decode() == github.render(linked(report))
