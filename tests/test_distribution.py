"""Where the gate runs: the files other systems read (Dockerfile, pre-commit, workflow, Argo CD Job).

No Kubernetes API server runs here: the manifests are checked by `kubectl kustomize` (offline) and
by the gate itself; `kubectl apply --dry-run=client` needs a server for its REST mapping, so it is
not used. The image is built and run for real in tests/test_image.py when a docker daemon can run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, gate_cli

from gate.sources.kube import KINDS

DEPLOY = ROOT / "deploy" / "argocd"
HOOK = "argocd.argoproj.io/hook"


def documents(path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def deploy_objects() -> dict[str, dict]:
    """The component's objects (deploy/argocd/*.yaml), by kind."""
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
    assert hooks["gate"]["pass_filenames"] is False and "args" not in hooks["gate"]  # paths come from .gate.yaml
    assert "--changed" in hooks["gate-files"]["entry"].split() and hooks["gate-files"].get("pass_filenames", True)
    assert all(hook["require_serial"] is True for hook in hooks.values())


def test_action_inputs_and_outputs_are_the_contract():
    """action.yml is composite with exactly the inputs and outputs of the issue, every run step in bash."""
    action = documents(ROOT / "action.yml")[0]
    assert set(action["inputs"]) == {"paths", "policy", "fail-on", "offline", "lb-hostname", "nameserver",
                                     "cluster-state", "sarif-file", "source-root", "version"}
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
    assert container["image"] == "IMAGE"  # the one placeholder, set by the application's kustomization
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert set(container["resources"]["requests"]) == set(container["resources"]["limits"]) == {"cpu", "memory"}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert container["args"][:2] == ["check", "--argocd-app"] and "--kube" in container["args"]
    # the verdict and its reasons are the log's first lines
    assert container["args"][container["args"].index("--format") + 1] == "summary"
    env = {e["name"]: e for e in container["env"]}
    for name in ("ARGOCD_SERVER", "ARGOCD_AUTH_TOKEN"):
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == "ingress-gate-argocd" and ref["optional"] is True
    registry = volumes[mounts[env["DOCKER_CONFIG"]["value"]]]["secret"]
    assert registry["items"] == [{"key": ".dockerconfigjson", "path": "config.json"}]  # kubernetes.io/dockerconfigjson
    policy = volumes[mounts[container["workingDir"]]]["configMap"]
    assert policy["items"] == [{"key": ".gate.yaml", "path": ".gate.yaml"}] and policy["optional"] is True
    assert volumes["argocd"]["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]
    assert pod["serviceAccountName"] == objects["ServiceAccount"]["metadata"]["name"]
    for obj in objects.values():  # the application's namespace decides where they go
        assert "namespace" not in obj["metadata"] and "labels" not in obj["metadata"]


def rules_granted(role: dict) -> set[tuple[str, str]]:
    granted = set()
    for rule in role["rules"]:
        assert sorted(rule["verbs"]) == ["get", "list"] and "resourceNames" not in rule
        granted |= {(group, resource) for group in rule["apiGroups"] for resource in rule["resources"]}
    return granted


def test_argocd_rbac_is_get_and_list_on_exactly_the_kinds_the_gate_reads():
    """Namespaced kinds in a Role per namespace, the cluster-scoped kinds in the one ClusterRole, cert-manager's
    Deployment in a Role in its namespace, nothing more."""
    objects = deploy_objects()
    cluster = {(d["kind"], d["metadata"].get("namespace")): d
               for p in sorted((DEPLOY / "cluster").glob("*-*.yaml")) for d in documents(p)}
    cluster.update({kind: d for (kind, namespace), d in cluster.items() if kind.startswith("Cluster")})
    namespaced = {(k.group, k.plural) for k in KINDS if k.namespaced and k.fixed_namespaces is None}
    assert rules_granted(objects["Role"]) == namespaced
    assert rules_granted(cluster[("Role", "traefik")]) == namespaced  # the shared Gateway's namespace
    for kind in KINDS:  # kinds read in fixed namespaces (cert-manager's Deployment): a Role there, only that
        for namespace in kind.fixed_namespaces or ():
            assert rules_granted(cluster[("Role", namespace)]) == {(kind.group, kind.plural)}
    assert rules_granted(cluster["ClusterRole"]) == {(k.group, k.plural) for k in KINDS if not k.namespaced}
    assert "Why a ClusterRole" in (DEPLOY / "cluster" / "cluster-reader.yaml").read_text(encoding="utf-8")
    binding = objects["RoleBinding"]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": objects["Role"]["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": objects["ServiceAccount"]["metadata"]["name"]}]
    for key, binding in cluster.items():
        if key in ("ClusterRoleBinding",) or key[0] == "RoleBinding":
            assert {s["name"] for s in binding["subjects"]} == {"ingress-gate"}


def test_the_jobs_account_and_rbac_exist_before_the_job():
    """ServiceAccount and RBAC are PreSync hooks in an earlier wave, so the first sync can start the Job."""
    objects = deploy_objects()
    job_wave = int(objects["Job"]["metadata"]["annotations"].get("argocd.argoproj.io/sync-wave", "0"))
    for kind in ("ServiceAccount", "Role", "RoleBinding"):
        annotations = objects[kind]["metadata"]["annotations"]
        assert annotations[HOOK] == "PreSync"
        assert int(annotations["argocd.argoproj.io/sync-wave"]) < job_wave


def test_gate_finds_only_the_unset_image_placeholder_in_its_own_deploy_folder():
    """The gate's own manifests are clean under the gate, except `image: IMAGE`, which no registry can
    hold (uppercase): a placeholder left unset fails the gate instead of pulling something."""
    proc = gate_cli("check", "--offline", "--format", "json", "deploy/")
    findings = yaml.safe_load(proc.stdout)["findings"]
    assert [(f["check"], f["file"], f["resource"]["name"]) for f in findings] == [
        ("image-reference-invalid", "deploy/argocd/job.yaml", "ingress-gate"),
        ("image-reference-invalid", "deploy/audit/cronjob.yaml", "ingress-gate-audit")]


EXAMPLE_APP = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app.kubernetes.io/name: web}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: web}}
  template:
    metadata: {labels: {app.kubernetes.io/name: web}}
    spec: {containers: [{name: web, image: registry.example.com/shop/web:1.4.2, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app.kubernetes.io/name: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web}
"""


def kustomize(folder) -> list[dict]:
    built = subprocess.run(["kubectl", "kustomize", str(folder)], check=True, capture_output=True, timeout=60).stdout
    return [d for d in yaml.safe_load_all(built) if d]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_the_readme_kustomization_adds_the_job_and_changes_nothing_of_the_app(tmp_path):
    """deploy/argocd/README.md's kustomization, on an example application, with the component made local.

    The application's own objects come out exactly as without the component (no rename, no new label,
    same namespace and images); the gate's objects land in the application's namespace with the image set.
    """
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL) if "kustomization.yaml of" in b)
    overlay = yaml.safe_load(block)
    (remote,) = overlay["components"]
    assert remote == "https://github.com/OWNER/ingress-gate//deploy/argocd?ref=TAG"
    shutil.copytree(DEPLOY, tmp_path / "ingress-gate")
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.yaml").write_text(EXAMPLE_APP, encoding="utf-8")
    assert overlay["resources"] == ["app.yaml"]
    overlay["components"] = ["../ingress-gate"]
    (app / "kustomization.yaml").write_text(yaml.safe_dump(overlay), encoding="utf-8")
    with_gate = kustomize(app)
    del overlay["components"]
    (app / "kustomization.yaml").write_text(yaml.safe_dump(overlay), encoding="utf-8")
    without = kustomize(app)
    gate_objects = [d for d in with_gate if d["metadata"]["name"] in ("ingress-gate", "ingress-gate-reader")]
    assert [d for d in with_gate if d not in gate_objects] == without
    assert {(d["kind"], d["metadata"]["name"]) for d in without} == {("Deployment", "web"), ("Service", "web"),
                                                                      ("ServiceAccount", "web")}
    assert sorted(d["kind"] for d in gate_objects) == ["Job", "Role", "RoleBinding", "ServiceAccount"]
    namespace = overlay["namespace"]
    assert all(d["metadata"]["namespace"] == namespace for d in with_gate)
    job = next(d for d in gate_objects if d["kind"] == "Job")
    container = job["spec"]["template"]["spec"]["containers"][0]
    image = next(i for i in overlay["images"] if i["name"] == "IMAGE")
    assert container["image"] == f"{image['newName']}:{image['newTag']}"
    assert {e["name"]: e.get("value") for e in container["env"]}["ARGOCD_APP_NAME"] == "shop"
    binding = next(d for d in gate_objects if d["kind"] == "RoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "ingress-gate", "namespace": namespace}]
    # The built objects pass the gate (the app's Service selects its Deployment, the Job is a hook).
    built = yaml.safe_dump_all(with_gate).encode()
    proc = gate_cli("check", "--offline", "-", input=built)
    assert proc.returncode == 0, proc.stdout.decode()


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_the_cluster_grants_build():
    """deploy/argocd/cluster builds: the ClusterRole and its binding, the shared Gateway namespace's Role and
    cert-manager's namespace's Role, each with its binding."""
    kinds = sorted(d["kind"] for d in kustomize(DEPLOY / "cluster"))
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "Role", "Role", "RoleBinding", "RoleBinding"]


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
    """`kubectl kustomize` of an overlay that sets the image, as the README says, builds the CronJob, its account
    and RBAC, and the gate passes them; without the image set, the placeholder fails the gate."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(AUDIT, Path(tmp) / "base")
        (Path(tmp) / "kustomization.yaml").write_text(
            "resources: [base]\nimages:\n  - name: IMAGE\n    newName: registry.example.com/platform/ingress-gate\n"
            "    newTag: \"0.1.0\"\n", encoding="utf-8")
        built = subprocess.run(["kubectl", "kustomize", tmp], check=True, capture_output=True, timeout=60).stdout
    kinds = sorted(d["kind"] for d in yaml.safe_load_all(built) if d)
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "CronJob", "ServiceAccount"]
    assert b"image: registry.example.com/platform/ingress-gate:0.1.0" in built
    assert gate_cli("check", "--offline", "-", input=built).returncode == 0
