"""Start-up: an offline one-document `gate check` (a pre-commit hook's run) imports no network, cluster,
schema or crypto library; a run whose probes ask the network imports them (so the laziness is not a
probe that was skipped). Each run is a fresh process whose `sys.modules` is read after `main()`.
Timing is benchmarks/startup.py's business, never asserted here."""
# ruff: noqa: F811 - the registry fixtures are imported by name

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT, write
from dns_server import needs_knot
from registry_server import REGISTRY_BINARY, open_registry, registry_data  # noqa: F401 - fixtures by name

# Runs `gate` as the console script does, then writes the exit code and every imported module to argv[1].
WRAPPER = """
import json, sys
out, args = sys.argv[1], sys.argv[2:]
sys.argv = ["gate", *args]
from gate.cli import main
try:
    main()
    code = 0
except SystemExit as exc:
    code = exc.code
with open(out, "w", encoding="utf-8") as handle:
    json.dump({"code": code, "modules": sorted(sys.modules)}, handle)
"""

# What an offline run over a ConfigMap has no use for: DNS (dnspython, and the stub resolver's asyncio),
# registries (httpx), the cluster (lightkube), a user's policy (jsonschema), CEL rules (a ConfigMap has
# none), TLS key pairs (cryptography), JUnit (xml); and the gate's own modules that bring them.
HEAVY = ("dns", "httpx", "httpcore", "asyncio", "jsonschema", "lightkube", "cel_expr_python", "cryptography", "xml",
         "gate.probes.dns", "gate.probes.registry", "gate.probes.credentials", "gate.sources.kube",
         "gate.sources.argocd", "gate.apischema.cel", "gate.alerts", "gate.audit")

CONFIGMAP = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
data:
  a: b
"""


def gate_modules(tmp_path, *args: str) -> tuple[int, set[str]]:
    """(exit code, modules imported) of one `gate` process run in `tmp_path` (no .gate.yaml there)."""
    out = tmp_path / "modules.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))}
    proc = subprocess.run([sys.executable, "-c", WRAPPER, str(out), *args], cwd=tmp_path, env=env,
                          capture_output=True, timeout=120, check=False)
    assert out.is_file(), proc.stderr.decode()
    result = json.loads(out.read_text(encoding="utf-8"))
    return result["code"], set(result["modules"])


def among(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """The imported modules that are one of `names` or inside one of them."""
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_offline_one_document_check_imports_no_network_library(tmp_path):
    """`gate check --offline` of one ConfigMap validates it and imports none of the heavy libraries."""
    path = write(tmp_path, "one.yaml", CONFIGMAP)
    code, modules = gate_modules(tmp_path, "check", "--offline", "--format", f"json={tmp_path / 'r.json'}", str(path))
    assert code == 0
    assert among(modules, HEAVY) == []
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["verdict"] == "passed" and report["stats"]["resources"] == 1
    assert "gate.apischema.validator" in modules  # the ConfigMap was validated, not skipped


def test_the_module_listing_sees_what_a_render_needs(tmp_path):
    """A render that carries a TLS key pair imports cryptography: the listing above would show a heavy import."""
    path = write(tmp_path, "one.yaml", CONFIGMAP + """---
apiVersion: v1
kind: Secret
metadata: {name: pay-tls, namespace: shop}
type: kubernetes.io/tls
data: {tls.crt: bm90IGEgY2VydA==, tls.key: bm90IGEga2V5}
""")
    code, modules = gate_modules(tmp_path, "check", "--offline", str(path))
    heavy = among(modules, HEAVY)
    assert code == 1 and "cryptography" in heavy and all(m.startswith("cryptography") for m in heavy), heavy


def test_version_and_help_import_no_pipeline(tmp_path):
    """`gate --version` and `gate --help` import neither the pipeline, the checks, the sources nor the policy."""
    pipeline = ("gate.run", "gate.checks", "gate.sources", "gate.index", "gate.apischema", "gate.policy",
                "gate.checklist", "yaml")
    for args in (("--version",), ("--help",), ("check", "--help")):
        code, modules = gate_modules(tmp_path, *args)
        listed = ("gate.alerts", "yaml") if args == ("--help",) else ()  # `gate alerts`' help line is listed
        assert code == 0, args
        assert among(modules, tuple(n for n in HEAVY + pipeline if n not in listed)) == [], args


def test_a_policy_file_is_validated_with_jsonschema(tmp_path):
    """A policy someone wrote is still validated (jsonschema imported for it; an unknown id is exit 2)."""
    path = write(tmp_path, "one.yaml", CONFIGMAP)
    good = write(tmp_path, "good.yaml", "checks:\n  route-backend-missing: warning\n")
    code, modules = gate_modules(tmp_path, "check", "--offline", "--policy", str(good), str(path))
    assert code == 0 and "jsonschema" in modules
    bad = write(tmp_path, "bad.yaml", "checks:\n  route-backend-mising: warning\n")
    assert gate_modules(tmp_path, "check", "--offline", "--policy", str(bad), str(path))[0] == 2


@needs_knot
def test_a_dns_probe_imports_the_resolver_and_gets_its_answer(knot, tmp_path):
    """Online, the DNS probe runs: the resolver and asyncio are imported and knot's answer is judged."""
    server = knot("shop.example.com. A 198.51.100.7")
    path = write(tmp_path, "ingress.yaml", """
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: shop
          namespace: shop
        spec:
          tls:
          - hosts: [shop.example.com]
            secretName: shop-tls
          rules:
          - host: shop.example.com
            http:
              paths:
              - path: /
                pathType: Prefix
                backend:
                  service:
                    name: shop
                    port:
                      number: 80
        """)
    code, modules = gate_modules(tmp_path, "check", "--include", "dns-not-pointing-to-lb", "--nameserver",
                                 server.address, "--lb-address", "192.0.2.10", "--format",
                                 f"json={tmp_path / 'r.json'}", str(path))
    findings = json.loads((tmp_path / "r.json").read_text())["findings"]
    # a name only served (no ACME HTTP-01 validates it) is a warning: the gate passes at --fail-on error
    assert code == 0 and [(f["check"], f["severity"]) for f in findings] == [("dns-not-pointing-to-lb", "warning")]
    assert "198.51.100.7" in findings[0]["message"]
    assert {"gate.probes.dns", "asyncio"} <= modules


@pytest.mark.skipif(REGISTRY_BINARY is None, reason="docker-registry is not installed (.ci/run)")
def test_a_registry_probe_imports_the_client_and_gets_its_answer(open_registry, tmp_path):
    """Online, the registry probe runs: httpx is imported, a pushed tag is found and a missing one is not."""
    host = open_registry.host
    path = write(tmp_path, "pod.yaml", f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
          namespace: shop
        spec:
          containers:
          - name: web
            image: {host}/acme/pay-web:1.4.2
          - name: sidecar
            image: {host}/acme/pay-web:9.9.9
        """)
    code, modules = gate_modules(tmp_path, "check", "--include", "image-not-found", "--insecure-registry", host,
                                 "--format", f"json={tmp_path / 'r.json'}", str(path))
    findings = json.loads((tmp_path / "r.json").read_text())["findings"]
    assert code == 1 and [(f["check"], f["image"]) for f in findings] == [("image-not-found",
                                                                            f"{host}/acme/pay-web:9.9.9")]
    assert {"gate.probes.registry", "httpx", "asyncio"} <= modules
