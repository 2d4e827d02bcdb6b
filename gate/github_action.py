"""The GitHub Action's one step (`action.yml` runs `python -m gate.github_action`).

The inputs arrive as environment variables (never pasted into the shell script, so a path or policy
name cannot inject commands). The gate runs once and writes every format the job needs: annotations
and the checklist to the log, Markdown to the job summary, JSON for the outputs, SARIF when asked.
The step exits with the gate's own status, so a failed gate fails the job.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

TRUE = {"true", "yes", "1", "on"}


def words(value: str) -> list[str]:
    """A multi-value input: whitespace or newline separated, shell quoting for names with spaces."""
    return shlex.split(value or "")


def gate_args(env: Mapping[str, str], workdir: Path) -> list[str]:
    """The `gate check` arguments for the inputs; options of optional features only when set."""
    paths = words(env.get("GATE_PATHS", ""))
    if not paths:
        raise SystemExit("ingress-gate: the `paths` input is empty: give the rendered manifests to check")
    args = ["check", *paths,
            "--format", "github", "--format", "text",
            "--format", f"markdown={workdir / 'summary.md'}",
            "--format", f"json={workdir / 'report.json'}",
            "--fail-on", env.get("GATE_FAIL_ON") or "error"]
    if env.get("GATE_SARIF_FILE"):
        args += ["--format", f"sarif={env['GATE_SARIF_FILE']}"]
    if env.get("GATE_POLICY"):
        args += ["--policy", env["GATE_POLICY"]]
    if env.get("GATE_OFFLINE", "").strip().lower() in TRUE:
        args.append("--offline")
    for hostname in words(env.get("GATE_LB_HOSTNAME", "")):
        args += ["--lb-hostname", hostname]
    for server in words(env.get("GATE_NAMESERVER", "")):
        args += ["--nameserver", server]
    for state in words(env.get("GATE_CLUSTER_STATE", "")):
        args += ["--cluster-state", state]
    return args


def outputs(status: int, workdir: Path, sarif_file: str) -> dict[str, str]:
    """Step outputs from the JSON report; empty counts when the gate stopped before reporting."""
    report_file = workdir / "report.json"
    values = {"passed": "false", "errors": "", "warnings": "", "sarif-file": ""}
    if report_file.is_file():
        report = json.loads(report_file.read_text(encoding="utf-8"))
        values.update(passed=str(status == 0 and report["passed"]).lower(),
                      errors=str(report["summary"]["error"]), warnings=str(report["summary"]["warning"]))
    if sarif_file and Path(sarif_file).is_file():
        values["sarif-file"] = sarif_file
    return values


def append(path: str | None, text: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)


def main(env: Mapping[str, str] = os.environ) -> int:
    with tempfile.TemporaryDirectory(prefix="ingress-gate-", dir=env.get("RUNNER_TEMP") or None) as tmp:
        workdir = Path(tmp)
        status = subprocess.run([sys.executable, "-m", "gate", *gate_args(env, workdir)], check=False).returncode
        summary = workdir / "summary.md"
        append(env.get("GITHUB_STEP_SUMMARY"), summary.read_text(encoding="utf-8") if summary.is_file() else
               f"## ingress-gate: ❌ could not run (exit code {status})\n\nSee the step's log for the reason.\n")
        values = outputs(status, workdir, env.get("GATE_SARIF_FILE", ""))
    append(env.get("GITHUB_OUTPUT"), "".join(f"{key}={value}\n" for key, value in values.items()))
    return status


if __name__ == "__main__":
    sys.exit(main())
