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
EXIT_USAGE = 2


class InputError(Exception):
    """An input the gate cannot run with: the step exits 2, and the outputs still say it did not pass."""


def words(value: str) -> list[str]:
    """A multi-value input: whitespace or newline separated, shell quoting for names with spaces."""
    return shlex.split(value or "")


def gate_args(env: Mapping[str, str], workdir: Path) -> list[str]:
    """The `gate check` arguments for the inputs; options of optional features only when set."""
    try:
        paths = words(env.get("GATE_PATHS", ""))
    except ValueError as exc:  # an unbalanced quote
        raise InputError(f"the `paths` input does not split into words: {exc}") from None
    if not paths:
        raise InputError("the `paths` input is empty: give the rendered manifests to check (files or folders, "
                         "separated by spaces or newlines)")
    args = ["check", *paths,
            "--format", "github", "--format", "text",
            "--format", f"markdown={workdir / 'summary.md'}",
            "--format", f"json={workdir / 'report.json'}",
            "--fail-on", env.get("GATE_FAIL_ON") or "error"]
    if env.get("GATE_SARIF_FILE"):
        args += ["--format", f"sarif={env['GATE_SARIF_FILE']}"]
    if env.get("GATE_SOURCE_ROOT"):
        args += ["--source-root", env["GATE_SOURCE_ROOT"]]
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


def could_not_run(status: int, reason: str) -> str:
    return f"## ingress-gate: ❌ could not run (exit code {status})\n\n{reason}\n"


def main(env: Mapping[str, str] = os.environ) -> int:
    with tempfile.TemporaryDirectory(prefix="ingress-gate-", dir=env.get("RUNNER_TEMP") or None) as tmp:
        workdir = Path(tmp)
        try:
            args = gate_args(env, workdir)
        except InputError as exc:
            # A workflow command, so the reason is an annotation on the run and not only in the log.
            print(f"::error title=ingress-gate::{exc}", flush=True)
            append(env.get("GITHUB_STEP_SUMMARY"), could_not_run(EXIT_USAGE, str(exc)))
            append(env.get("GITHUB_OUTPUT"), "".join(f"{key}={value}\n" for key, value in
                                                     outputs(EXIT_USAGE, workdir, "").items()))
            return EXIT_USAGE
        sarif_file = env.get("GATE_SARIF_FILE", "")
        if sarif_file:  # a folder that does not exist yet (reports/gate.sarif) is made, not an error
            Path(sarif_file).parent.mkdir(parents=True, exist_ok=True)
        status = subprocess.run([sys.executable, "-m", "gate", *args], check=False).returncode
        summary = workdir / "summary.md"
        append(env.get("GITHUB_STEP_SUMMARY"), summary.read_text(encoding="utf-8") if summary.is_file() else
               could_not_run(status, "See the step's log for the reason."))
        values = outputs(status, workdir, sarif_file)
    append(env.get("GITHUB_OUTPUT"), "".join(f"{key}={value}\n" for key, value in values.items()))
    return status


if __name__ == "__main__":
    sys.exit(main())
