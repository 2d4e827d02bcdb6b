"""The composite GitHub Action, executed step by step the way the Actions runner does it.

`uses:` steps are not run here (no runner, no marketplace actions): setup-python is replaced by this
interpreter as its `python-path` output, and actions/cache has nothing to restore. Every `run:` step
runs for real with bash, including the install step (pip installs this working tree into a new
virtualenv, so PyPI must be reachable), with GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_ENV and
GITHUB_PATH files as the runner provides them.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from conftest import EXAMPLES, ROOT, SARIF_SCHEMA, gate_cli, write
from sarif_check import valid_sarif

from gate.github_action import InputError, gate_args

ACTION = ROOT / "action.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
# What the skipped `uses:` steps would have output.
USES_OUTPUTS = {"actions/setup-python": {"python-path": sys.executable}, "actions/cache": {"cache-hit": "false"}}


@dataclass
class ActionRun:
    status: int  # exit status of the first failing step, else 0
    outputs: dict[str, str]
    summary: str
    log: str
    env_files: str = ""  # what the steps wrote to GITHUB_ENV and GITHUB_PATH
    ran: list[str] = field(default_factory=list)


def read_outputs(path: Path) -> dict[str, str]:
    """GITHUB_OUTPUT as the runner reads it: `name=value` lines and `name<<DELIM` blocks."""
    values, lines = {}, path.read_text(encoding="utf-8").splitlines()
    while lines:
        line = lines.pop(0)
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            block = []
            while (current := lines.pop(0)) != delimiter:
                block.append(current)
            values[name] = "\n".join(block)
        elif line:
            name, value = line.split("=", 1)
            values[name] = value
    return values


def run_action(inputs: dict[str, str], workspace: Path, runner_temp: Path, *, action_path: Path = ROOT,
               env_extra: dict[str, str] | None = None) -> ActionRun:
    """`action_path`: the action's checkout (`github.action_path`). GitHub does not enforce `required`
    on a composite action's inputs, so an empty `paths` reaches the steps as it would on a runner."""
    action = yaml.safe_load((action_path / "action.yml").read_text(encoding="utf-8"))
    declared = action["inputs"]
    assert set(inputs) <= set(declared), f"unknown inputs {set(inputs) - set(declared)}"
    values = {name: str(spec.get("default", "")) for name, spec in declared.items()} | inputs
    steps: dict[str, dict[str, str]] = {}
    context = {"github.action_path": str(action_path), "runner.temp": str(runner_temp), "runner.os": "Linux"}

    def substitute(text: str) -> str:
        def value(match: re.Match) -> str:
            expr = match.group(1)
            if expr.startswith("inputs."):
                return values[expr.removeprefix("inputs.")]
            if expr.startswith("steps."):
                step_id, _, output = expr.removeprefix("steps.").partition(".outputs.")
                return steps.get(step_id, {}).get(output, "")
            assert expr in context, f"the test does not know the expression {expr!r}"
            return context[expr]
        return EXPRESSION.sub(value, str(text))

    env_file, path_file = runner_temp / "github_env", runner_temp / "github_path"
    for path in (env_file, path_file):
        path.write_text("", encoding="utf-8")
    result = ActionRun(status=0, outputs={}, summary="", log="")
    for number, step in enumerate(action["runs"]["steps"]):
        step_id = step.get("id", f"step{number}")
        if "uses" in step:
            steps[step_id] = USES_OUTPUTS[step["uses"].split("@")[0]]
            continue
        assert step.get("shell") == "bash", "composite run steps must name their shell"
        output_file, summary_file = runner_temp / f"output_{number}", runner_temp / f"summary_{number}"
        for path in (output_file, summary_file):  # the runner gives each step new, empty files
            path.write_text("", encoding="utf-8")
        env = {**os.environ, "GITHUB_OUTPUT": str(output_file), "GITHUB_STEP_SUMMARY": str(summary_file),
               "GITHUB_ENV": str(env_file), "GITHUB_PATH": str(path_file), "GITHUB_WORKSPACE": str(workspace),
               "GITHUB_ACTION_PATH": str(action_path), "RUNNER_TEMP": str(runner_temp), "RUNNER_OS": "Linux",
               **(env_extra or {}),
               **{key: substitute(val) for key, val in step.get("env", {}).items()}}
        script = runner_temp / f"step_{number}.sh"
        script.write_text(substitute(step["run"]), encoding="utf-8")
        # The runner's `shell: bash` is `bash --noprofile --norc -eo pipefail {0}`.
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], check=False,
                              cwd=workspace, env=env, capture_output=True, text=True, timeout=300)
        result.ran.append(step_id)
        result.log += proc.stdout + proc.stderr
        steps[step_id] = read_outputs(output_file)
        result.summary += summary_file.read_text(encoding="utf-8")
        if proc.returncode != 0:
            result.status = proc.returncode
            break
    result.outputs = {name: substitute(spec["value"]) for name, spec in action["outputs"].items()}
    result.env_files = env_file.read_text(encoding="utf-8") + path_file.read_text(encoding="utf-8")
    return result


