"""Values of unexpected types where the index and the checks read a scalar: reported on their resource (or
ignored), and the run completes with every other finding."""

from __future__ import annotations

import pytest
from conftest import check_text, config_for, ids, write

from gate.run import run

GATEWAY = """apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw
  namespace: app
spec:
  gatewayClassName: x
  listeners:
  - name: {name}
    protocol: HTTP
    port: {port}
    allowedRoutes:
      namespaces: {{from: Selector, selector: {{matchExpressions: [{{key: {key}, operator: Exists}}]}}}}
      kinds: [{{kind: {kind}}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
  namespace: app
spec:
  parentRefs: [{{name: gw}}]
  rules:
  - backendRefs: [{{name: web, port: 80}}]
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: app
spec:
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: http}}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: app
spec:
  selector:
    matchLabels: {{app: web}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: web
        image: registry.example.com/web@sha256:{digest}
        ports: [{{name: {port_name}, containerPort: 8080}}]
"""


def render(name="web", port="80", kind="HTTPRoute", key="app", port_name="http") -> str:
    return GATEWAY.format(name=name, port=port, kind=kind, key=key, port_name=port_name, digest="0" * 64)


@pytest.mark.parametrize("field,value", [
    ("port", "[80]"), ("port", "{a: 80}"), ("port", "80.5"), ("port", "'80'"),
    ("kind", "[HTTPRoute]"), ("kind", "{a: 1}"),
    ("key", "[app]"), ("key", "{a: 1}"),
    ("port_name", "{a: http}"), ("port_name", "[http]"),
    ("name", "[web]"), ("name", "{a: 1}"),
])
def test_unexpected_type_is_reported_or_ignored_and_the_run_completes(tmp_path, field, value):
    report = check_text(tmp_path, render(**{field: value}))
    assert "manifest-invalid" not in ids(report)
    if field == "port":
        # a listener port that is no port number: the Gateway CRD's schema refuses it
        assert any(f.check == "schema-invalid" and "spec.listeners[0].port" in f.message for f in report.findings)


def test_known_gateway_listener_name_that_is_a_list(tmp_path):
    """gateway-blast-radius compares the rendered listeners with those of the Gateway known to exist."""
    listeners = "".join(f"  - name: l{i}\n    protocol: HTTPS\n    port: 443\n    hostname: l{i}.example.com\n"
                        f"    tls: {{certificateRefs: [{{name: s{i}}}]}}\n" for i in range(12))
    gateway = ("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  name: gw\n  namespace: app\n"
               "spec:\n  gatewayClassName: x\n  listeners:\n")
    path = write(tmp_path, "render.yaml", gateway + listeners)
    state = write(tmp_path, "state.yaml", gateway + "  - name: [l0]\n    port: 443\n    protocol: HTTPS\n"
                                                   "  - name: {a: 1}\n    port: 443\n    protocol: HTTPS\n")
    report = run(config_for([str(path)], cluster_state=[str(state)], offline=True))
    assert "gateway-blast-radius" in ids(report)


def test_integral_float_listener_port_is_a_port(tmp_path):
    assert not any("not a port number" in f.message for f in check_text(tmp_path, render(port="80.0")).findings)
