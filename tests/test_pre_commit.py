"""The pre-commit hooks, run by the real `pre-commit try-repo` against a temporary git repository.

try-repo would take the hooks from this working tree with its uncommitted changes, but not with
files git does not track yet; so the tests hand it a snapshot of the working tree (every file git
does not ignore) committed in a repository of their own. pre-commit builds the hooks'
`language: python` environment from it with pip once per module (PyPI must be reachable).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
from conftest import EXAMPLES, ROOT

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(*args: str, cwd) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, env=GIT_ENV, capture_output=True,
                          text=True).stdout


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory):
    """A PRE_COMMIT_HOME of the module's own, so the tests never touch the user's cache."""
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture(scope="module")
def hooks_repo(tmp_path_factory):
    """This working tree as one commit: tracked and untracked files, minus what git ignores."""
    snapshot = tmp_path_factory.mktemp("hooks-repo")
    for name in git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT).split("\0"):
        source = ROOT / name
        if name and source.is_file():
            (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, snapshot / name)
    git("init", "-q", cwd=snapshot)
    git("add", "-A", cwd=snapshot)
    git("commit", "-q", "-m", "snapshot of the working tree", cwd=snapshot)
    return snapshot


def git_repo(folder, example: str):
    """A git repository holding one example render, staged (pre-commit only sees git's files)."""
    shutil.copytree(EXAMPLES / example, folder / "rendered")
    git("init", "-q", cwd=folder)
    git("add", "rendered", cwd=folder)
    return folder


def try_repo(repo, home, hooks) -> subprocess.CompletedProcess:
    """Every hook of the manifest on every file of `repo` (try-repo installs the hook environment each time)."""
    env = {**GIT_ENV, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(hooks), "--all-files", "--verbose"],
                          check=False, cwd=repo, env=env, capture_output=True, text=True, timeout=600)


def verdicts(output: str) -> dict[str, str]:
    """Hook name -> Passed/Failed/Skipped from pre-commit's summary lines."""
    return dict(re.findall(r"^(ingress-gate \([^)]*\))\.+(Passed|Failed|Skipped)$", output, re.MULTILINE))


def test_hooks_fail_on_the_incident(tmp_path, pre_commit_home, hooks_repo):
    """Both hooks fail on the incident: the whole render, and the staged files checked together in one run."""
    proc = try_repo(git_repo(tmp_path, "incident"), pre_commit_home, hooks_repo)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert verdicts(proc.stdout) == {"ingress-gate (whole render)": "Failed",
                                     "ingress-gate (staged manifests)": "Failed"}, proc.stdout
    whole, files = proc.stdout.split("ingress-gate (staged manifests)")
    for output in (whole, files):
        assert "route-backend-missing" in output and "FAILED: " in output
    # one run over all six files, so findings across files (a route and its missing Service) still appear
    assert "in 7 files" in files and "- exit code: 1" in files


def test_hooks_pass_on_the_healthy_render(tmp_path, pre_commit_home, hooks_repo):
    """Both hooks pass on the healthy example."""
    proc = try_repo(git_repo(tmp_path, "healthy"), pre_commit_home, hooks_repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert verdicts(proc.stdout) == {"ingress-gate (whole render)": "Passed",
                                     "ingress-gate (staged manifests)": "Passed"}, proc.stdout
    assert proc.stdout.count("PASSED: 0 errors") == 2
