"""The pre-commit hooks, run by the real `pre-commit try-repo` against a temporary git repository.

try-repo would take the hooks from this working tree with its uncommitted changes, but not with
files git does not track yet; so the tests hand it a snapshot of the working tree (every file git
does not ignore) committed in a repository of their own. pre-commit builds the hooks'
`language: python` environment from it with pip once per module (PyPI must be reachable).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from conftest import EXAMPLES, ROOT, gate_cli, write

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


SUMMARY_FINDING = re.compile(r"^  (error|warning|info)(?: \(could not verify\))? ([a-z0-9-]+): .* at (\S+):(\d+)$",
                             re.MULTILINE)
POLICY = "paths: [rendered]\n"


def git_repo(folder, example: str, policy: str = POLICY):
    """A git repository holding one example render and its .gate.yaml, staged (pre-commit only sees git's files)."""
    shutil.copytree(EXAMPLES / example, folder / "rendered")
    (folder / ".gate.yaml").write_text(policy, encoding="utf-8")
    git("init", "-q", cwd=folder)
    git("add", "-A", cwd=folder)
    return folder


def try_repo(repo, home, hooks, *hook_ids: str, all_files: bool = True) -> subprocess.CompletedProcess:
    """Hooks of the manifest (all, or `hook_ids`) on every file of `repo`, or on the staged files only."""
    env = {**GIT_ENV, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(hooks), *hook_ids,
                           *(["--all-files"] if all_files else []), "--verbose"],
                          check=False, cwd=repo, env=env, capture_output=True, text=True, timeout=600)


def verdicts(output: str) -> dict[str, str]:
    """Hook name -> Passed/Failed/Skipped from pre-commit's summary lines."""
    return dict(re.findall(r"^(ingress-gate \([^)]*\))\.+(Passed|Failed|Skipped)$", output, re.MULTILINE))


def reported(output: str) -> set[tuple[str, str, int]]:
    """(check, file, line) of the deciding findings in the `--format summary` lines of every gate process."""
    return {(check, file, int(line)) for _, check, file, line in SUMMARY_FINDING.findall(output)}


def folder_findings(repo, *paths: str) -> tuple[dict, set[tuple[str, str, int]]]:
    """`gate check` on the folder, as the reference for what the hooks must report: the deciding findings
    (at or above the default --fail-on error), which the summary lines list."""
    proc = gate_cli("check", "--offline", "--format", "json", *paths, cwd=repo)
    report = json.loads(proc.stdout)
    return report, {(f["check"], f["file"], f["line"]) for f in report["findings"] if f["severity"] == "error"}


def split_documents(source, target) -> list:
    """One file per document, as `helm template --output-dir` writes a chart's templates."""
    files = []
    for path in sorted(source.rglob("*.yaml")):
        folder = target / path.parent.relative_to(source)
        folder.mkdir(parents=True, exist_ok=True)
        docs = [d for d in re.split(r"^---\n", path.read_text(encoding="utf-8"), flags=re.MULTILINE)
                if re.search(r"^kind: \w+", d, re.MULTILINE)]
        for number, doc in enumerate(docs):
            kind = re.search(r"^kind: (\w+)", doc, re.MULTILINE).group(1).lower()
            file = folder / f"{path.stem}-{number:02d}-{kind}.yaml"
            file.write_text(doc, encoding="utf-8")
            files.append(file)
    return files


