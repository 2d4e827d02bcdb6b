"""`gate audit` on snapshots written as `kubectl get -o yaml` writes them: the incident's live state,
a healthy cluster, and small states for each finding's edges."""

from __future__ import annotations

import copy
import datetime as dt
import json

import live_state
import pytest
import yaml
from audit_fixtures import healthy_snapshot, incident_snapshot  # noqa: F401 - fixtures
from conftest import ROOT, gate_cli

from gate.audit.run import audit
from gate.checks import AUDIT_CHECKS, CHECKS
from gate.config import AuditOptions, ClusterOptions, RunConfig, UsageError
from gate.run import run

NOW = "2026-03-23T09:20:00Z"
NEW = live_state.NEW

# The incident's findings, exactly: (check, severity, kind, namespace, name)
INCIDENT = sorted(
    [("certmanager-gateway-api-disabled", "error", "Deployment", "cert-manager", "cert-manager"),
     ("gateway-not-accepted", "error", "Gateway", "traefik", "traefik-gateway")]
    + [("gateway-listener-unresolved", "error", "Gateway", "traefik", "traefik-gateway")] * 4
    + [row for ns, (host, secret, backend, _) in NEW.items() for row in (
        ("certificate-not-ready", "error", "Certificate", ns, secret),
        ("challenge-stuck", "error", "Challenge", ns, "CHALLENGE"),
        ("solver-route-leak", "error", "Challenge", ns, "CHALLENGE"),
        ("route-not-accepted", "error", "HTTPRoute", ns, backend.replace("-web", "-route")))])


def config(*paths, **options) -> RunConfig:
    options.setdefault("now", dt.datetime(2026, 3, 23, 9, 20, tzinfo=dt.timezone.utc))
    return RunConfig(cluster=ClusterOptions(state_paths=tuple(map(str, paths))), **options)


def rows(report) -> list[tuple[str, str, str, str, str]]:
    out = []
    for f in report.findings:
        name = "CHALLENGE" if f.kind == "Challenge" else f.name
        out.append((f.check, f.severity, f.kind, f.namespace, name))
    return sorted(out)


def write(tmp_path, objects, name="state.yaml"):
    path = tmp_path / name
    path.write_text(live_state.kubectl_yaml(objects), encoding="utf-8")
    return path


def test_incident_snapshot_gives_exactly_the_incident_findings(incident_snapshot):
    """22,514 leaked routes of 4 Challenges, 4 stuck Challenges, 4 listeners without Secret, ...: exactly these."""
    result = audit(config(incident_snapshot))
    report = result.report
    assert report.errors == []
    assert rows(report) == INCIDENT
    assert report.exit_code == 1
    by_check = {}
    for f in report.findings:
        by_check.setdefault(f.check, []).append(f)
    leaks = {f.namespace: f.message for f in by_check["solver-route-leak"]}
    for ns, (host, _, _, count) in NEW.items():
        assert f"{count:,} solver HTTPRoutes for Challenge {ns}/" in leaks[ns]
        assert f"({host}), where cert-manager keeps one" in leaks[ns]
        assert f"namespace {ns} holds {count:,} solver routes (policy audit.solverRoutesPerNamespace: 20)" in leaks[ns]
        assert "oldest 2026-03-22T15:00:13Z, newest 2026-03-23T09:19:2" in leaks[ns]
        assert "cert-manager v1.15.1 (Deployment cert-manager/cert-manager) runs without Gateway API support" in leaks[ns]
    assert "+297/h" in leaks["acme-pay-production"]  # 5,444 intervals over 18h19m
    stuck = by_check["challenge-stuck"][0]
    assert stuck.message.startswith("pending for 18h 19m (since 2026-03-22T15:00:05Z; policy audit.challengeStuckAfter: "
                                    "15m) for pay.example.com: reason \"Waiting for HTTP-01 challenge propagation: "
                                    "failed to perform self check GET request 'http://pay.example.com/")
    assert "no such host\" -- DNS: the name does not resolve" in stuck.message
    listener = next(f for f in by_check["gateway-listener-unresolved"] if f.hostname == "pay.example.com")
    assert "listener 'pay-https' (pay.example.com): ResolvedRefs=False InvalidCertificateRef" in listener.message
    assert "Secret acme-pay-production/pay-tls does not exist" in listener.message
    assert "on Traefik 3.6.6 (GatewayClass traefik, image of Deployment traefik/traefik) only this listener stops; " \
           "the 23 other listeners of Gateway traefik/traefik-gateway keep serving" in listener.message
    assert "Argo CD reads the Gateway as Degraded" in listener.message
    gateway = by_check["gateway-not-accepted"][0]
    assert "Accepted=False ListenersNotValid" in gateway.message and "its valid listeners keep serving" in gateway.message
    cert = next(f for f in by_check["certificate-not-ready"] if f.namespace == "acme-pay-production")
    assert "Issuing for 18h 19m" in cert.message and "Argo CD health Progressing" in cert.message
    assert ("chain: Certificate acme-pay-production/pay-tls -> CertificateRequest acme-pay-production/pay-tls-1 "
            "(Pending) -> Order acme-pay-production/pay-tls-1-") in cert.message
    assert cert.message.endswith("(pending)")
    # Each finding has the line of its object in the snapshot, not the List's first line.
    assert all(f.line > 1 for f in report.findings)


