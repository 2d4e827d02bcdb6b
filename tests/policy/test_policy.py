"""Policy files, exemptions and suppression annotations."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from conftest import check_text, gate_cli, ids, write

from gate.checks import ALL_CHECK_IDS, CHECKS
from gate.policy import PolicyError, _read_yaml, default_policy_path, load_policy, validate
from gate.run import RunConfig, run

ROUTE = """apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
  namespace: shop
  annotations: {annotations}
spec:
  rules:
  - backendRefs:
    - name: web
      port: 80
"""


def policy_file(tmp_path, text):
    return str(write(tmp_path, "policy.yaml", text))


@pytest.mark.parametrize("text, expected", [
    ("checks:\n  no-such-check: error\n", "checks.no-such-check: 'no-such-check' is not a check id"),
    ("checks:\n  route-backend-missing: fatal\n", "checks.route-backend-missing: 'fatal' is not one of"),
    ("colour: blue\n", "unknown key ('colour' was unexpected)"),
    ("exemptions:\n- check: route-backend-missing\n", "exemptions.0: 'reason' is a required property"),
    ("exemptions:\n- check: route-backend-missing\n  reason: x\n  expires: soon\n", "exemptions.0.expires"),
    ("exemptions:\n- check: nope\n  reason: x\n", "exemptions.0.check: 'nope' is not a check id"),
    ("loadBalancer:\n  hostnames: lb.example.com\n", "loadBalancer.hostnames: 'lb.example.com' is not of type 'array'"),
    ("unresolvedReferences: maybe\n", "unresolvedReferences: 'maybe' is not one of"),
    ("- a list\n", "(top level): must be a mapping"),
])
def test_invalid_policy_names_the_key_path(tmp_path, text, expected):
    """Unknown keys, unknown check ids and wrong types are errors that name where they are."""
    with pytest.raises(PolicyError) as error:
        load_policy(policy_file(tmp_path, text), CHECKS)
    assert expected in str(error.value)


def test_policy_validate_command_exit_codes(tmp_path):
    """`gate policy validate` exits 0 for a valid file and 2, with the path, for an invalid one."""
    good = policy_file(tmp_path, "checks:\n  sync-wave-order: warning\n")
    assert gate_cli("policy", "validate", good).returncode == 0
    bad = write(tmp_path, "bad.yaml", "checks:\n  sync-wave-ordr: warning\n")
    proc = gate_cli("policy", "validate", str(bad))
    assert proc.returncode == 2 and b"checks.sync-wave-ordr" in proc.stderr


def test_invalid_policy_fails_check_with_exit_2(tmp_path):
    """`gate check --policy BAD` stops with exit 2 before reporting anything."""
    bad = policy_file(tmp_path, "checks: [oops]\n")
    render = write(tmp_path, "r.yaml", ROUTE.format(annotations="{}"))
    proc = gate_cli("check", "--offline", "--policy", bad, str(render))
    assert proc.returncode == 2 and b"checks: ['oops'] is not of type 'object'" in proc.stderr


def test_shipped_default_policy_is_valid():
    """policies/default.yaml validates against the schema (a run reads it without validating: this test is
    what holds it) and is what a run starts from."""
    document, _ = _read_yaml(default_policy_path())  # duplicate keys are refused here already
    validate(document, ALL_CHECK_IDS, str(default_policy_path()))
    policy = load_policy(None, ALL_CHECK_IDS, cwd=Path("/nonexistent"))
    assert policy.settings == document and policy.path is None
    assert policy.settings["unresolvedReferences"] == "error"


def test_dot_gate_yaml_is_found_in_the_working_directory(tmp_path, monkeypatch):
    """.gate.yaml in the current folder applies without --policy."""
    write(tmp_path, ".gate.yaml", "checks:\n  route-backend-missing: warning\n")
    write(tmp_path, "r.yaml", ROUTE.format(annotations="{}"))
    monkeypatch.chdir(tmp_path)
    report = run(RunConfig(paths=["r.yaml"], offline=True))
    assert [(f.check, f.severity) for f in report.findings] == [("route-backend-missing", "warning")]
    assert report.passed and report.policy_path.endswith(".gate.yaml")


def test_severity_off_disables_the_check(tmp_path):
    """`off` removes a check from the run."""
    report = check_text(tmp_path, ROUTE.format(annotations="{}"),
                        policy=policy_file(tmp_path, "checks:\n  route-backend-missing: off\n"))
    assert ids(report) == [] and "route-backend-missing" not in [c.id for c in report.checks]


def test_unresolved_references_setting_downgrades_missing_objects(tmp_path):
    """unresolvedReferences: warning turns 'points at nothing' checks into warnings."""
    report = check_text(tmp_path, ROUTE.format(annotations="{}"),
                        policy=policy_file(tmp_path, "unresolvedReferences: warning\n"))
    assert [(f.check, f.severity) for f in report.findings] == [("route-backend-missing", "warning")]


def test_exemption_matches_kind_namespace_name_with_globs(tmp_path):
    """A matching exemption moves the finding to `suppressed` with its reason; others stay."""
    render = ROUTE.format(annotations="{}") + "---\n" + ROUTE.format(annotations="{}").replace("shop", "blog")
    policy = policy_file(tmp_path, "exemptions:\n- check: route-backend-*\n  kind: HTTPRoute\n"
                                   "  namespace: sh*\n  reason: backend lives in another cluster\n")
    report = check_text(tmp_path, render, policy=policy)
    assert [f.namespace for f in report.findings] == ["blog"]
    assert [(s.finding.namespace, s.reason, s.by) for s in report.suppressed] == [
        ("shop", "backend lives in another cluster", "policy")]


def test_expired_exemption_stops_applying_and_is_reported(tmp_path):
    """An exemption past `expires` no longer silences, and is itself a finding at its policy line."""
    policy = policy_file(tmp_path, "# team policy\nexemptions:\n- check: route-backend-missing\n"
                                   "  reason: temporary\n  expires: 2026-01-31\n")
    report = check_text(tmp_path, ROUTE.format(annotations="{}"), policy=policy, today=dt.date(2026, 2, 1))
    assert sorted(ids(report)) == ["exemption-expired", "route-backend-missing"]
    expired = next(f for f in report.findings if f.check == "exemption-expired")
    assert expired.file == policy and expired.line == 3 and "2026-01-31" in expired.message
    still_valid = check_text(tmp_path, ROUTE.format(annotations="{}"), policy=policy, today=dt.date(2026, 1, 31))
    assert ids(still_valid) == []


def test_annotation_with_reason_suppresses(tmp_path):
    """gate.ingress-gate.dev/ignore-<id> with a reason silences that check on that resource."""
    report = check_text(tmp_path, ROUTE.format(
        annotations='{"gate.ingress-gate.dev/ignore-route-backend-missing": "service is in another cluster"}'))
    assert ids(report) == []
    assert [(s.finding.check, s.by) for s in report.suppressed] == [("route-backend-missing", "annotation")]


def test_annotation_without_reason_does_not_count(tmp_path):
    """An empty reason leaves the check active and is reported as suppression-invalid."""
    report = check_text(tmp_path, ROUTE.format(
        annotations='{"gate.ingress-gate.dev/ignore-route-backend-missing": " "}'))
    assert sorted(ids(report)) == ["route-backend-missing", "suppression-invalid"]


def test_annotation_on_pod_template_is_honoured(tmp_path):
    """The annotation on spec.template.metadata of a workload silences that workload's findings."""
    render = """
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      namespace: shop
      annotations:
        argocd.argoproj.io/sync-wave: "soon"
    spec:
      selector:
        matchLabels: {app: web}
      template:
        metadata:
          labels: {app: web}
          annotations:
            gate.ingress-gate.dev/ignore-sync-wave-invalid: "migrating waves next sprint"
        spec:
          containers:
          - name: web
            image: registry.example.com/web:1.0.0
    """
    report = check_text(tmp_path, render)
    assert ids(report) == [] and [s.finding.check for s in report.suppressed] == ["sync-wave-invalid"]