@pytest.fixture(scope="module")
def runner_temp(tmp_path_factory) -> Path:
    """One RUNNER_TEMP for the module, so the pip cache of the first install serves the others."""
    return tmp_path_factory.mktemp("runner_temp")


@pytest.fixture
def workspace(tmp_path) -> Path:
    """A checkout holding the examples, as actions/checkout would leave it."""
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    return tmp_path


def test_incident_fails_with_outputs_annotations_summary_and_sarif(workspace, runner_temp):
    """On the incident the step fails with the gate's status 1; outputs, annotations, summary, SARIF agree."""
    run = run_action({"paths": "examples/incident", "offline": "true", "sarif-file": "gate.sarif"},
                     workspace, runner_temp)
    assert run.ran == ["cache-key", "install", "gate"], run.log
    assert run.status == 1, run.log
    report = json.loads(gate_cli("check", "--offline", "--format", "json", "examples/incident", cwd=workspace).stdout)
    errors = report["summary"]["error"]
    assert errors >= 8
    assert run.outputs == {"passed": "false", "errors": str(errors), "warnings": str(report["summary"]["warning"]),
                           "sarif-file": "gate.sarif"}
    assert run.summary.startswith("## ingress-gate: ❌ FAILED") and "### ❌ https://pay.example.com" in run.summary
    annotations = [line for line in run.log.splitlines()
                   if line.startswith(("::error file=examples/incident/", "::warning file=examples/incident/"))]
    assert len(annotations) == len(report["findings"])
    assert f"FAILED: {errors} errors" in run.log  # the text checklist is in the log too
    sarif = (workspace / "gate.sarif").read_text(encoding="utf-8")
    results = (valid_sarif(sarif) if SARIF_SCHEMA.is_file() else json.loads(sarif))["runs"][0]["results"]
    assert len(results) == len(report["findings"])
    assert run.env_files == "", "the action must not change the job's environment or PATH"


def test_healthy_passes(workspace, runner_temp):
    """On the healthy example every step succeeds and `passed` is true; no SARIF unless asked."""
    run = run_action({"paths": "examples/healthy", "offline": "true"}, workspace, runner_temp)
    assert run.status == 0, run.log
    assert run.outputs == {"passed": "true", "errors": "0", "warnings": "0", "sarif-file": ""}
    assert run.summary.startswith("## ingress-gate: ✅ PASSED")
    assert not [line for line in run.log.splitlines() if line.startswith("::error")]


def test_cluster_state_input_reaches_the_gate(workspace, runner_temp):
    """With the incident's cluster-state snapshot, no backend is missing and the gate still fails."""
    run = run_action({"paths": "examples/incident", "offline": "true",
                      "cluster-state": "examples/cluster-state/incident.yaml"}, workspace, runner_temp)
    assert run.status == 1, run.log
    titles = re.findall(r"^::\w+ file=[^\n]*?title=([\w-]+)", run.log, re.MULTILINE)
    assert titles and "route-backend-missing" not in titles
    errors = sum(1 for line in run.log.splitlines() if line.startswith("::error "))
    assert run.outputs["passed"] == "false" and run.outputs["errors"] == str(errors) and errors > 0


def test_unreadable_input_exits_2_and_is_not_a_pass(workspace, runner_temp):
    """A path that does not exist fails the step with status 2 and `passed` false."""
    run = run_action({"paths": "examples/healthy missing-folder", "offline": "true"}, workspace, runner_temp)
    assert run.status == 2, run.log
    assert run.outputs["passed"] == "false"
    assert "missing-folder" in run.summary


