"""Hostile and unlucky input: each case gives findings or an input error naming the path, never a crash,
a hang, a silent skip or a blown memory; the documents around a bad one are still checked.

Cases that can crash the interpreter (deep nesting) or hang (FIFOs) run the real CLI in a subprocess
with a timeout, so a regression fails the test instead of killing the test run.
"""

from __future__ import annotations

import io
import json
import os
import resource
import shutil
import subprocess
import sys
import time

import pytest
from conftest import ROOT, check_text, gate_cli, ids, write
from test_files import ROUTE_TO_NOWHERE

from gate.run import RunConfig, run
from gate.sources.documents import LoadResult
from gate.sources.files import load_bytes, load_paths
from gate.sources.yaml_parser import yaml_rs

needs_yaml_rs = pytest.mark.skipif(yaml_rs is None, reason="yaml-rs is not installed (pip install ingress-gate[fast])")


def loaded(text: str) -> LoadResult:
    result = LoadResult()
    load_bytes(text.encode(), "x.yaml", result)
    return result


def cli_json(*args: str, **kwargs) -> tuple[int, dict]:
    proc = gate_cli("check", "--offline", "--format", "json", *args, **kwargs)
    assert proc.returncode in (0, 1, 2), (proc.returncode, proc.stderr[-2000:])
    assert b"internal error" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def limited_cli(*args: str, memory: int, timeout: float) -> subprocess.CompletedProcess:
    """The CLI with its address space capped at `memory` bytes (a MemoryError then, not the OOM killer)."""
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return subprocess.run([sys.executable, "-m", "gate", *args], cwd=ROOT, capture_output=True, check=False, timeout=timeout,
                          preexec_fn=cap)


def finding_ids(report: dict) -> list[str]:
    return sorted(f["check"] for f in report["findings"])


# -- nesting ------------------------------------------------------------------------------------------

DEEP = {
    # yaml-rs recursed past the C stack near 11,000 levels of `- ` (exit 139); libyaml's composer a little later
    "block sequence, fast parser": "- " * 30000 + "x\n",
    "block sequence, libyaml": "- " * 150000 + "x\n",
    "block mappings": "a:\n" + "".join(" " * i + "k:\n" for i in range(1, 3000)),
    "explicit keys": "? " * 30000 + "x\n",
    "mixed block and flow": "- " * 400 + "[" * 400 + "]" * 400 + "\n",
}


@pytest.mark.parametrize("text", DEEP.values(), ids=DEEP.keys())
def test_deep_nesting_is_manifest_invalid_and_the_next_document_is_checked(tmp_path, text):
    path = write(tmp_path, "deep.yaml", text + "---\n" + ROUTE_TO_NOWHERE)
    code, report = cli_json(str(path), timeout=120)
    assert code == 1
    assert finding_ids(report) == ["manifest-invalid", "route-backend-missing"]
    invalid = next(f for f in report["findings"] if f["check"] == "manifest-invalid")
    assert "too deep" in invalid["message"] and invalid["line"] == 1


def test_nesting_up_to_the_bound_still_parses():
    """A deep but legitimate document (within the bound) is read, with either parser."""
    depth = 500  # below the 512 levels the loader allows
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\nx:\n" + "".join(
        " " * (i + 1) + f"k{i}:\n" for i in range(depth)) + " " * (depth + 1) + "leaf: 1\n"
    result = loaded(text)
    assert not result.problems and [r.name for r in result.resources] == ["deep"]


# -- alias bombs ----------------------------------------------------------------------------------------

def bomb(string_bytes: int, fan: int) -> str:
    big = "x" * string_bytes
    return (f"apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  name: g\n  namespace: app\n"
            f"x:\n  a: &a \"{big}\"\n  b: &b [{', '.join(['*a'] * fan)}]\n"
            f"spec:\n  listeners:\n  - name: [{', '.join(['*b'] * fan)}]\n    port: 443\n    protocol: HTTPS\n")


