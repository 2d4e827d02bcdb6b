"""Hostile policy files: a policy error with a message and exit 2, never a traceback or a hang; numbers the
schema accepts are numbers the checks understand."""

from __future__ import annotations

import time

import pytest
from conftest import check_text, gate_cli, ids, write

from gate.checks import CHECKS
from gate.policy import PolicyError, load_policy

TRAEFIK_GATEWAY = """apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw
  namespace: infra
spec:
  gatewayClassName: traefik
  listeners:
  - name: web
    protocol: HTTP
    port: 8000
  - name: web2
    protocol: HTTP
    port: 8000.0
    hostname: b.example.com
"""


@pytest.mark.parametrize("text", [
    "gateway:\n  blastRadiusListeners: !!int abc\n",
    "gatewayController: !!bool maybe\n",
    "dns:\n  timeout: !!float x\n",
    "checks: !!set abc\n",
    "checks: !!map [a, b]\n",
    "gateway:\n  blastRadiusListeners: " + "9" * 5000 + "\n",
    "dns: " + "[" * 5000 + "]" * 5000 + "\n",
    "dns:\n" + "- " * 30000 + "x\n",
    ("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
     "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
     "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"),
], ids=["int", "bool", "float", "set", "map", "huge-int", "deep-flow", "deep-block", "alias-bomb"])
def test_hostile_policy_is_a_policy_error_with_exit_2(tmp_path, text):
    path = write(tmp_path, "policy.yaml", text)
    started = time.monotonic()
    proc = gate_cli("policy", "validate", str(path), timeout=60)
    assert time.monotonic() - started < 30
    assert proc.returncode == 2, proc.stderr[-1000:]
    assert proc.stderr.startswith(b"gate: policy ") and b"Traceback" not in proc.stderr
    with pytest.raises(PolicyError):
        load_policy(str(path), CHECKS.keys())


def test_policy_that_is_not_a_regular_file(tmp_path):
    import os

    os.mkfifo(tmp_path / "policy.yaml")
    proc = gate_cli("policy", "validate", str(tmp_path / "policy.yaml"), timeout=30)
    assert proc.returncode == 2 and b"not a regular file" in proc.stderr


def test_integral_float_entrypoint_ports_are_ports(tmp_path):
    """`web: 8000.0` passes the schema (JSON Schema's integer), so the check reads it as port 8000."""
    floats = write(tmp_path, "policy.yaml", "gatewayController: traefik\ntraefik:\n  entryPoints: {web: 8000.0}\n")
    assert "gateway-invalid" not in ids(check_text(tmp_path, TRAEFIK_GATEWAY, policy=str(floats)))
    other = write(tmp_path, "other.yaml", "gatewayController: traefik\ntraefik:\n  entryPoints: {web: 8443.0}\n")
    report = check_text(tmp_path, TRAEFIK_GATEWAY, policy=str(other))
    assert sorted(f.message.split("'")[1] for f in report.findings if f.check == "gateway-invalid") == ["web", "web2"]


@pytest.mark.parametrize("port", ["8000.5", "0", "70000", "true", "'8000'"])
def test_non_integral_or_out_of_range_entrypoint_port_is_a_policy_error(tmp_path, port):
    path = write(tmp_path, "policy.yaml", f"gatewayController: traefik\ntraefik:\n  entryPoints: {{web: {port}}}\n")
    proc = gate_cli("policy", "validate", str(path))
    assert proc.returncode == 2 and b"traefik.entryPoints.web" in proc.stderr
