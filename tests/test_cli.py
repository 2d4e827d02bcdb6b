"""The CLI contract: commands, options, formats and exit codes as other tooling uses them."""

from __future__ import annotations

import json

from conftest import ROOT, gate_cli, write

ROUTE = """apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
  namespace: shop
spec:
  rules:
  - backendRefs:
    - name: web
      port: 80
"""


def test_incident_example_fails_with_the_incident_findings():
    """The incident shape fails: missing backends, a Certificate after its Gateway, missing and pending Secrets."""
    proc = gate_cli("check", "--offline", "--format", "json", "examples/incident")
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    found = sorted((f["check"], f["resource"]["namespace"], f["file"], f["line"]) for f in report["findings"]
                   if f["check"] != "certificate-wait-deadlock")
    assert found == [
        # cert-manager v1.15.1 without Gateway API support: a new solver HTTPRoute every 10 s
        ("certmanager-gateway-api-disabled", "", "examples/incident/platform/gateway.yaml", 297),
        ("listener-secret-missing", "traefik", "examples/incident/platform/gateway.yaml", 278),
        # the deadlock: pay, pay-sandbox and rbac listeners serve Secrets of Certificates in wave 1
        ("listener-secret-pending", "traefik", "examples/incident/platform/gateway.yaml", 242),
        ("listener-secret-pending", "traefik", "examples/incident/platform/gateway.yaml", 254),
        ("listener-secret-pending", "traefik", "examples/incident/platform/gateway.yaml", 266),
        ("route-backend-missing", "acme-pay-production", "examples/incident/acme-pay-production/app.yaml", 56),
        ("route-backend-missing", "acme-pay-sandbox", "examples/incident/acme-pay-sandbox/app.yaml", 56),
        ("route-backend-missing", "acme-rbac-production", "examples/incident/acme-rbac-production/app.yaml", 56),
        ("route-backend-missing", "acme-rbac-sandbox", "examples/incident/acme-rbac-sandbox/app.yaml", 56),
        ("sync-wave-order", "acme-pay-production", "examples/incident/acme-pay-production/app.yaml", 8),
        ("sync-wave-order", "acme-pay-sandbox", "examples/incident/acme-pay-sandbox/app.yaml", 8),
        ("sync-wave-order", "acme-rbac-production", "examples/incident/acme-rbac-production/app.yaml", 8),
    ]
    missing = next(f for f in report["findings"] if f["check"] == "listener-secret-missing")
    assert "all 24 listeners of Gateway traefik/traefik-gateway on Traefik < 3.1 or Cilium" in missing["message"]
    pending = sorted(f["hostname"] for f in report["findings"] if f["check"] == "listener-secret-pending")
    assert pending == ["pay.example.com", "pay.sandbox.example.com", "rbac.example.com"]
    # The 19 live services' Certificates come before their solver's Gateway: fine only if that Gateway
    # runs already, which the render alone cannot tell: could not verify, not an error.
    waits = [f for f in report["findings"] if f["check"] == "certificate-wait-deadlock"]
    assert len(waits) == 19 and all(f["severity"] == "warning" and f["unverified"] for f in waits)
    assert report["passed"] is False and report["summary"]["error"] == 12


def test_healthy_example_passes():
    """The fixed version of the incident passes offline with no finding."""
    proc = gate_cli("check", "--offline", "examples/healthy")
    assert proc.returncode == 0, proc.stdout.decode()
    assert b"PASSED: 0 errors" in proc.stdout


def test_text_checklist_groups_by_service():
    """The text report has a block per HTTPS name with [x]/[ ] lines and the finding's file:line."""
    out = gate_cli("check", "--offline", "examples/incident").stdout.decode()
    block = out.split("https://pay.example.com\n", 1)[1].split("\n\n", 1)[0]
    assert "[ ] Gateway listener has its TLS Secret" in block
    assert "error listener-secret-pending: Gateway traefik/traefik-gateway: listener 'pay-https'" in block
    assert "[ ] Issuer and ACME solver can validate the name" in block  # cert-manager without Gateway API support
    assert "[ ] Backend Service exists" in block
    assert "at examples/incident/acme-pay-production/app.yaml:56" in block
    assert out.rstrip().splitlines()[-1].startswith("FAILED: 12 errors")


def test_json_document_shape():
    """--format json prints the versioned document with the documented fields."""
    report = json.loads(gate_cli("check", "--offline", "--format", "json", "examples/incident").stdout)
    assert report["schemaVersion"] == 1
    assert set(report["summary"]) == {"error", "warning", "info", "unverified"}
    finding = report["findings"][0]
    assert {"check", "severity", "message", "remediation", "resource", "file", "line"} <= set(finding)
    assert set(finding["resource"]) == {"apiVersion", "kind", "namespace", "name"}
    service = next(s for s in report["services"] if s["hostname"] == "pay.example.com")
    assert service["status"] == "fail"
    assert {i["label"]: i["status"] for i in service["items"]}["Backend Service exists"] == "fail"