def test_alias_bomb_by_bytes_is_refused_quickly(tmp_path):
    """2 MB aliased 1,000 x 1,000 times is 2 TB of text: few nodes, so only a byte bound catches it.

    In a subprocess with its address space capped: a regression fails here instead of eating the machine."""
    path = write(tmp_path, "bomb.yaml", bomb(2 * 1024 * 1024, 1000) + "---\n" + ROUTE_TO_NOWHERE)
    started = time.monotonic()
    proc = limited_cli("check", "--offline", "--format", "json", str(path), memory=1 << 30, timeout=60)
    assert time.monotonic() - started < 10  # a fresh interpreter and a 2 MB parse are most of it
    assert proc.returncode == 1, proc.stderr[-500:]
    findings = json.loads(proc.stdout)["findings"]
    assert sorted(f["check"] for f in findings) == ["manifest-invalid", "route-backend-missing"]
    assert "alias bomb" in next(f["message"] for f in findings if f["check"] == "manifest-invalid")


def test_alias_that_contains_itself_is_refused():
    result = loaded("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata: &d\n  self: [*d]\n")
    assert [p.message for p in result.problems] == ["a YAML alias makes a value contain itself; document not used"]


def test_modest_aliases_are_fine():
    text = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: &l {app: web}\n"
            "data:\n  x: &x some-text\n  y: *x\nspec:\n  selector: *l\n")
    result = loaded(text)
    assert not result.problems and result.resources[0].body["spec"]["selector"] == {"app": "web"}


# -- values YAML cannot construct -------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["!!int abc", "!!bool maybe", "!!float x", "!!set abc", "!!map [a, b]",
                                   "!!int ''", "!!set [a]", "1" * 5000, "-" + "9" * 1200, "!!int 0x"],
                         ids=lambda v: v if len(v) < 20 else f"{len(v)}-digit number")
def test_tag_on_the_wrong_value_is_manifest_invalid_at_its_line(tmp_path, value):
    text = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: {value}\n---\n" + ROUTE_TO_NOWHERE
    report = check_text(tmp_path, text)
    assert sorted(ids(report)) == ["manifest-invalid", "route-backend-missing"]
    finding = next(f for f in report.findings if f.check == "manifest-invalid")
    assert finding.line == 6 and "does not parse" in finding.message
    assert "abc" not in finding.message and "maybe" not in finding.message


def test_tag_on_the_wrong_value_in_a_cluster_state_snapshot(tmp_path):
    render = write(tmp_path, "render.yaml", ROUTE_TO_NOWHERE)
    state = write(tmp_path, "state.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n"
                                          "spec:\n  ports: [{port: !!int eighty}]\n")
    proc = gate_cli("check", "--offline", "--format", "json", str(render), "--cluster-state", str(state))
    assert proc.returncode == 1 and b"internal error" not in proc.stderr
    assert "manifest-invalid" in [f["check"] for f in json.loads(proc.stdout)["findings"]]


# -- the fast parser refuses what kubectl refuses ----------------------------------------------------------

@needs_yaml_rs
@pytest.mark.parametrize("text", [
    'data:\n  x: "a\x01b"\n',  # a control character in a quoted string
    "data:\n  x: a\x7fb\n",  # DEL in a plain scalar
    "data:\n  x: a\n\t\n",  # a line holding only a tab
    "data:\n  \t{x: a}\n",  # a tab before a flow mapping
    "data:\t\n  x: a\n\t",
])
def test_fast_parser_never_accepts_what_libyaml_refuses(text):
    result = loaded("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n" + text)
    assert not result.resources and [p.message.split(":")[0] for p in result.problems] == ["YAML does not parse"]


