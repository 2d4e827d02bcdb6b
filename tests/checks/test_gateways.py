"""Gateway listeners, routes and controller profiles (gate/checks/gateways.py, listeners.py)."""

from __future__ import annotations

import pytest
from conftest import check_text, ids, write

GATEWAY = """apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw
  namespace: infra
spec:
  gatewayClassName: traefik
  listeners:
  - name: web
    protocol: HTTP
    port: {port}
    allowedRoutes:
      namespaces:
{allowed}
  - name: app-https
    protocol: HTTPS
    port: 8443
    hostname: app.example.com
    tls:
      certificateRefs:
      - name: app-tls
"""
ROUTE = """---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: app
  namespace: shop
spec:
  parentRefs:
  - name: gw
    namespace: infra
    sectionName: web
  hostnames: [app.example.com]
"""


def gateway(port=8000, allowed="        from: All"):
    return GATEWAY.format(port=port, allowed=allowed)


def policy(tmp_path, text: str) -> str:
    return str(write(tmp_path, "policy.yaml", text))


def test_traefik_profile_requires_entrypoint_ports(tmp_path):
    """With gatewayController: traefik a listener port that is no entryPoint port is gateway-invalid; generic is silent."""
    render = gateway(port=80)
    assert "gateway-invalid" not in ids(check_text(tmp_path, render))
    report = check_text(tmp_path, render, policy=policy(tmp_path, "gatewayController: traefik\n"))
    invalid, = [f for f in report.findings if f.check == "gateway-invalid"]
    assert "port 80" in invalid.message and "PortUnavailable" in invalid.message
    # Traefik without a version: whether the other listener goes down with it is not known
    assert "the listener is not Programmed (Accepted=False)" in invalid.message
    old = check_text(tmp_path, render, policy=policy(tmp_path, "gatewayController: {name: traefik, version: '3.0.4'}\n"))
    invalid, = [f for f in old.findings if f.check == "gateway-invalid"]
    assert "Traefik 3.0.4 drops the whole Gateway, taking its other listener down with it" in invalid.message
    custom = policy(tmp_path, "gatewayController: traefik\ntraefik:\n  entryPoints: {http: 80}\n")
    assert "gateway-invalid" not in ids(check_text(tmp_path, render, policy=custom))


def test_blast_radius_wording_follows_the_controller(tmp_path):
    """listener-secret-missing states the known controller's blast radius, or the range when unknown."""
    unknown = check_text(tmp_path, gateway())
    missing, = [f for f in unknown.findings if f.check == "listener-secret-missing"]
    assert "1 listener on a spec-conformant controller; all 2 listeners of Gateway infra/gw on Traefik < 3.1" \
        in missing.message
    generic = check_text(tmp_path, gateway(), policy=policy(tmp_path, "gatewayController: generic\n"))
    missing, = [f for f in generic.findings if f.check == "listener-secret-missing"]
    assert "only this listener stops; the other listener of Gateway infra/gw keeps serving" in missing.message
    traefik = check_text(tmp_path, gateway(), policy=policy(tmp_path, "gatewayController: {name: traefik, "
                                                                      "version: '2.11.0'}\n"))
    missing, = [f for f in traefik.findings if f.check == "listener-secret-missing"]
    assert "on Traefik 2.11.0 (policy gatewayController) its other listener of Gateway infra/gw stops serving" \
        in missing.message


def test_counts_in_messages_read_as_english(tmp_path):
    """One other listener is "its other listener", never "all 1" nor "1 other listeners"; a lone listener has no
    "0 other listeners"."""
    generic = check_text(tmp_path, gateway(), policy=policy(tmp_path, "gatewayController: generic\n"))
    missing, = [f for f in generic.findings if f.check == "listener-secret-missing"]
    assert "the other listener of Gateway infra/gw keeps serving" in missing.message
    assert "all 1" not in missing.message and "1 other listeners" not in missing.message
    alone = gateway(port=80).split("  - name: app-https")[0]
    report = check_text(tmp_path, alone, policy=policy(tmp_path, "gatewayController: {name: traefik, version: "
                                                                 "'3.0.4'}\n"))
    invalid, = [f for f in report.findings if f.check == "gateway-invalid"]
    assert invalid.message.endswith("PortUnavailable; the listener is not Programmed (Accepted=False)")
    assert "0 other" not in invalid.message


def test_unknown_controller_is_a_policy_error(tmp_path):
    """gatewayController accepts only the documented profiles."""
    from gate.checks import CHECKS
    from gate.policy import PolicyError, load_policy
    with pytest.raises(PolicyError, match="gatewayController"):
        load_policy(policy(tmp_path, "gatewayController: haproxy\n"), CHECKS)