def test_incident_checklist_groups_by_hostname(incident_snapshot):
    """pay.example.com shows every live problem on one screen; the 19 live services pass."""
    report = audit(config(incident_snapshot)).report
    services = {s.hostname: s for s in report.services}
    assert len(services) == 23 and report.unassigned == []
    pay = services["pay.example.com"]
    assert [(i.label, i.status) for i in pay.items] == [
        ("cert-manager runs with the Gateway API support its solver needs", "fail"),
        ("Certificate is Ready", "fail"), ("ACME Challenges complete", "fail"),
        ("Solver routes: one per Challenge, owner and backend alive", "fail"),
        ("Gateway is accepted by its controller", "fail"),
        ("Gateway listener resolves its TLS Secret", "fail"), ("Route is accepted by its Gateway", "fail")]
    shop = services["shop.example.com"]
    # Traefik >= 3.1 keeps the valid listeners serving: the Gateway's Accepted=False is not shop's problem.
    assert [(i.label, i.status) for i in shop.items] == [
        ("Certificate is Ready", "pass"), ("Gateway listener resolves its TLS Secret", "pass"),
        ("Route is accepted by its Gateway", "pass")]
    assert sum(report.fails(s) for s in report.services) == 4


def test_healthy_snapshot_passes_with_nothing_found(healthy_snapshot):
    """The fixed cluster: no finding, every line of the 23 services checked and passing."""
    report = audit(config(healthy_snapshot)).report
    assert report.findings == [] and report.errors == [] and report.exit_code == 0
    assert len(report.services) == 23
    assert all(item.status == "pass" for s in report.services for item in s.items)
    assert all(s.items for s in report.services)


def test_cli_json_exit_code_and_no_secret_data(incident_snapshot):
    """The CLI exits 1 on the incident, JSON carries the findings; Secret data and pod env never appear."""
    proc = gate_cli("audit", "--cluster-state", str(incident_snapshot), "--now", NOW, "--format", "json",
                    "--format", "text=/dev/null", timeout=120)
    assert proc.returncode == 1, proc.stderr.decode()
    report = json.loads(proc.stdout)
    assert report["verdict"] == "failed" and len(report["findings"]) == len(INCIDENT)
    assert {f["check"] for f in report["findings"]} == {r[0] for r in INCIDENT}
    output = proc.stdout + proc.stderr
    assert b"bGl2ZS1rZXk" not in output and b"pod-env-secret-5e1f" not in output