@needs_yaml_rs
@pytest.mark.parametrize("scalar,expected", [("+.5", "+.5"), ("-.5e3", "-.5e3"), ('"a\x85b"', "a b")])
def test_fast_parser_reads_scalars_as_libyaml(scalar, expected):
    """Signed floats without a leading digit are strings in YAML 1.1; NEL folds like a line break."""
    body = loaded(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: {scalar}\n").resources[0].body
    assert body["data"]["x"] == expected


# -- merge keys, lines, CRLF, Secrets --------------------------------------------------------------------

def test_merge_key_overridden_inside_an_anchored_mapping_is_no_duplicate():
    text = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"
            "x:\n  inner: &m {<<: {a: '1'}, a: '2'}\nother: {<<: *m}\n")
    result = loaded(text)
    assert result.problems == []
    assert result.resources[0].body["other"] == {"a": "2"}


def test_real_duplicate_next_to_a_merge_key_is_still_reported():
    result = loaded("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\nbase: &b {x: 1}\n"
                    "data:\n  <<: *b\n  y: 1\n  y: 2\n")
    assert [(p.line, p.kind) for p in result.problems] == [(9, "duplicate-key")]


@pytest.mark.parametrize("text,line", [
    ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: [a, b", 6),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {", 3),
    ("a: 1\nb: [", 2),
])
def test_error_at_the_end_of_a_file_without_final_newline_is_on_its_last_line(text, line):
    result = loaded(text)
    assert [p.line for p in result.problems] == [line]
    assert line == text.count("\n") + 1  # the file's last line


def test_crlf_files_keep_field_level_lines(tmp_path):
    """The finding lands on the backendRef's line, as in the LF file, not on the document's first line."""
    lf = check_text(tmp_path, ROUTE_TO_NOWHERE)
    crlf_path = tmp_path / "crlf.yaml"
    crlf_path.write_bytes(("# header\n" + ROUTE_TO_NOWHERE).replace("\n", "\r\n").encode())
    crlf = run(RunConfig(paths=[str(crlf_path)], offline=True))
    assert [f.line for f in lf.findings] == [9]
    assert [f.line for f in crlf.findings] == [10]


def test_lone_cr_line_breaks_count_as_lines(tmp_path):
    path = tmp_path / "cr.yaml"
    path.write_bytes(("# header\n" + ROUTE_TO_NOWHERE).replace("\n", "\r").encode())
    assert [f.line for f in run(RunConfig(paths=[str(path)], offline=True)).findings] == [10]


@pytest.mark.parametrize("where", ["render", "cluster-state"])
def test_secret_values_never_reach_a_message(tmp_path, where):
    """A stringData value that YAML reads as a tag (`!...`) or alias (`*...`) is not quoted back."""
    secret = ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  namespace: app\n"
              "stringData:\n  password: !hunter2-s3cret\n---\napiVersion: v1\nkind: Secret\nmetadata:\n"
              "  name: other\nstringData:\n  token: *t0ps3cret\n")
    render = write(tmp_path, "render.yaml", ROUTE_TO_NOWHERE)
    state = write(tmp_path, "state.yaml", secret)
    args = [str(state)] if where == "render" else [str(render), "--cluster-state", str(state)]
    for fmt in ("text", "json", "sarif", "markdown", "github", "junit"):
        proc = gate_cli("check", "--offline", "--format", fmt, *args)
        assert proc.returncode == 1, proc.stderr
        out = proc.stdout + proc.stderr
        assert b"manifest-invalid" in out or fmt == "junit"
        assert b"hunter2" not in out and b"t0ps3cret" not in out, fmt


# -- paths that cannot be read -----------------------------------------------------------------------------

def test_fifo_inside_a_folder_is_an_input_error_not_a_hang(tmp_path):
    write(tmp_path, "render/a.yaml", ROUTE_TO_NOWHERE)
    os.mkfifo(tmp_path / "render" / "b.yaml")
    proc = gate_cli("check", "--offline", "--format", "json", str(tmp_path / "render"), timeout=30)
    assert proc.returncode == 2
    assert b"b.yaml: cannot read: not a regular file" in proc.stderr
    assert [f["check"] for f in json.loads(proc.stdout)["findings"]] == ["route-backend-missing"]