def edit(path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_hooks_fail_on_the_incident(tmp_path, pre_commit_home, hooks_repo):
    """Both hooks fail on the incident with the folder run's findings, the reasons in the first lines."""
    repo = git_repo(tmp_path, "incident")
    proc = try_repo(repo, pre_commit_home, hooks_repo)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert verdicts(proc.stdout) == {"ingress-gate (whole render)": "Failed",
                                     "ingress-gate (staged manifests)": "Failed"}, proc.stdout
    whole, files = proc.stdout.split("ingress-gate (staged manifests)")
    _, expected = folder_findings(repo, "rendered")
    for output in (whole, files):
        assert "ingress-gate: FAILED: 12 errors" in output and "route-backend-missing" in output
        assert reported(output) == expected
    assert "- exit code: 1" in files


def test_hooks_pass_on_the_healthy_render(tmp_path, pre_commit_home, hooks_repo):
    """Both hooks pass on the healthy example."""
    proc = try_repo(git_repo(tmp_path, "healthy"), pre_commit_home, hooks_repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert verdicts(proc.stdout) == {"ingress-gate (whole render)": "Passed",
                                     "ingress-gate (staged manifests)": "Passed"}, proc.stdout
    assert proc.stdout.count("ingress-gate: PASSED: 0 errors") == 2


def test_whole_render_hook_without_paths_says_what_to_set(tmp_path, pre_commit_home, hooks_repo):
    """No `paths` in .gate.yaml: the whole-render hook stops with exit 2 and names the setting (no bare `.`)."""
    proc = try_repo(git_repo(tmp_path, "healthy", policy="version: 1\n"), pre_commit_home, hooks_repo, "gate")
    assert proc.returncode == 1 and "- exit code: 2" in proc.stdout, proc.stdout
    assert "set `paths` in the policy (.gate.yaml)" in proc.stdout


def test_partial_staging_reports_exactly_the_real_findings(tmp_path, pre_commit_home, hooks_repo):
    """4 staged files of an app whose other files are committed: the staged files' real findings, no false ones.

    Checking only the staged files (what the hook did before --changed) calls the Gateway, the
    ClusterIssuer and the Deployment missing; against the whole render only the two real faults remain.
    An unstaged edit (pre-commit stashes it) must not count either.
    """
    repo = tmp_path / "repo"
    files = split_documents(EXAMPLES / "healthy", repo / "rendered")
    (repo / ".gate.yaml").write_text(POLICY, encoding="utf-8")
    git("init", "-q", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "the render", cwd=repo)
    app = {f.name: f for f in files if f.parent.name == "acme-pay-production"}
    staged = [app["app-01-certificate.yaml"], app["app-02-referencegrant.yaml"], app["app-03-httproute.yaml"],
              app["app-04-service.yaml"]]
    edit(staged[0], "name: letsencrypt-prod", "name: letsencrypt-prd")  # real: certificate-issuer-missing
    edit(staged[1], "  name: traefik-gateway-tls", "  name: traefik-gateway-tls\n  labels: {team: pay}")
    edit(staged[2], "      port: 80", "      port: 8080")  # real: route-backend-port-missing
    edit(staged[3], "  name: pay-web", "  name: pay-web\n  labels: {team: pay}")
    git("add", *(str(f.relative_to(repo)) for f in staged), cwd=repo)
    report, expected = folder_findings(repo, "rendered")
    assert {check for check, _, _ in expected} == {"certificate-issuer-missing", "route-backend-port-missing"}
    staged_names = {str(f.relative_to(repo)) for f in staged}
    assert {file for _, file, _ in expected} <= staged_names
    # Only the staged files, as one render: what the hook used to judge.
    alone, _ = folder_findings(repo, *sorted(staged_names))
    assert {"route-parent-missing", "route-backend-missing"} & {f["check"] for f in alone["findings"]}
    edit(app["app-05-deployment.yaml"], "app.kubernetes.io/name: pay-web", "app.kubernetes.io/name: nothing")

    proc = try_repo(repo, pre_commit_home, hooks_repo, "gate-files", all_files=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert verdicts(proc.stdout) == {"ingress-gate (staged manifests)": "Failed"}, proc.stdout
    assert reported(proc.stdout) == expected, proc.stdout
    assert f"ingress-gate: FAILED: {report['summary']['error']} errors" in proc.stdout
    assert "service-selects-nothing" not in proc.stdout  # the unstaged edit was stashed away


def test_2500_staged_files_give_the_folder_runs_verdict(tmp_path, pre_commit_home, hooks_repo):
    """2,500 staged files: pre-commit splits them into several processes; their findings are the folder run's.

    Routes, Services and Deployments live in folders far apart, so a split puts a route and its
    Service into different processes; each process still reads the whole render set.
    """
    repo = tmp_path / "repo"
    base = repo / "rendered" / "applications-of-the-web-shop-team-in-production"
    write(repo, "rendered/platform/gateway.yaml", """
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: web, namespace: platform}
        spec:
          gatewayClassName: traefik
          listeners:
          - {name: http, protocol: HTTP, port: 80, allowedRoutes: {namespaces: {from: All}}}
        """)
    apps = 833
    for i in range(apps):
        backend = "svc-missing" if i == 7 else f"svc-{i:04d}"
        write(base, f"httproutes/httproute-of-application-number-{i:04d}.yaml", f"""
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {{name: route-{i:04d}, namespace: shop}}
            spec:
              parentRefs: [{{name: web, namespace: platform}}]
              rules: [{{backendRefs: [{{name: {backend}, port: 80}}]}}]
            """)
        write(base, f"services/service-of-application-number-{i:04d}.yaml", f"""
            apiVersion: v1
            kind: Service
            metadata: {{name: svc-{i:04d}, namespace: shop}}
            spec:
              selector: {{app: app-{i:04d}}}
              ports: [{{port: 80, targetPort: 8080}}]
            """)
        label = "nobody" if i == 800 else f"app-{i:04d}"
        write(base, f"workloads/deployment-of-application-number-{i:04d}.yaml", f"""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {{name: app-{i:04d}, namespace: shop}}
            spec:
              selector: {{matchLabels: {{app: {label}}}}}
              template:
                metadata: {{labels: {{app: {label}}}}}
                spec: {{containers: [{{name: web, image: registry.example.com/shop/web:1.0, ports: [{{containerPort: 8080}}]}}]}}
            """)
    (repo / ".gate.yaml").write_text(POLICY, encoding="utf-8")
    git("init", "-q", cwd=repo)
    # The policy is committed first: a staged policy would make every finding count.
    git("add", ".gate.yaml", cwd=repo)
    git("commit", "-q", "-m", "policy", cwd=repo)
    git("add", "-A", cwd=repo)
    staged = git("diff", "--cached", "--name-only", cwd=repo).split()
    assert len(staged) == 2500 and sum(len(name) + 1 for name in staged) > 2 ** 17  # over pre-commit's line length
    report, expected = folder_findings(repo, "rendered")
    assert {check for check, _, _ in expected} == {"route-backend-missing", "service-selects-nothing"}

    proc = try_repo(repo, pre_commit_home, hooks_repo, "gate-files", all_files=False)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr
    runs = re.findall(r"^ingress-gate: (PASSED|FAILED): ", proc.stdout, re.MULTILINE)
    assert len(runs) >= 2, "pre-commit did not split the file list; the test proves nothing"
    assert reported(proc.stdout) == expected
    assert "FAILED" in runs and verdicts(proc.stdout) == {"ingress-gate (staged manifests)": "Failed"}


def readme_block(first_line: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return next(b for b in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL) if b.startswith(first_line))


def test_a_chart_beside_its_render_with_the_readme_config(tmp_path, pre_commit_home, hooks_repo):
    """README's .gate.yaml and .pre-commit-config.yaml, as written (the repo URL and TAG pointed at a
    snapshot of this tree), in a repository with a Helm chart beside its render: the templates are
    never read and the hook passes; both hooks pass under try-repo too."""
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES / "healthy", repo / "rendered")
    write(repo, "charts/shop/Chart.yaml", "apiVersion: v2\nname: shop\nversion: 0.1.0\n")
    write(repo, "charts/shop/values.yaml", "replicas: 2\nimage: {repository: registry.example.com/shop, tag: '1.0'}\n")
    write(repo, "charts/shop/templates/deployment.yaml", """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {{ .Release.Name }}-web
        spec:
          replicas: {{ .Values.replicas }}
          template:
            spec:
              containers:
                - image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
        """)
    policy = readme_block("# .gate.yaml")
    assert "charts/**" in policy
    (repo / ".gate.yaml").write_text(policy, encoding="utf-8")
    config = readme_block("# .pre-commit-config.yaml")
    assert "https://github.com/OWNER/ingress-gate" in config and "rev: TAG" in config
    config = config.replace("https://github.com/OWNER/ingress-gate", str(hooks_repo)).replace(
        "rev: TAG", f"rev: {git('rev-parse', 'HEAD', cwd=hooks_repo).strip()}")
    (repo / ".pre-commit-config.yaml").write_text(config, encoding="utf-8")
    git("init", "-q", cwd=repo)
    git("add", "-A", cwd=repo)
    # Without the policy, the templates are read as manifests and fail: what `args: [.]` used to do.
    defaults = write(tmp_path, "defaults.yaml", "version: 1\n")
    bare = gate_cli("check", "--offline", "--policy", str(defaults), ".", cwd=repo)
    assert bare.returncode == 1 and b"manifest-invalid" in bare.stdout
    env = {**GIT_ENV, "PRE_COMMIT_HOME": str(pre_commit_home), "PRE_COMMIT_COLOR": "never"}
    proc = subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files", "--verbose"], check=False,
                          cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert verdicts(proc.stdout) == {"ingress-gate (staged manifests)": "Passed"}, proc.stdout
    assert "manifest-invalid" not in proc.stdout and "ingress-gate: PASSED: 0 errors" in proc.stdout
    both = try_repo(repo, pre_commit_home, hooks_repo)
    assert both.returncode == 0, both.stdout + both.stderr
    assert verdicts(both.stdout) == {"ingress-gate (whole render)": "Passed",
                                     "ingress-gate (staged manifests)": "Passed"}, both.stdout