def test_format_repeats_and_writes_files(tmp_path):
    """One run prints text and writes JSON to a file."""
    out = tmp_path / "report.json"
    proc = gate_cli("check", "--offline", "--format", "text", "--format", f"json={out}", "examples/incident")
    assert proc.returncode == 1
    assert b"FAILED" in proc.stdout
    assert json.loads(out.read_text())["passed"] is False


def test_unknown_format_and_unknown_check_ids_are_usage_errors():
    """Exit 2 for --format nope, --include/--exclude with an unknown id, and no PATH."""
    assert gate_cli("check", "--format", "nope", "examples/healthy").returncode == 2
    proc = gate_cli("check", "--offline", "--include", "no-such-check", "examples/healthy")
    assert proc.returncode == 2 and b"unknown check id: no-such-check" in proc.stderr
    assert gate_cli("check", "--offline", "--exclude", "nope", "examples/healthy").returncode == 2
    assert gate_cli("check").returncode == 2


def test_include_and_exclude_select_checks():
    """--include runs only the named checks; --exclude skips them."""
    only = json.loads(gate_cli("check", "--offline", "--format", "json", "--include", "sync-wave-order",
                               "examples/incident").stdout)
    assert {f["check"] for f in only["findings"]} == {"sync-wave-order"}
    rest = json.loads(gate_cli("check", "--offline", "--format", "json", "--exclude", "route-backend-missing",
                               "--exclude", "sync-wave-order", "examples/incident").stdout)
    assert {f["check"] for f in rest["findings"]} == {"listener-secret-missing", "listener-secret-pending",
                                                      "certmanager-gateway-api-disabled", "certificate-wait-deadlock"}


def test_fail_on_warning(tmp_path):
    """A warning passes by default and fails with --fail-on warning."""
    write(tmp_path, "policy.yaml", "checks:\n  route-backend-missing: warning\n")
    render = write(tmp_path, "r.yaml", ROUTE)
    args = ("check", "--offline", "--policy", str(tmp_path / "policy.yaml"), str(render))
    assert gate_cli(*args).returncode == 0
    assert gate_cli(*args, "--fail-on", "warning").returncode == 1


def test_namespace_option_defaults_namespaced_objects(tmp_path):
    """--namespace puts objects without metadata.namespace there, as kubectl apply -n does."""
    render = write(tmp_path, "r.yaml", ROUTE.replace("  namespace: shop\n", ""))
    report = json.loads(gate_cli("check", "--offline", "--namespace", "team-a", "--format", "json",
                                 str(render)).stdout)
    assert report["findings"][0]["resource"]["namespace"] == "team-a"
    assert "team-a/web" in report["findings"][0]["message"]


def test_colour_only_on_a_tty_and_never_with_no_color():
    """Piped output has no escape codes (NO_COLOR is honoured too)."""
    assert b"\x1b[" not in gate_cli("check", "--offline", "examples/incident").stdout
    assert b"\x1b[" not in gate_cli("check", "--offline", "examples/incident", env={"NO_COLOR": "1"}).stdout


def test_version():
    """`gate --version` prints the version."""
    proc = gate_cli("--version")
    assert proc.returncode == 0 and b"0.1.0" in proc.stdout


def test_internal_error_is_short_without_debug(tmp_path):
    """An unexpected failure prints one line and exits 2; --debug shows the traceback."""
    render = write(tmp_path, "r.yaml", ROUTE)
    plugin = write(tmp_path, "sitecustomize.py", "import gate.run\n"
                   "def boom(*a, **k):\n    raise RuntimeError('simulated failure')\n"
                   "gate.run.build_checklists = boom\n")
    env = {"PYTHONPATH": f"{plugin.parent}:{ROOT}"}
    proc = gate_cli("check", "--offline", str(render), env=env)
    assert proc.returncode == 2
    assert b"internal error: RuntimeError: simulated failure" in proc.stderr and b"Traceback" not in proc.stderr
    debug = gate_cli("check", "--offline", "--debug", str(render), env=env)
    assert debug.returncode == 2 and b"Traceback" in debug.stderr


def test_a_kubernetes_version_not_shipped_says_where_it_was_given(tmp_path):
    """The usage error names the option or the policy setting, not the version twice."""
    proc = gate_cli("check", "--offline", "--kube-version", "1.2", "examples/incident")
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert "--kube-version 1.2: Kubernetes 1.2 is not shipped; supported:" in err
    (tmp_path / ".gate.yaml").write_text("kubernetesVersion: '1.2'\n")
    proc = gate_cli("check", "--offline", "--policy", str(tmp_path / ".gate.yaml"), "examples/incident")
    assert proc.returncode == 2 and "policy kubernetesVersion 1.2: Kubernetes 1.2 is not shipped" in proc.stderr.decode()