def test_symlink_loop_inside_a_folder_is_cannot_read_for_that_entry_only(tmp_path):
    write(tmp_path, "render/a.yaml", ROUTE_TO_NOWHERE)
    os.symlink("loop.yaml", tmp_path / "render" / "loop.yaml")
    result = load_paths([str(tmp_path / "render")])
    assert [r.name for r in result.resources] == ["survivor"]
    assert len(result.errors) == 1 and "loop.yaml: cannot read" in result.errors[0]


def test_symlink_loop_given_directly(tmp_path):
    os.symlink("loop.yaml", tmp_path / "loop.yaml")
    result = load_paths([str(tmp_path / "loop.yaml")])
    assert len(result.errors) == 1 and "cannot read" in result.errors[0]


SETPRIV = shutil.which("setpriv")


@pytest.mark.skipif(SETPRIV is None and os.geteuid() == 0,
                    reason="as root without setpriv (util-linux) there is no way to make a folder unreadable")
def test_unreadable_subfolder_is_an_input_error_and_the_rest_is_reported(tmp_path):
    write(tmp_path, "render/a.yaml", ROUTE_TO_NOWHERE)
    write(tmp_path, "render/locked/b.yaml", ROUTE_TO_NOWHERE.replace("survivor", "hidden"))
    write(tmp_path, "render/locked-file.yaml", ROUTE_TO_NOWHERE.replace("survivor", "hidden2"))
    (tmp_path / "render" / "locked").chmod(0)
    (tmp_path / "render" / "locked-file.yaml").chmod(0)
    # root reads everything through CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH: drop every capability
    prefix = [SETPRIV, "--inh-caps=-all", "--bounding-set=-all", "--"] if os.geteuid() == 0 else []
    try:
        proc = subprocess.run([*prefix, sys.executable, "-m", "gate", "check", "--offline", "--format", "json",
                               str(tmp_path / "render")], cwd=ROOT, capture_output=True, check=False, timeout=60)
    finally:
        (tmp_path / "render" / "locked").chmod(0o755)
    assert proc.returncode == 2, proc.stderr
    assert b"locked: cannot read: Permission denied" in proc.stderr
    assert b"locked-file.yaml: cannot read: Permission denied" in proc.stderr
    report = json.loads(proc.stdout)
    assert [(f["check"], f["resource"]["name"]) for f in report["findings"]] == [("route-backend-missing", "survivor")]


def test_closed_stdin_is_an_input_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "gate", "check", "--offline", "-"], cwd=ROOT, capture_output=True, check=False,
                          stdin=subprocess.DEVNULL, timeout=60, preexec_fn=lambda: os.close(0))
    assert proc.returncode == 2
    assert b"<stdin>: cannot read: standard input is closed" in proc.stderr
    assert b"internal error" not in proc.stderr


def test_stdin_that_fails_is_an_input_error():
    class Broken(io.RawIOBase):
        def readinto(self, buffer):
            raise OSError(5, "Input/output error")

    result = load_paths(["-"], stdin=Broken())
    assert result.errors == ["<stdin>: cannot read: Input/output error"]


def test_huge_max_file_size_reads_only_what_is_there(tmp_path):
    """A limit far above memory must not be allocated up front (the read is sized by the file)."""
    path = write(tmp_path, "render.yaml", ROUTE_TO_NOWHERE)
    limit = 10 ** 14
    assert [r.name for r in load_paths([str(path)], max_file_bytes=limit).resources] == ["survivor"]
    stdin = io.BytesIO(ROUTE_TO_NOWHERE.encode())
    assert [r.name for r in load_paths(["-"], stdin=stdin, max_file_bytes=limit).resources] == ["survivor"]


def test_max_file_size_option_has_a_maximum():
    proc = gate_cli("check", "--offline", "--max-file-size", "100000000", "-", input=b"")
    assert proc.returncode == 2 and b"internal error" not in proc.stderr
    assert b"--max-file-size" in proc.stderr
