"""Where the gate runs: the files other systems read (Dockerfile, pre-commit, workflow, Argo CD Job).

No Docker engine and no Kubernetes API server run here: the image is checked by its Dockerfile's
invariants, and the manifests by `kubectl kustomize` (offline) and by the gate itself;
`kubectl apply --dry-run=client` needs a server for its REST mapping, so it is not used.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml
from conftest import ROOT, gate_cli

from gate.sources.kube import KINDS

DEPLOY = ROOT / "deploy" / "argocd"
HOOK = "argocd.argoproj.io/hook"


def documents(path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def deploy_objects() -> dict[str, dict]:
    return {d["kind"]: d for p in sorted(DEPLOY.glob("*.yaml")) if p.name != "kustomization.yaml"
            for d in documents(p)}


def dockerfile_user() -> str:
    return re.findall(r"^USER\s+(\S+)", (ROOT / "Dockerfile").read_text(encoding="utf-8"), re.MULTILINE)[-1]


def test_dockerfile_pins_its_base_and_runs_gate_as_a_numeric_non_root_user():
    """The base is pinned by patch version and digest, the user is numeric and not root, `gate` is the entrypoint."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE).group(1)
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim(-\w+)?@sha256:[0-9a-f]{64}", base), base
    assert re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE) == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]
    user, _, group = dockerfile_user().partition(":")
    assert user.isdigit() and int(user) > 0 and (not group or int(group) > 0)
    assert re.search(r'^ENTRYPOINT \["gate"\]$', text, re.MULTILINE)
    assert "ADD " not in text and "pip install" in text and "--from=build /opt/ingress-gate" in text
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignored[1:2] == ["*"] and "!gate/" in ignored  # only what the package needs is sent to the build


def test_pre_commit_hooks_are_offline_python_hooks():
    """Both hooks are language python and offline; `gate` takes folders, `gate-files` all staged files at once."""
    hooks = {h["id"]: h for h in documents(ROOT / ".pre-commit-hooks.yaml")[0]}
    assert set(hooks) == {"gate", "gate-files"}
    for hook in hooks.values():
        assert hook["language"] == "python" and "--offline" in hook["entry"].split()
        assert hook["types_or"] == ["yaml", "json"]
    assert hooks["gate"]["pass_filenames"] is False and hooks["gate"]["args"]
    assert hooks["gate-files"]["require_serial"] is True and hooks["gate-files"].get("pass_filenames", True)


def test_action_inputs_and_outputs_are_the_contract():
    """action.yml is composite with exactly the inputs and outputs of the issue, every run step in bash."""
    action = documents(ROOT / "action.yml")[0]
    assert set(action["inputs"]) == {"paths", "policy", "fail-on", "offline", "lb-hostname", "nameserver",
                                     "cluster-state", "sarif-file", "version"}
    assert set(action["outputs"]) == {"passed", "errors", "warnings", "sarif-file"}
    assert action["runs"]["using"] == "composite"
    for step in action["runs"]["steps"]:
        assert "uses" in step or step["shell"] == "bash"
        # inputs reach scripts through env, never pasted into the script text (script injection)
        assert "inputs." not in step.get("run", "")


def test_ci_workflow_runs_the_tests_and_the_action_both_ways():
    """The project's workflow runs .ci/run, the action on both examples, asserts the incident fails, uploads SARIF."""
    workflow = documents(ROOT / ".github" / "workflows" / "ci.yml")[0]
    steps = [s for job in workflow["jobs"].values() for s in job["steps"]]
    assert any(s.get("run") == "bash .ci/run" for s in steps)
    runs = {s["with"]["paths"]: s for s in steps if s.get("uses") == "./"}
    assert set(runs) == {"examples/healthy", "examples/incident"}
    assert runs["examples/incident"]["continue-on-error"] is True
    assert "continue-on-error" not in runs["examples/healthy"]
    check = next(s for s in steps if "INCIDENT_PASSED" in s.get("env", {}))
    assert 'test "$INCIDENT_PASSED" = false' in check["run"]
    assert any(s.get("uses", "").startswith("github/codeql-action/upload-sarif@") for s in steps)


