"""Policy `paths` and `exclude`, and `--changed`: what is read, and whose findings count."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from conftest import EXAMPLES, gate_cli, write

from gate.sources.selection import glob_regex


@pytest.mark.parametrize(("pattern", "path", "matches"), [
    ("charts/**", "charts/shop/templates/a.yaml", True),
    ("charts/**/templates/**", "charts/shop/templates/a.yaml", True),
    ("charts/**/templates/**", "charts/a/charts/b/templates/x/y.yaml", True),
    ("charts/**/templates/**", "rendered/shop/templates/a.yaml", False),
    ("**/templates/**", "rendered/shop/templates/a.yaml", True),
    ("*.tmpl.yaml", "deep/in/x.tmpl.yaml", True),
    ("*.tmpl.yaml", "deep/in/x.yaml", False),
    ("charts/*.yaml", "charts/shop/a.yaml", False),
    ("charts/?.yaml", "charts/a.yaml", True),
    ("charts/[ab].yaml", "charts/c.yaml", False),
    ("./rendered/", "rendered", True),
])
def test_glob(pattern, path, matches):
    assert bool(glob_regex(pattern).fullmatch(path)) is matches


def test_excluded_folders_are_never_opened(tmp_path):
    """A FIFO under an excluded folder would block any read: the run ends, so it was not opened."""
    shutil.copytree(EXAMPLES / "healthy", tmp_path / "rendered")
    template = write(tmp_path, "charts/shop/templates/route.yaml", "kind: {{ .Values.kind }}\n")
    os.mkfifo(tmp_path / "charts" / "shop" / "templates" / "blocks.yaml")
    write(tmp_path, ".gate.yaml", "exclude: ['charts/**/templates/**']\n")
    proc = gate_cli("check", "--offline", "--format", "json", ".", cwd=tmp_path, timeout=60)
    report = json.loads(proc.stdout)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    assert report["stats"]["files"] == 8 and report["findings"] == []  # the render (7 files) and .gate.yaml
    # Named on the command line, an excluded file is not read either.
    proc = gate_cli("check", "--offline", "--format", "json", str(template), "rendered", cwd=tmp_path)
    assert json.loads(proc.stdout)["stats"]["files"] == 7


def test_policy_paths_are_relative_to_the_policy_and_used_without_paths(tmp_path):
    shutil.copytree(EXAMPLES / "incident", tmp_path / "repo" / "rendered")
    write(tmp_path, "repo/ci/gate.yaml", "paths: [../rendered]\n")
    proc = gate_cli("check", "--offline", "--format", "json", "--policy", "repo/ci/gate.yaml", cwd=tmp_path)
    report = json.loads(proc.stdout)
    assert proc.returncode == 1 and report["stats"]["files"] == 7 and report["summary"]["error"] == 12
    nothing = gate_cli("check", "--offline", cwd=tmp_path)
    assert nothing.returncode == 2 and b"set `paths` in the policy" in nothing.stderr


def test_changed_files_are_judged_against_the_whole_render(tmp_path):
    """One file of the incident: its findings exactly, references resolved against all seven files."""
    shutil.copytree(EXAMPLES / "incident", tmp_path / "rendered")
    write(tmp_path, ".gate.yaml", "paths: [rendered]\n")
    whole = json.loads(gate_cli("check", "--offline", "--format", "json", cwd=tmp_path).stdout)
    changed = "rendered/acme-pay-production/app.yaml"
    proc = gate_cli("check", "--offline", "--format", "json", "--changed", changed, cwd=tmp_path)
    report = json.loads(proc.stdout)
    expected = [f for f in whole["findings"] if f["file"] == changed]
    assert proc.returncode == 1 and expected and report["findings"] == expected
    assert report["stats"]["files"] == 7
    others = len(whole["findings"]) - len(expected)
    assert f"{others} finding(s) in files that were not given are not counted".encode() in proc.stderr
    # Only the file itself, as the hook did before: false findings about what lives elsewhere.
    alone = json.loads(gate_cli("check", "--offline", "--format", "json", changed, cwd=tmp_path).stdout)
    assert {"route-parent-missing"} <= {f["check"] for f in alone["findings"]} - {f["check"] for f in expected}


def test_changed_policy_or_foreign_files(tmp_path):
    """A changed policy counts every finding; a changed file outside the render set counts none."""
    shutil.copytree(EXAMPLES / "incident", tmp_path / "rendered")
    write(tmp_path, ".gate.yaml", "paths: [rendered]\n")
    write(tmp_path, "docs/notes.yaml", "a: 1\n")
    policy = json.loads(gate_cli("check", "--offline", "--format", "json", "--changed", ".gate.yaml",
                                 cwd=tmp_path).stdout)
    assert policy["summary"]["error"] == 12
    foreign = gate_cli("check", "--offline", "--format", "json", "--changed", "docs/notes.yaml", cwd=tmp_path)
    assert foreign.returncode == 0 and json.loads(foreign.stdout)["findings"] == []
    stdin = gate_cli("check", "--offline", "--changed", "-", cwd=tmp_path)
    assert stdin.returncode == 2 and b"--changed takes the changed files by name" in stdin.stderr


def test_summary_format_names_input_errors_first(tmp_path):
    proc = gate_cli("check", "--offline", "--format", "summary", "missing-folder", cwd=tmp_path)
    first, second = proc.stdout.decode().splitlines()[:2]
    assert proc.returncode == 2 and first.startswith("ingress-gate: could not check everything (exit 2)")
    assert second == "  input error: missing-folder: no such file or folder"