def test_optional_inputs_become_options_only_when_set(tmp_path):
    """Empty inputs add no option; lists split on whitespace with quoting; offline accepts true/True."""
    minimal = gate_args({"GATE_PATHS": "a"}, tmp_path)
    assert minimal[:2] == ["check", "a"]
    for option in ("--offline", "--policy", "--lb-hostname", "--nameserver", "--cluster-state"):
        assert option not in minimal
    assert not any(arg.startswith("sarif=") for arg in minimal)
    full = gate_args({"GATE_PATHS": "a\n'b c'", "GATE_OFFLINE": "True", "GATE_POLICY": "p.yaml",
                      "GATE_LB_HOSTNAME": "lb.example.com lb2.example.com", "GATE_NAMESERVER": "10.0.0.1 10.0.0.2",
                      "GATE_CLUSTER_STATE": "state/\nmore.yaml", "GATE_FAIL_ON": "warning",
                      "GATE_SARIF_FILE": "out.sarif"}, tmp_path)
    assert full[1:3] == ["a", "b c"] and "--offline" in full
    pairs = list(itertools.pairwise(full))
    for pair in [("--policy", "p.yaml"), ("--lb-hostname", "lb.example.com"), ("--lb-hostname", "lb2.example.com"),
                 ("--nameserver", "10.0.0.1"),
                 ("--nameserver", "10.0.0.2"), ("--cluster-state", "state/"), ("--cluster-state", "more.yaml"),
                 ("--fail-on", "warning"), ("--format", "sarif=out.sarif")]:
        assert pair in pairs
    with pytest.raises(InputError):
        gate_args({"GATE_PATHS": " "}, tmp_path)


def test_empty_paths_exits_2_with_outputs_and_a_reason(workspace, runner_temp):
    """An empty `paths` stops the step with 2; passed=false and the other outputs are still written."""
    run = run_action({"paths": "", "offline": "true", "sarif-file": "gate.sarif"}, workspace, runner_temp)
    assert run.status == 2, run.log
    assert run.outputs == {"passed": "false", "errors": "", "warnings": "", "sarif-file": ""}
    assert "::error title=ingress-gate::the `paths` input is empty" in run.log
    assert run.summary.startswith("## ingress-gate: ❌ could not run (exit code 2)") and "`paths`" in run.summary


def test_sarif_file_in_a_missing_folder_is_written(workspace, runner_temp):
    """`sarif-file: reports/ci/gate.sarif` where reports/ does not exist: the folder is made, the SARIF kept."""
    run = run_action({"paths": "examples/healthy", "offline": "true", "sarif-file": "reports/ci/gate.sarif"},
                     workspace, runner_temp)
    assert run.status == 0, run.log
    assert run.outputs["sarif-file"] == "reports/ci/gate.sarif"
    assert json.loads((workspace / "reports/ci/gate.sarif").read_text(encoding="utf-8"))["version"] == "2.1.0"


def test_a_bare_version_is_refused_with_what_to_write_instead(workspace, runner_temp):
    """`version: 0.1.0` would ask a package index that has no ingress-gate: the install step says what to use."""
    run = run_action({"paths": "examples/healthy", "version": "0.1.0"}, workspace, runner_temp)
    assert run.ran == ["cache-key", "install"] and run.status == 2, run.log
    assert "git+https://github.com/OWNER/ingress-gate@0.1.0" in run.log


def chart_and_render(workspace: Path) -> None:
    """A chart committed under charts/ (its folder not named after the chart) and its render, as CI makes it."""
    write(workspace, "charts/shop-chart/Chart.yaml", "apiVersion: v2\nname: shop\nversion: 0.1.0\n")
    write(workspace, "charts/shop-chart/templates/route.yaml", """
        # The shop's route
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata:
          name: {{ .Release.Name }}-route
        spec:
          parentRefs: [{name: gw}]
          rules:
            - backendRefs: [{name: {{ .Values.backend }}, port: 80}]
        """)
    write(workspace, "rendered/shop/templates/route.yaml", """
        ---
        # Source: shop/templates/route.yaml
        # The shop's route
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata:
          name: shop-route
        spec:
          parentRefs: [{name: gw}]
          rules:
            - backendRefs: [{name: shop-web, port: 80}]
        """)