def test_cli_healthy_exits_zero_and_fail_on_warning(tmp_path, healthy_snapshot):
    """Exit codes as gate check: 0 healthy; a warning fails only with --fail-on warning; 2 without input."""
    assert gate_cli("audit", "--cluster-state", str(healthy_snapshot), "--now", NOW).returncode == 0
    young = live_state.healthy()
    # A Certificate issuing for 2 minutes: a warning, not an error.
    fresh = copy.deepcopy(next(o for o in young if o["kind"] == "Certificate"))
    fresh["metadata"]["name"] = "new-tls"
    fresh["status"]["conditions"] = [
        live_state.cond("Ready", "False", "DoesNotExist", "Issuing certificate as Secret does not exist",
                        live_state.NOW - dt.timedelta(minutes=2)),
        live_state.cond("Issuing", "True", "DoesNotExist", "Issuing certificate as Secret does not exist",
                        live_state.NOW - dt.timedelta(minutes=2))]
    path = write(tmp_path, [*young, fresh])
    assert gate_cli("audit", "--cluster-state", str(path), "--now", NOW).returncode == 0
    proc = gate_cli("audit", "--cluster-state", str(path), "--now", NOW, "--fail-on", "warning", "--format", "json")
    assert proc.returncode == 1
    found = json.loads(proc.stdout)["findings"]
    assert [(f["check"], f["severity"], f["resource"]["name"]) for f in found] == [
        ("certificate-not-ready", "warning", "new-tls")]
    assert gate_cli("audit").returncode == 2
    empty = tmp_path / "empty.yaml"
    empty.write_text("apiVersion: v1\nitems: []\nkind: List\nmetadata:\n  resourceVersion: \"\"\n")
    proc = gate_cli("audit", "--cluster-state", str(empty))
    assert proc.returncode == 2 and b"nothing to audit" in proc.stderr


def test_pipelines_stay_apart(incident_snapshot):
    """gate check never runs audit checks and gate audit never runs check checks; ids name the other command."""
    report = run(RunConfig(paths=[str(ROOT / "examples/incident")], offline=True))
    assert not {f.check for f in report.findings} & (set(AUDIT_CHECKS) - set(CHECKS))
    assert all(c.pipeline == "check" for c in report.checks)
    result = audit(config(incident_snapshot, include=("solver-route-leak",)))
    assert {f.check for f in result.report.findings} == {"solver-route-leak"}
    with pytest.raises(UsageError, match="listener-secret-missing runs in `gate check`"):
        audit(config(incident_snapshot, include=("listener-secret-missing",)))
    with pytest.raises(UsageError, match="solver-route-leak runs in `gate audit`"):
        run(RunConfig(paths=[str(ROOT / "examples/incident")], offline=True, include=("solver-route-leak",)))
    listed = json.loads(gate_cli("checks", "--format", "json").stdout)
    assert [c["id"] for c in listed if c["pipeline"] == "audit"] == list(AUDIT_CHECKS)
    assert [c["id"] for c in listed if c["pipeline"] == "check"] == list(CHECKS)


def test_namespace_scope_keeps_platform_objects(incident_snapshot):
    """--namespace audits one namespace's objects; the shared Gateway and the controllers are still judged whole."""
    report = audit(config(incident_snapshot, audit=AuditOptions(namespaces=("acme-pay-production",)))).report
    namespaces = {f.namespace for f in report.findings}
    assert namespaces == {"acme-pay-production", "traefik", "cert-manager"}
    assert sorted(f.check for f in report.findings if f.namespace == "acme-pay-production") == [
        "certificate-not-ready", "challenge-stuck", "route-not-accepted", "solver-route-leak"]
    assert len([f for f in report.findings if f.check == "gateway-listener-unresolved"]) == 4


def _small_incident(routes: int = 3) -> list[dict]:
    return live_state.incident({ns: routes for ns in NEW})


def test_orphans_owner_gone_final_and_backend_gone(tmp_path):
    """Routes whose Challenge is gone, is final, or whose Service is gone are orphans (grouped per cause)."""
    objects = _small_incident(1)
    challenges = [o for o in objects if o["kind"] == "Challenge"]
    services = [o for o in objects if o["kind"] == "Service" and o["metadata"]["name"].startswith("cm-acme")]
    objects.remove(challenges[0])  # acme-pay-production: owner gone
    challenges[1]["status"]["state"] = "invalid"  # acme-pay-sandbox: owner final
    objects.remove(services[2])  # acme-rbac-production: backend gone
    report = audit(config(write(tmp_path, objects), include=("solver-route-orphan",))).report
    got = sorted((f.namespace, f.severity, f.message.split(") ", 1)[1]) for f in report.findings)
    pay_challenge = challenges[0]["metadata"]["name"]
    sandbox_challenge = challenges[1]["metadata"]["name"]
    assert got == [
        ("acme-pay-production", "warning", f"is owned by Challenge acme-pay-production/{pay_challenge}, which is gone"),
        ("acme-pay-sandbox", "warning", f"is owned by Challenge acme-pay-sandbox/{sandbox_challenge}, which is invalid"),
        ("acme-rbac-production", "warning",
         f"points at Service acme-rbac-production/{services[2]['metadata']['name']}, which is gone")]


