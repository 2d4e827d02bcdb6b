"""Controller, cert-manager and Argo CD semantics on whole renders: what breaks, and what does not."""

from __future__ import annotations

from conftest import EXAMPLES, check_text, write

from gate.run import RunConfig, run


def _policy(tmp_path, text: str) -> str:
    return str(write(tmp_path, "policy.yaml", "version: 1\n" + text))


def _pending(report) -> list:
    return [f for f in report.findings if f.check == "listener-secret-pending"]


def test_incident_on_traefik_3_6_6_detaches_only_the_listener(tmp_path):
    """Traefik v3.6.6 (the incident's): the message says only that listener stops, the 23 others serve."""
    report = run(RunConfig(paths=[str(EXAMPLES / "incident")], offline=True,
                           policy=_policy(tmp_path, "gatewayController: {name: traefik, version: '3.6.6'}\n")))
    pending = _pending(report)
    assert len(pending) == 3 and all(f.severity == "error" for f in pending)  # the multi-step sync fails
    assert all("on Traefik 3.6.6 (policy gatewayController) only this listener stops; the 23 other listeners"
               in f.message for f in pending)


def test_incident_on_traefik_3_0_4_takes_the_gateway_down(tmp_path):
    """Traefik v3.0.4: the missing Secrets take all 23 other listeners down."""
    report = run(RunConfig(paths=[str(EXAMPLES / "incident")], offline=True,
                           policy=_policy(tmp_path, "gatewayController: {name: traefik, version: '3.0.4'}\n")))
    assert all("its 23 other listeners of Gateway traefik/traefik-gateway stop serving with it" in f.message
               for f in _pending(report))


def test_incident_fails_on_cert_manager_without_gateway_api_and_healthy_passes():
    """The outage's cert-manager (v1.15.1, no --enable-gateway-api) is named; the healthy example passes."""
    incident = run(RunConfig(paths=[str(EXAMPLES / "incident")], offline=True))
    found = [f for f in incident.findings if f.check == "certmanager-gateway-api-disabled"]
    assert len(found) == 1 and found[0].severity == "error" and "v1.15.1" in found[0].message
    assert "one more solver HTTPRoute" in found[0].message
    healthy = run(RunConfig(paths=[str(EXAMPLES / "healthy")], offline=True))
    assert healthy.passed and healthy.findings == []


PLAIN_HTTPS = """
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: nginx}}
spec: {{controllerName: {controller}}}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {{name: le, namespace: web}}
spec:
  acme:
    server: https://acme-v02.api.letsencrypt.org/directory
    privateKeySecretRef: {{name: le-account}}
    solvers:
    - http01:
        gatewayHTTPRoute:
          parentRefs: [{{name: gw, namespace: web, sectionName: http}}]
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: cafe
  namespace: web{cert_wave}
spec:
  secretName: cafe-tls
  dnsNames: [cafe.example.com]
  issuerRef: {{name: le}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw
  namespace: web{gateway_wave}
spec:
  gatewayClassName: nginx
  listeners:
  - {{name: http, protocol: HTTP, port: 80, hostname: cafe.example.com}}
  - name: https
    protocol: HTTPS
    port: 443
    hostname: cafe.example.com
    tls:
      certificateRefs: [{{name: cafe-tls}}]
"""
NGINX = "gateway.nginx.org/nginx-gateway-controller"
WAVE = "\n  annotations: {{argocd.argoproj.io/sync-wave: '{}'}}"


def test_plain_https_render_on_a_conformant_controller_is_no_error(tmp_path):
    """One step, NGINX Gateway Fabric: the listener is briefly unresolved until issuance: info, not error."""
    report = check_text(tmp_path, PLAIN_HTTPS.format(controller=NGINX, cert_wave="", gateway_wave=""),
                        exclude=("certmanager-gateway-api-disabled",))
    assert [(f.check, f.severity) for f in _pending(report)] == [("listener-secret-pending", "info")]
    assert report.passed and not [f for f in report.findings if f.severity == "error"]


def test_plain_https_render_on_old_traefik_is_an_error(tmp_path):
    """One step, but Traefik < 3.1 drops the whole Gateway (and the HTTP-01 route with it) meanwhile."""
    report = check_text(tmp_path, PLAIN_HTTPS.format(controller="traefik.io/gateway-controller", cert_wave="",
                                                     gateway_wave=""),
                        policy=_policy(tmp_path, "gatewayController: {name: traefik, version: '3.0.4'}\n"))
    pending = _pending(report)
    assert [f.severity for f in pending] == ["error"]
    assert "through this same Gateway, so the Certificate can never be issued" in pending[0].message


def test_multi_step_sync_with_the_gateway_first_fails_whatever_the_controller(tmp_path):
    """Gateway in wave 0, Certificate in wave 1: Argo CD 3.1+ marks the Gateway Degraded and fails the sync."""
    render = PLAIN_HTTPS.format(controller=NGINX, cert_wave=WAVE.format(1), gateway_wave=WAVE.format(0))
    pending = _pending(check_text(tmp_path, render))
    assert [f.severity for f in pending] == ["error"]
    assert "Degraded" in pending[0].message and "never applied" in pending[0].message


def test_multi_step_sync_with_the_certificate_first_waits_for_its_own_gateway(tmp_path):
    """Certificate in wave -1, its solver's Gateway in wave 0: no pending Secret, but a wait deadlock (with an
    empty cluster state consulted it is an error; without one the gate cannot tell and says so)."""
    render = PLAIN_HTTPS.format(controller=NGINX, cert_wave=WAVE.format(-1), gateway_wave=WAVE.format(0))
    unknown = check_text(tmp_path, render)
    assert _pending(unknown) == []
    deadlock = [f for f in unknown.findings if f.check == "certificate-wait-deadlock"]
    assert [(f.severity, f.unverified) for f in deadlock] == [("warning", True)]
    state = write(tmp_path, "state.yaml", "apiVersion: v1\nkind: List\nitems: []\n")
    known = check_text(tmp_path, render, cluster_state=[str(state)])
    assert [(f.check, f.severity) for f in known.findings if f.check == "certificate-wait-deadlock"] == [
        ("certificate-wait-deadlock", "error")]