def test_argocd_job_is_a_safe_presync_hook():
    """The Job is a PreSync hook, never retried, bounded in time, non-root on a read-only root with limits."""
    objects = deploy_objects()
    job = objects["Job"]
    assert job["metadata"]["annotations"][HOOK] == "PreSync"
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook-delete-policy"] == "BeforeHookCreation"
    assert job["spec"]["backoffLimit"] == 0 and 0 < job["spec"]["activeDeadlineSeconds"] <= 900
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["securityContext"]["runAsNonRoot"] is True
    assert str(pod["securityContext"]["runAsUser"]) == dockerfile_user().partition(":")[0]
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert set(container["resources"]["requests"]) == set(container["resources"]["limits"]) == {"cpu", "memory"}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == mounts["/tmp"])
    assert container["args"][:2] == ["check", "--argocd-app"] and "--kube" in container["args"]
    env = {e["name"]: e for e in container["env"]}
    for name in ("ARGOCD_SERVER", "ARGOCD_AUTH_TOKEN"):
        assert "secretKeyRef" in env[name]["valueFrom"]
    assert pod["serviceAccountName"] == objects["ServiceAccount"]["metadata"]["name"]


def test_argocd_rbac_is_get_and_list_on_exactly_the_kinds_the_gate_reads():
    """The ClusterRole grants get/list on the kinds `--kube` lists (gate/sources/kube.py), nothing more."""
    objects = deploy_objects()
    granted = set()
    for rule in objects["ClusterRole"]["rules"]:
        assert sorted(rule["verbs"]) == ["get", "list"] and "resourceNames" not in rule
        granted |= {(group, resource) for group in rule["apiGroups"] for resource in rule["resources"]}
    assert granted == {(kind.group, kind.plural) for kind in KINDS}
    binding = objects["ClusterRoleBinding"]
    assert binding["roleRef"]["name"] == objects["ClusterRole"]["metadata"]["name"]
    (subject,) = binding["subjects"]
    account = objects["ServiceAccount"]["metadata"]
    assert (subject["kind"], subject["name"], subject["namespace"]) == ("ServiceAccount", account["name"],
                                                                         account["namespace"])


def test_the_jobs_account_and_rbac_exist_before_the_job():
    """ServiceAccount and RBAC are PreSync hooks in an earlier wave, so the first sync can start the Job."""
    objects = deploy_objects()
    job_wave = int(objects["Job"]["metadata"]["annotations"].get("argocd.argoproj.io/sync-wave", "0"))
    for kind in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding"):
        annotations = objects[kind]["metadata"]["annotations"]
        assert annotations[HOOK] == "PreSync"
        assert int(annotations["argocd.argoproj.io/sync-wave"]) < job_wave