def test_orphan_on_old_traefik_says_the_whole_gateway_drops(tmp_path):
    """On Traefik 3.0 a solver route to a missing Service drops the whole Gateway (traefik #9158)."""
    objects = _small_incident(1)
    for o in objects:
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "traefik":
            o["spec"]["template"]["spec"]["containers"][0]["image"] = "docker.io/traefik:v3.0.4"
    objects = [o for o in objects if not (o["kind"] == "Service" and o["metadata"]["namespace"] == "acme-rbac-sandbox"
                                          and o["metadata"]["name"].startswith("cm-acme"))]
    report = audit(config(write(tmp_path, objects), include=("solver-route-orphan",))).report
    (finding,) = report.findings
    assert "on Traefik 3.0.4 a route to a missing Service drops the whole Gateway's configuration" in finding.message


def test_namespace_over_the_limit_without_a_leak_per_challenge(tmp_path):
    """25 Challenges with one route each in one namespace: over the policy's 20, one finding for the namespace."""
    objects = _small_incident(1)
    template = next(o for o in objects if o["kind"] == "Challenge" and o["metadata"]["namespace"] == "acme-pay-production")
    route = next(o for o in objects if o["kind"] == "HTTPRoute" and o["metadata"]["namespace"] == "acme-pay-production"
                 and o["metadata"]["name"].startswith("cm-acme-http-solver"))
    for i in range(24):
        challenge = copy.deepcopy(template)
        challenge["metadata"]["name"] += f"-{i}"
        challenge["metadata"]["uid"] = live_state.uid("c", i)
        extra = copy.deepcopy(route)
        extra["metadata"]["name"] = live_state.generated("cm-acme-http-solver", 1000 + i)
        extra["metadata"]["ownerReferences"][0].update(name=challenge["metadata"]["name"],
                                                       uid=challenge["metadata"]["uid"])
        objects += [challenge, extra]
    path = write(tmp_path, objects)
    report = audit(config(path, include=("solver-route-leak",))).report
    (finding,) = report.findings
    assert finding.kind == "HTTPRoute" and finding.hostname == "pay.example.com"
    assert finding.message.startswith("namespace acme-pay-production holds 25 solver HTTPRoutes for 25 Challenges, "
                                      "more than the policy's audit.solverRoutesPerNamespace (20)")
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\naudit:\n  solverRoutesPerNamespace: 30\n")
    assert audit(config(path, include=("solver-route-leak",), policy=str(policy))).report.findings == []


def test_backoff_next_attempt_and_young_challenges(tmp_path):
    """After 3 failed requests the next attempt is 4h after lastFailureTime (capped at 32h); a fresh Challenge is not stuck."""
    objects = _small_incident(1)
    certs = [o for o in objects if o["kind"] == "Certificate" and o["metadata"]["namespace"] in NEW]
    certs[0]["status"].update(failedIssuanceAttempts=3, lastFailureTime="2026-03-23T07:00:00Z")
    certs[0]["status"]["conditions"] = [live_state.cond("Ready", "False", "Failed", "The certificate request has "
                                                        "failed to complete and will be retried",
                                                        live_state.NOW - dt.timedelta(hours=2, minutes=20))]
    certs[1]["status"].update(failedIssuanceAttempts=7, lastFailureTime="2026-03-23T07:00:00Z")
    for challenge in (o for o in objects if o["kind"] == "Challenge"):
        challenge["metadata"]["creationTimestamp"] = "2026-03-23T09:10:00Z"  # 10 minutes old
    report = audit(config(write(tmp_path, objects), include=("certificate-not-ready", "challenge-stuck"))).report
    messages = {f.namespace: f.message for f in report.findings if f.check == "certificate-not-ready"}
    assert "failedIssuanceAttempts 3; lastFailureTime 2026-03-23T07:00:00Z; next attempt 2026-03-23T11:00:00Z " \
           "(in 1h 40m) under cert-manager's backoff; Argo CD health Degraded" in messages["acme-pay-production"]
    assert "next attempt 2026-03-24T15:00:00Z (in 1d 05h)" in messages["acme-pay-sandbox"]
    assert not [f for f in report.findings if f.check == "challenge-stuck"]


