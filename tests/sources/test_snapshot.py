"""`--cluster-state`: snapshot files of what already exists, made by real kubectl (`--dry-run=client`
builds real objects offline), and what the gate makes of them."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import trustme
from conftest import EXAMPLES, FIXTURES, ROOT, config_for, gate_cli, write

from gate.checks import CHECKS
from gate.config import ClusterOptions, UsageError
from gate.run import RunConfig, run
from gate.sources.snapshot import load_snapshots

needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
SNAPSHOT = EXAMPLES / "cluster-state" / "incident.yaml"
NO_STATE_NOTE = "no cluster state consulted"
STATE_NOTE = "nor in the cluster state consulted"


def kubectl(*args: str) -> str:
    """One object from real kubectl, as YAML."""
    return subprocess.run(["kubectl", *args, "--dry-run=client", "-o", "yaml"], check=True,
                          capture_output=True, text=True, timeout=60).stdout


def as_list_item(text: str) -> str:
    lines = text.rstrip("\n").splitlines()
    return "\n".join([f"- {lines[0]}", *(f"  {line}" for line in lines[1:])]) + "\n"


def kube_list(*objects: str) -> str:
    """`kind: List`, the shape `kubectl get a,b,c -A -o yaml` prints."""
    return "apiVersion: v1\nkind: List\nitems:\n" + "".join(as_list_item(o) for o in objects)


def incident(tmp_path: Path, *state: str, **config) -> dict:
    proc = gate_cli("check", "--offline", "--format", "json", *(a for s in state for a in ("--cluster-state", s)),
                    str(EXAMPLES / "incident"), **config)
    assert proc.returncode in (0, 1), proc.stderr.decode()
    return json.loads(proc.stdout)


def test_committed_snapshot_clears_backends_and_keeps_real_faults(tmp_path):
    """examples/cluster-state/incident.yaml: no route-backend-missing; the wave order and rbac-sandbox's Secret stay."""
    report = incident(tmp_path, str(SNAPSHOT))
    found = [(f["check"], f["resource"]["namespace"]) for f in report["findings"]]
    assert not any(check == "route-backend-missing" for check, _ in found)
    assert ("sync-wave-order", "acme-pay-production") in found
    missing = [f for f in report["findings"] if f["check"] == "listener-secret-missing"]
    assert len(missing) == 1 and "acme-rbac-sandbox/rbac-sandbox-tls" in missing[0]["message"]
    assert STATE_NOTE in missing[0]["message"] and "examples/cluster-state/incident.yaml" in missing[0]["message"]
    assert report["passed"] is False and report["clusterStateConsulted"] is True
    assert report["stats"]["known"] == 23  # 19 Secrets, 4 Services


@needs_kubectl
def test_generator_script_builds_the_snapshot_with_kubectl(tmp_path):
    """generate.sh (real kubectl) yields the same objects as the committed snapshot, and the same verdict."""
    out = subprocess.run([str(EXAMPLES / "cluster-state" / "generate.sh")], check=True, capture_output=True,
                         text=True, timeout=120).stdout
    fresh = write(tmp_path, "state.yaml", out)
    keys = [sorted((r.kind, r.namespace, r.name) for r in load_snapshots([str(p)], max_file_bytes=1 << 20).resources)
            for p in (fresh, SNAPSHOT)]
    assert keys[0] == keys[1] and len(keys[0]) == 23
    assert {f["check"] for f in incident(tmp_path, str(fresh))["findings"]} == \
        {f["check"] for f in incident(tmp_path, str(SNAPSHOT))["findings"]}


@needs_kubectl
def test_secret_data_is_dropped_on_load_and_never_reported(tmp_path):
    """A kubectl TLS Secret (with --save-config, data in the annotation too) keeps its name and nothing of its data."""
    ca = trustme.CA()
    cert = ca.issue_cert("rbac.sandbox.example.com")
    cert.private_key_pem.write_to_path(str(tmp_path / "tls.key"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "tls.crt"))
    secret = kubectl("create", "secret", "tls", "rbac-sandbox-tls", "-n", "acme-rbac-sandbox", "--save-config",
                     f"--cert={tmp_path / 'tls.crt'}", f"--key={tmp_path / 'tls.key'}")
    data = [line.split(": ", 1)[1] for line in secret.splitlines() if line.strip().startswith("tls.")]
    assert len(data) == 2 and "last-applied-configuration" in secret  # the test input really carries data
    state = write(tmp_path, "state/secrets.yaml", kube_list(secret))

    loaded = load_snapshots([str(state)], max_file_bytes=1 << 20)
    [body] = [r.body for r in loaded.resources]
    body["metadata"].pop("creationTimestamp", None)  # `null` from some kubectl versions
    assert body == {"apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": "rbac-sandbox-tls", "namespace": "acme-rbac-sandbox", "annotations": {}}}

    procs = [gate_cli("check", "--offline", "--format", fmt, "--cluster-state", str(tmp_path / "state"),
                      str(EXAMPLES / "incident")) for fmt in ("text", "json")]
    outputs = [proc.stdout + proc.stderr for proc in procs]
    report = json.loads(procs[1].stdout)
    assert "listener-secret-missing" not in {f["check"] for f in report["findings"]}  # used by name
    key_body = "".join(cert.private_key_pem.bytes().decode().splitlines()[1:-1])
    for needle in (*data, key_body[:40], "BEGIN", "last-applied"):
        assert all(needle.encode() not in out for out in outputs), needle