def test_unresolved_references_setting_leaves_other_faults_of_those_checks_alone(tmp_path):
    """unresolvedReferences: warning downgrades a missing Service, not a wrong port on an existing one."""
    render = """
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata: {name: web, namespace: shop}
    spec:
      rules:
      - http:
          paths:
          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 8080}}}}
          - {path: /api, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: web, namespace: shop}
    spec: {ports: [{port: 80}]}
    """
    report = check_text(tmp_path, render, policy=policy_file(tmp_path, "unresolvedReferences: warning\n"))
    found = sorted((f.check, f.severity, "does not expose" in f.message) for f in report.findings
                   if f.check == "ingress-backend-missing")
    assert found == [("ingress-backend-missing", "error", True), ("ingress-backend-missing", "warning", False)]


def test_duplicate_key_in_policy_is_an_error_naming_the_key_and_both_lines(tmp_path):
    """A second `checks:` block must not silently replace the first: exit 2, the key and both lines."""
    bad = policy_file(tmp_path, "checks:\n  image-tag-mutable: warning\nexemptions: []\nchecks:\n"
                                "  route-backend-missing: warning\n")
    with pytest.raises(PolicyError) as error:
        load_policy(bad, CHECKS)
    assert "key 'checks' appears twice, at lines 1 and 4" in str(error.value)
    nested = str(write(tmp_path, "nested.yaml", "checks:\n  sync-wave-order: warning\n  sync-wave-order: off\n"))
    with pytest.raises(PolicyError) as error:
        load_policy(nested, CHECKS)
    assert "key 'sync-wave-order' (in checks) appears twice, at lines 2 and 3" in str(error.value)
    render = write(tmp_path, "r.yaml", ROUTE.format(annotations="{}"))
    proc = gate_cli("check", "--offline", "--policy", bad, str(render))
    assert proc.returncode == 2 and b"'checks' appears twice, at lines 1 and 4" in proc.stderr