def test_gate_finds_nothing_in_its_own_deploy_folder():
    """The gate's own manifests are clean under the gate."""
    proc = gate_cli("check", "--offline", "--format", "json", "deploy/")
    assert proc.returncode == 0, proc.stdout.decode()
    assert yaml.safe_load(proc.stdout)["findings"] == []


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomization_builds_and_the_built_objects_pass_the_gate():
    """`kubectl kustomize deploy/argocd` builds every object, and the gate passes its output."""
    built = subprocess.run(["kubectl", "kustomize", str(DEPLOY)], check=True, capture_output=True, timeout=60).stdout
    kinds = sorted(d["kind"] for d in yaml.safe_load_all(built) if d)
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "Job", "ServiceAccount"]
    proc = gate_cli("check", "--offline", "-", input=built)
    assert proc.returncode == 0, proc.stdout.decode()


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_the_readme_overlay_renames_consistently(tmp_path):
    """deploy/argocd/README.md's kustomization (remote base made local) builds with names, namespace, image set."""
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL) if "kustomization.yaml of" in b)
    shutil.copytree(DEPLOY, tmp_path / "gate")
    overlay = yaml.safe_load(block)
    assert any(r.startswith("https://github.com/") and r.endswith("//deploy/argocd?ref=v0.1.0")
               for r in overlay["resources"])
    overlay["resources"] = ["../gate"]  # the application's own base and the remote URL are not here
    write_app = tmp_path / "app" / "kustomization.yaml"
    write_app.parent.mkdir()
    write_app.write_text(yaml.safe_dump(overlay), encoding="utf-8")
    built = subprocess.run(["kubectl", "kustomize", str(write_app.parent)], check=True, capture_output=True,
                           timeout=60).stdout
    objects = {d["kind"]: d for d in yaml.safe_load_all(built) if d}
    pod = objects["Job"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == objects["ServiceAccount"]["metadata"]["name"] == "ingress-gate-shop"
    assert objects["ClusterRoleBinding"]["subjects"][0] == {"kind": "ServiceAccount", "name": "ingress-gate-shop",
                                                             "namespace": "shop"}
    assert objects["ClusterRoleBinding"]["roleRef"]["name"] == objects["ClusterRole"]["metadata"]["name"]
    container = pod["containers"][0]
    assert container["image"] == "registry.example.com/platform/ingress-gate:0.1.0"
    assert {e["name"]: e.get("value") for e in container["env"]}["ARGOCD_APP_NAME"] == "shop"
    assert {e["name"]: e.get("valueFrom") for e in container["env"]}["ARGOCD_SERVER"]["secretKeyRef"]["name"] == \
        "ingress-gate-argocd"  # the Secret made by hand keeps its name


def readme_yaml(first_line: str) -> dict:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return yaml.safe_load(next(b for b in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
                               if b.startswith(first_line)))


def test_readme_workflow_and_pre_commit_config_use_real_inputs_and_hooks():
    """The README's workflow and pre-commit config parse and name only inputs, outputs and hooks that exist."""
    action = documents(ROOT / "action.yml")[0]
    steps = readme_yaml("# .github/workflows/ingress-gate.yml")["jobs"]["gate"]["steps"]
    gate_step = next(s for s in steps if s.get("id") == "gate")
    assert set(gate_step["with"]) <= set(action["inputs"])
    upload = next(s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif@"))
    assert upload["with"]["sarif_file"] == "${{ steps.gate.outputs.sarif-file }}"
    assert "sarif-file" in action["outputs"] and "always()" in upload["if"]
    hooks = {h["id"] for h in documents(ROOT / ".pre-commit-hooks.yaml")[0]}
    config = readme_yaml("# .pre-commit-config.yaml")
    assert {h["id"] for repo in config["repos"] for h in repo["hooks"]} <= hooks


AUDIT = ROOT / "deploy" / "audit"


def audit_objects() -> dict[str, dict]:
    return {d["kind"]: d for p in sorted(AUDIT.glob("*.yaml")) if p.name != "kustomization.yaml"
            for d in documents(p)}


def test_audit_rbac_is_list_on_exactly_the_kinds_the_audit_reads():
    """The audit's ClusterRole grants `list` on the kinds `gate audit --kube` lists, nothing more."""
    from gate.sources.kube import AUDIT_KINDS

    objects = audit_objects()
    granted = set()
    for rule in objects["ClusterRole"]["rules"]:
        assert rule["verbs"] == ["list"] and "resourceNames" not in rule
        granted |= {(group, resource) for group in rule["apiGroups"] for resource in rule["resources"]}
    assert granted == {(kind.group, kind.plural) for kind in AUDIT_KINDS}
    (subject,) = objects["ClusterRoleBinding"]["subjects"]
    account = objects["ServiceAccount"]["metadata"]
    assert (subject["name"], subject["namespace"]) == (account["name"], account["namespace"])
    assert objects["ClusterRoleBinding"]["roleRef"]["name"] == objects["ClusterRole"]["metadata"]["name"]


def test_audit_cronjob_runs_every_ten_minutes_with_the_presync_image():
    """Every 10 minutes, `gate audit --kube`, never retried or overlapping, the PreSync Job's image and user."""
    cron = audit_objects()["CronJob"]
    spec = cron["spec"]
    assert spec["schedule"] == "*/10 * * * *" and spec["concurrencyPolicy"] == "Forbid"
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 0
    pod = job["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"][:2] == ["audit", "--kube"]
    presync = deploy_objects()["Job"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == presync["image"]
    assert str(pod["securityContext"]["runAsUser"]) == dockerfile_user().split(":")[0]
    assert pod["serviceAccountName"] == audit_objects()["ServiceAccount"]["metadata"]["name"]
    assert "kube_job_status_failed" in (AUDIT / "README.md").read_text()


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_audit_kustomization_builds():
    """`kubectl kustomize deploy/audit` builds the CronJob, its account and RBAC, and the gate passes them."""
    built = subprocess.run(["kubectl", "kustomize", str(AUDIT)], check=True, capture_output=True, timeout=60).stdout
    kinds = sorted(d["kind"] for d in yaml.safe_load_all(built) if d)
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "CronJob", "ServiceAccount"]
    assert gate_cli("check", "--offline", "-", input=built).returncode == 0
