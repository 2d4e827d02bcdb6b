"""The pre-commit hooks, run by the real `pre-commit try-repo` against a temporary git repository.

try-repo takes the hooks from this working tree (tracked files, uncommitted changes included) and
builds their `language: python` environment with pip the first time (PyPI must be reachable).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from conftest import EXAMPLES, ROOT

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory):
    """A PRE_COMMIT_HOME of the module's own, so the tests never touch the user's cache."""
    return tmp_path_factory.mktemp("pre-commit-home")


def git_repo(folder, example: str):
    """A git repository holding one example render, staged (pre-commit only sees git's files)."""
    shutil.copytree(EXAMPLES / example, folder / "rendered")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    for cmd in (["git", "init", "-q"], ["git", "add", "rendered"]):
        subprocess.run(cmd, cwd=folder, check=True, env=env)
    return folder


def try_repo(repo, hook: str, home, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), hook, "--verbose", *extra],
                          check=False, cwd=repo, env=env, capture_output=True, text=True, timeout=600)


def test_gate_hook_fails_on_the_incident(tmp_path, pre_commit_home):
    """The whole-render hook fails on the incident and shows the findings."""
    proc = try_repo(git_repo(tmp_path, "incident"), "gate", pre_commit_home, "--all-files")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "route-backend-missing" in proc.stdout and "FAILED: " in proc.stdout


def test_gate_hook_passes_on_the_healthy_render(tmp_path, pre_commit_home):
    """The whole-render hook passes on the healthy example."""
    proc = try_repo(git_repo(tmp_path, "healthy"), "gate", pre_commit_home, "--all-files")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASSED: 0 errors" in proc.stdout


def test_gate_files_hook_checks_the_staged_files_in_one_run(tmp_path, pre_commit_home):
    """The per-file hook gets every staged manifest in one run, so cross-file findings still appear."""
    proc = try_repo(git_repo(tmp_path, "incident"), "gate-files", pre_commit_home, "--all-files")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "route-backend-missing" in proc.stdout and "in 6 files" in proc.stdout