@needs_kubectl
def test_kubectl_services_resolve_backends_and_their_ports(tmp_path):
    """Services from `kubectl create service` resolve backendRefs; a wrong port is still reported."""
    services = [kubectl("create", "service", "clusterip", name, "-n", ns, "--tcp", f"{port}:8080")
                for ns, name, port in (("acme-pay-production", "pay-web", 80), ("acme-pay-sandbox", "pay-sandbox-web", 80),
                                       ("acme-rbac-production", "rbac-web", 80),
                                       ("acme-rbac-sandbox", "rbac-sandbox-web", 8080))]
    state = write(tmp_path, "services.yaml", kube_list(*services))
    report = incident(tmp_path, str(state))
    found = [(f["check"], f["resource"]["namespace"]) for f in report["findings"]]
    assert not any(check == "route-backend-missing" for check, _ in found)
    assert ("route-backend-port-missing", "acme-rbac-sandbox") in found


def test_unresolved_note_says_whether_cluster_state_was_consulted(tmp_path):
    """Without state the note asks for --cluster-state/--kube; with an (even empty) snapshot it names it."""
    empty = write(tmp_path, "empty.yaml", "apiVersion: v1\nkind: List\nitems: []\n")
    without = run(RunConfig(paths=[str(EXAMPLES / "incident")], offline=True))
    with_state = run(config_for([str(EXAMPLES / "incident")], offline=True, cluster_state=[str(empty)]))
    missing = [f for f in without.findings if f.check == "route-backend-missing"]
    assert missing and all(NO_STATE_NOTE in f.message and "--cluster-state" in f.message for f in missing)
    assert with_state.cluster_state_consulted and not without.cluster_state_consulted
    missing = [f for f in with_state.findings if f.check == "route-backend-missing"]
    assert missing and all(f"{STATE_NOTE} ({empty})" in f.message for f in missing)


@pytest.mark.parametrize("check_id", sorted(c.id for c in CHECKS.values() if c.unresolved))
def test_every_unresolved_check_says_what_was_consulted(tmp_path, check_id):
    """Each 'points at nothing' check says whether cluster state was consulted, and flips with --cluster-state."""
    empty = write(tmp_path, "empty.yaml", "apiVersion: v1\nkind: List\nitems: []\n")
    fire = sorted((FIXTURES / check_id / "fire").glob("*.yaml"))
    if not fire:
        pytest.skip(f"{check_id} has no fire fixture yet (tests/test_fixtures.py reports that)")
    for state, note in (([], NO_STATE_NOTE), ([str(empty)], STATE_NOTE)):
        messages = [f.message for path in fire
                    for f in run(config_for([str(path)], offline=True, include=(check_id,),
                                            cluster_state=state)).findings]
        # Some of these checks also report other faults (a port the Service lacks); the
        # "points at nothing" ones must carry the note, and it must match what was consulted.
        assert any(note in m for m in messages), (check_id, messages)
        assert all(note in m for m in messages if "not in the render" in m), (check_id, messages)


def test_policy_unresolved_references_warning_applies_with_cluster_state(tmp_path):
    """unresolvedReferences: warning downgrades what neither render nor snapshot has."""
    policy = write(tmp_path, "policy.yaml", "version: 1\nunresolvedReferences: warning\n")
    state = write(tmp_path, "empty.yaml", "apiVersion: v1\nkind: List\nitems: []\n")
    report = run(config_for([str(EXAMPLES / "incident")], offline=True, policy=str(policy),
                            cluster_state=[str(state)]))
    unresolved = [f for f in report.findings if CHECKS[f.check].unresolved]
    assert unresolved and all(f.severity == "warning" for f in unresolved)


def test_broken_snapshot_documents_are_reported_and_the_rest_is_used(tmp_path):
    """A document that does not parse is manifest-invalid at its snapshot line; the next one still counts."""
    state = write(tmp_path, "state.yaml", """
        apiVersion: v1
        kind: Service
        metadata: {name: pay-web, namespace: acme-pay-production
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: rbac-web, namespace: acme-rbac-production}
        spec: {ports: [{port: 80}]}
        """)
    report = run(config_for([str(EXAMPLES / "incident")], offline=True, cluster_state=[str(state)]))
    invalid = [f for f in report.findings if f.check == "manifest-invalid"]
    assert [(Path(f.file).name, f.line) for f in invalid] == [("state.yaml", 3)]
    backends = {f.namespace for f in report.findings if f.check == "route-backend-missing"}
    assert "acme-rbac-production" not in backends and "acme-pay-production" in backends


def test_missing_snapshot_path_exits_2_with_the_report(tmp_path):
    """A --cluster-state path that does not exist is an input error (exit 2), named in stderr."""
    proc = gate_cli("check", "--offline", "--cluster-state", str(tmp_path / "nope.yaml"), str(EXAMPLES / "incident"))
    assert proc.returncode == 2 and b"nope.yaml: no such file or folder" in proc.stderr
    assert proc.stdout.startswith(b"ERROR: ") and b"https://pay.example.com" in proc.stdout


@pytest.mark.parametrize("args, message", [
    (("--offline", "--kube"), "--kube reads the live cluster, which --offline forbids"),
    (("--offline", "--argocd-app", "shop"), "--argocd-app reads the Argo CD API, which --offline forbids"),
    (("--context", "prod"), "--kubeconfig and --context choose the cluster for --kube"),
])
def test_contradictory_options_are_usage_errors(args, message):
    """--offline refuses --kube and --argocd-app; --context/--kubeconfig need --kube (exit 2)."""
    proc = gate_cli("check", *args, "examples/incident", cwd=ROOT)
    assert proc.returncode == 2 and message in proc.stderr.decode()
    with pytest.raises(UsageError):
        run(RunConfig(paths=["examples/incident"], offline="--offline" in args,
                      cluster=ClusterOptions(kube="--kube" in args,
                                             argocd_app="shop" if "--argocd-app" in args else None,
                                             context="prod" if "--context" in args else None)))
