"""Shared helpers: run the pipeline on manifests written by a test, or the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from dns_server import knot, silent_server  # noqa: F401 - fixtures: a real DNS server
from hypothesis import settings

from gate.config import ClusterOptions
from gate.model import Report
from gate.run import RunConfig, run

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(),
                                  reason="../shared/corpus is absent (only in the project's workspace)")
SARIF_SCHEMA = SHARED / "schemas" / "sarif-schema-2.1.0.json"
needs_shared = pytest.mark.skipif(not SARIF_SCHEMA.is_file(),
                                  reason="../shared/schemas is absent (only in the project's workspace)")

# `.ci/run` sets GATE_HYPOTHESIS=replay: the property tests draw the same examples on every machine, so
# CI replays what passed where it was run (as the fuzz campaign does with its fixed seed); elsewhere
# each run draws new examples and may find what the last did not.
settings.register_profile("replay", derandomize=True)
if os.environ.get("GATE_HYPOTHESIS") == "replay":
    settings.load_profile("replay")


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def check_text(tmp_path: Path, text: str, **config) -> Report:
    """Run the offline pipeline on one manifest text."""
    path = write(tmp_path, "render.yaml", text)
    config.setdefault("offline", True)
    return run(config_for([str(path)], **config))


def config_for(paths: list[str], *, cluster_state: list[str] | tuple[str, ...] = (), **config) -> RunConfig:
    """A RunConfig, with `cluster_state=` as a shorthand for the snapshots to consult."""
    return RunConfig(paths=paths, cluster=ClusterOptions(state_paths=tuple(cluster_state)), **config)


def ids(report: Report) -> list[str]:
    return [f.check for f in report.findings]


def gate_cli(*args: str, cwd: Path | None = None, input: bytes | None = None, env: dict | None = None,
             timeout: float = 60) -> subprocess.CompletedProcess:
    """The real `gate` command in a subprocess (exit codes and streams as a user sees them)."""
    # This checkout's `gate`, also when cwd is elsewhere (an installed copy would be imported otherwise).
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))),
                **(env or {})}
    return subprocess.run([sys.executable, "-m", "gate", *args], cwd=cwd or ROOT, input=input,
                          capture_output=True, env=full_env, timeout=timeout)