def test_routes_not_accepted_are_reported_per_parent_and_solver_routes_grouped(tmp_path):
    """A route rejected by its parent is one finding with the reason; solver routes with one cause are one."""
    objects = _small_incident(5)
    app = next(o for o in objects if o["kind"] == "HTTPRoute" and o["metadata"]["name"] == "shop-route")
    app["status"]["parents"][0]["conditions"][0] = live_state.cond(
        "Accepted", "False", "NoMatchingListenerHostname", "No matching listener hostname", live_state.NOW)
    for o in objects:
        if o["kind"] == "HTTPRoute" and o["metadata"]["namespace"] == "acme-rbac-sandbox" and "solver" in o["metadata"]["name"]:
            o["status"] = {"parents": [{"parentRef": live_state.GATEWAY, "controllerName": live_state.TRAEFIK,
                                        "conditions": [live_state.cond("Accepted", "False", "NotAllowedByListeners",
                                                                       "", live_state.NOW)]}]}
    report = audit(config(write(tmp_path, objects), include=("route-not-accepted",))).report
    got = {(f.namespace, f.name): f.message for f in report.findings}
    assert got[("shop", "shop-route")] == ("Accepted=False NoMatchingListenerHostname on parent "
                                           "traefik/traefik-gateway:shop-https: No matching listener hostname")
    solver = [m for (ns, _), m in got.items() if ns == "acme-rbac-sandbox" and "solver" in m]
    assert len(solver) == 1 and solver[0].startswith("5 solver HTTPRoutes in acme-rbac-sandbox (")
    assert solver[0].endswith("Accepted=False NotAllowedByListeners on parent traefik/traefik-gateway")


def test_fixed_cert_manager_is_not_reported_and_policy_knows_the_version(tmp_path):
    """cert-manager v1.15.2 with --enable-gateway-api: no certmanager-gateway-api-disabled; the live read wins."""
    objects = _small_incident(1)
    deployment = next(o for o in objects if o["metadata"]["name"] == "cert-manager")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["image"] = "quay.io/jetstack/cert-manager-controller:v1.15.2"
    container["args"].append("--enable-gateway-api")
    report = audit(config(write(tmp_path, objects), include=("certmanager-gateway-api-disabled",))).report
    assert report.findings == []


def test_snapshot_that_does_not_parse_is_an_input_error(tmp_path):
    """A broken snapshot exits 2 with its file and line, never a clean audit."""
    path = tmp_path / "broken.yaml"
    path.write_text("apiVersion: v1\nitems:\n- kind: [unclosed\nkind: List\n")
    proc = gate_cli("audit", "--cluster-state", str(path))
    assert proc.returncode == 2 and b"broken.yaml:4: YAML does not parse" in proc.stderr


def test_snapshot_is_real_kubectl_yaml(incident_snapshot):
    """The generated snapshot is one `kind: List` as kubectl writes it, and PyYAML reads the same objects."""
    text = incident_snapshot.read_text()
    assert text.startswith("apiVersion: v1\nitems:\n- apiVersion: apps/v1\n")
    assert text.endswith("kind: List\nmetadata:\n  resourceVersion: \"\"\n")
    loaded = yaml.load(text, Loader=yaml.CSafeLoader)
    routes = [i for i in loaded["items"] if i["kind"] == "HTTPRoute"
              and i["metadata"]["labels"].get("acme.cert-manager.io/http01-solver") == "true"]
    assert len(routes) == 22_514
    assert len({r["metadata"]["ownerReferences"][0]["uid"] for r in routes}) == 4
    assert all(isinstance(r["metadata"]["labels"]["acme.cert-manager.io/http-domain"], str) for r in routes[:50])