@pytest.mark.parametrize(("allowed", "attaches"), [
    ("        from: Same", False),
    ("        from: All", True),
    ("        from: Selector\n        selector:\n          matchLabels: {kubernetes.io/metadata.name: shop}", True),
    ("        from: Selector\n        selector:\n          matchLabels: {kubernetes.io/metadata.name: infra}", False),
    ("        from: Selector\n        selector:\n          matchExpressions:\n"
     "          - {key: kubernetes.io/metadata.name, operator: In, values: [shop, blog]}", True),
])
def test_allowed_routes_namespaces(tmp_path, allowed, attaches):
    """Same admits only the Gateway's namespace, All any, Selector by labels incl. kubernetes.io/metadata.name."""
    report = check_text(tmp_path, gateway(allowed=allowed) + ROUTE)
    assert ("route-parent-missing" not in ids(report)) is attaches


def test_solver_route_needs_the_same_admission(tmp_path):
    """The HTTP-01 solver route (in the Certificate's namespace) is refused by a listener that only admits Same."""
    issuer = ("---\napiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: le}\nspec:\n  acme:\n"
              "    server: https://acme.example/directory\n    solvers:\n    - http01:\n        gatewayHTTPRoute:\n"
              "          parentRefs: [{name: gw, namespace: infra, sectionName: web}]\n")
    cert = ("---\napiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: app-tls, namespace: shop}\n"
            "spec: {secretName: app-tls, dnsNames: [app.example.com], issuerRef: {name: le, kind: ClusterIssuer}}\n")
    refused = check_text(tmp_path, gateway(allowed="        from: Same") + issuer + cert)
    hit, = [f for f in refused.findings if f.check == "http01-solver-unroutable"]
    assert "no listener admits routes from namespace 'shop'" in hit.message and hit.hostname == "app.example.com"
    assert "http01-solver-unroutable" not in ids(check_text(tmp_path, gateway() + issuer + cert))


def test_blast_radius_threshold_comes_from_the_policy(tmp_path):
    """gateway.blastRadiusListeners raises the bar: 13 listeners warn at 10, not at 20."""
    listeners = "".join(f"  - {{name: l{i}, protocol: HTTPS, port: 443, hostname: h{i}.example.com, "
                        f"tls: {{certificateRefs: [{{name: h{i}-tls}}]}}}}\n" for i in range(13))
    render = ("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: infra}\n"
              "spec:\n  gatewayClassName: example\n  listeners:\n" + listeners)
    state = write(tmp_path, "state.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: h0-tls, namespace: infra}\n")
    report = check_text(tmp_path, render, cluster_state=[str(state)])
    warned = [f for f in report.findings if f.check == "gateway-blast-radius"]
    assert len(warned) == 12 and all(f.severity == "warning" for f in warned)
    assert "all 13 listeners" in warned[0].message
    quiet = check_text(tmp_path, render, cluster_state=[str(state)],
                       policy=policy(tmp_path, "gateway: {blastRadiusListeners: 20}\n"))
    assert "gateway-blast-radius" not in ids(quiet)
    assert "gateway-blast-radius" not in ids(check_text(tmp_path, render))  # no cluster state: cannot tell new


def test_pending_follows_argo_steps(tmp_path):
    """A Certificate in a PreSync hook or an earlier wave is waited for; in a later wave it is pending."""
    cert = ("---\napiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata:\n  name: app-tls\n  namespace: infra\n"
            "  annotations: {{{ann}}}\nspec: {{secretName: app-tls, dnsNames: [app.example.com], "
            "issuerRef: {{name: le, kind: ClusterIssuer}}}}\n")
    pending = lambda ann: "listener-secret-pending" in ids(check_text(tmp_path, gateway() + cert.format(ann=ann)))
    assert pending('argocd.argoproj.io/sync-wave: "3"')
    assert not pending('argocd.argoproj.io/sync-wave: "-1"')
    assert not pending("argocd.argoproj.io/hook: PreSync")


def test_incident_with_the_traefik_profile_names_the_whole_gateway(tmp_path):
    """On the incident with Traefik < 3.1, each pending listener takes the 23 others down."""
    from conftest import EXAMPLES

    from gate.run import RunConfig, run
    report = run(RunConfig(paths=[str(EXAMPLES / "incident")], offline=True,
                           policy=policy(tmp_path, "gatewayController: {name: traefik, version: v3.0.1}\n")))
    pending = [f for f in report.findings if f.check == "listener-secret-pending"]
    assert len(pending) == 3
    assert all("on Traefik 3.0.1 (policy gatewayController) its 23 other listeners of Gateway traefik/traefik-gateway "
               "stop serving with it" in f.message for f in pending)
    assert "gateway-invalid" not in ids(report)  # 8000 and 8443 are the default entryPoints