def test_links_point_at_the_chart_template_with_source_root(workspace, runner_temp):
    """With source-root, SARIF, annotations and the step summary name the committed template, not the render."""
    chart_and_render(workspace)
    run = run_action({"paths": "rendered", "offline": "true", "sarif-file": "gate.sarif", "source-root": "charts"},
                     workspace, runner_temp, env_extra={"GITHUB_SERVER_URL": "https://github.com",
                                                        "GITHUB_REPOSITORY": "acme/shop", "GITHUB_SHA": "0" * 40})
    assert run.status == 1, run.log
    template = "charts/shop-chart/templates/route.yaml"
    results = json.loads((workspace / "gate.sarif").read_text(encoding="utf-8"))["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {"route-backend-missing", "route-parent-missing"}
    for result in results:
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] == template
        assert location["region"]["startLine"] == 3  # the template's `kind: HTTPRoute` line
        assert "rendered at rendered/shop/templates/route.yaml:" in result["message"]["text"]
    annotations = [line for line in run.log.splitlines() if line.startswith("::error ")]
    assert len(annotations) == 2 and all(a.startswith(f"::error file={template},line=3,") for a in annotations)
    assert f"(https://github.com/acme/shop/blob/{'0' * 40}/{template}#L3)" in run.summary
    assert "rendered/shop" not in re.sub(r"rendered at rendered/shop/templates/route.yaml:\d+", "", run.summary)


def test_without_source_root_links_say_the_file_is_generated(workspace, runner_temp):
    """No source-root: links stay on the render, and every message says it is generated and from which template."""
    chart_and_render(workspace)
    run = run_action({"paths": "rendered", "offline": "true", "sarif-file": "gate.sarif"}, workspace, runner_temp)
    assert run.status == 1, run.log
    results = json.loads((workspace / "gate.sarif").read_text(encoding="utf-8"))["runs"][0]["results"]
    for result in results:
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
            "rendered/shop/templates/route.yaml"
        assert "(generated file, from Helm template shop/templates/route.yaml" in result["message"]["text"]
    annotations = [line for line in run.log.splitlines() if line.startswith("::error ")]
    assert annotations and all("generated file" in a for a in annotations)


def committed_snapshot(folder: Path) -> Path:
    """This working tree (tracked and untracked files, minus what git ignores) as one commit of a repository."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            check=True, capture_output=True, text=True).stdout
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, folder / name)
    git_env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
               "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"], ["tag", "v0.0.0-test"]):
        subprocess.run(["git", *args], cwd=folder, check=True, env=git_env, capture_output=True)
    return folder


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_fresh_clone_into_a_fresh_venv_as_a_runner_does(tmp_path):
    """The action from a fresh clone (what `uses: OWNER/ingress-gate@TAG` checks out), no pip cache, new venv.

    The runner's own Python stands in for setup-python; pip fetches every dependency (PyPI must be
    reachable). Outputs, the step summary and the SARIF are the ones a workflow would read.
    """
    origin = committed_snapshot(tmp_path / "origin")
    action_path = tmp_path / "_actions" / "OWNER" / "ingress-gate" / "v0.0.0-test"
    subprocess.run(["git", "clone", "-q", "--depth", "1", "--branch", "v0.0.0-test", origin.as_uri(),
                    str(action_path)], check=True, capture_output=True)
    workspace = tmp_path / "workspace"
    shutil.copytree(EXAMPLES, workspace / "examples")
    runner_temp = tmp_path / "runner_temp"
    runner_temp.mkdir()
    run = run_action({"paths": "examples/incident", "offline": "true", "sarif-file": "out/gate.sarif"}, workspace,
                     runner_temp, action_path=action_path)
    assert run.ran == ["cache-key", "install", "gate"] and run.status == 1, run.log
    venv_python = runner_temp / "ingress-gate-venv" / "bin" / "python"
    installed = subprocess.run([str(venv_python), "-c", "import gate; print(gate.__file__)"], check=True,
                               cwd=workspace, capture_output=True, text=True).stdout
    assert installed.startswith(str(runner_temp / "ingress-gate-venv"))  # the venv's copy, not this checkout
    assert run.outputs == {"passed": "false", "errors": "12", "warnings": "0", "sarif-file": "out/gate.sarif"}
    assert run.summary.startswith("## ingress-gate: ❌ FAILED") and "**12 errors, 0 warnings" in run.summary
    sarif = json.loads((workspace / "out" / "gate.sarif").read_text(encoding="utf-8"))
    assert len(sarif["runs"][0]["results"]) == 31 and sarif["runs"][0]["properties"]["passed"] is False
    assert run.env_files == ""

    # `version`: any pip requirement, here a git URL with a tag as a workflow would pin a release.
    other_temp = tmp_path / "runner_temp_2"
    other_temp.mkdir()
    pinned = run_action({"paths": "examples/healthy", "offline": "true",
                         "version": f"git+{origin.as_uri()}@v0.0.0-test"}, workspace, other_temp,
                        action_path=action_path)
    assert pinned.status == 0, pinned.log
    assert pinned.outputs == {"passed": "true", "errors": "0", "warnings": "0", "sarif-file": ""}
