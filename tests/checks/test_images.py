"""Image checks end to end: the healthy example's images in a real registry, missing tags, offline, policy."""
# ruff: noqa: F811 - the registry fixtures are imported by name

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import EXAMPLES, gate_cli
from registry_server import (  # noqa: F401 - fixtures are used by name
    REGISTRY_BINARY,
    LocalServer,
    ca,
    client_ssl,
    open_registry,
    registry_data,
    start_registry,
)

from gate.config import RegistryOptions
from gate.report import FORMATS
from gate.run import RunConfig, run

pytestmark = pytest.mark.skipif(REGISTRY_BINARY is None, reason="docker-registry is not installed (.ci/run)")

IMAGE_CHECKS = ("image-not-found", "image-unverifiable", "image-platform-missing", "image-reference-invalid")
LABEL = "Image present in the registry"


def healthy_copy(tmp_path: Path, host: str) -> Path:
    """examples/healthy with its images (registry.example.com/acme/<x>-web:1.4.2) moved to `host`."""
    target = tmp_path / "healthy"
    shutil.copytree(EXAMPLES / "healthy", target)
    for path in target.rglob("*.yaml"):
        path.write_text(path.read_text().replace("registry.example.com/", f"{host}/"))
    return target


def image_run(paths: list[Path], *, insecure: str | None = None, **config) -> object:
    registry = RegistryOptions(insecure=(insecure,) if insecure else (), **config.pop("registry", {}))
    return run(RunConfig(paths=[str(p) for p in paths], include=IMAGE_CHECKS, registry=registry, **config))


def image_items(report) -> dict[str, str]:
    return {service.hostname: item.status for service in report.services for item in service.items
            if item.label == LABEL}


def test_healthy_images_pass(open_registry, tmp_path):
    """The healthy example's images, pushed to the registry, pass: no finding, every image line [x]."""
    report = image_run([healthy_copy(tmp_path, open_registry.host)], insecure=open_registry.host)
    assert report.findings == [] and report.passed
    items = image_items(report)
    assert items["pay.example.com"] == "pass" and set(items.values()) == {"pass"} and len(items) == 4


def test_missing_tag_fails_its_service(open_registry, tmp_path):
    """One tag that was never pushed: image-not-found at the container's file:line, [ ] under its service."""
    folder = healthy_copy(tmp_path, open_registry.host)
    app = folder / "acme-pay-production" / "app.yaml"
    app.write_text(app.read_text().replace("acme/pay-web:1.4.2", "acme/pay-web:1.4.3"))
    report = image_run([folder], insecure=open_registry.host)
    assert [f.check for f in report.findings] == ["image-not-found"]
    finding = report.findings[0]
    container_line = app.read_text().splitlines().index("      - name: web") + 1  # the container's `- name:`
    assert (finding.file, finding.line) == (str(app), container_line)
    assert finding.image == f"{open_registry.host}/acme/pay-web:1.4.3" and "1.4.3" in finding.message
    assert finding.kind == "Deployment" and not finding.unverified and not report.passed
    items = image_items(report)
    assert items["pay.example.com"] == "fail" and items["pay.sandbox.example.com"] == "pass"
    text = FORMATS["text"](report, False)
    service = text[text.index("https://pay.example.com\n"):]
    service = service[:service.index("\n\n")]
    assert f"[ ] {LABEL}" in service and f"at {app}:{container_line}" in service


def test_offline_makes_no_registry_request(tmp_path):
    """--offline sends nothing to the registry (the image line is [?] offline); online it is asked."""
    server = LocalServer(lambda request: (404, {}, b""))
    host = f"127.0.0.1:{server.port}"
    try:
        folder = healthy_copy(tmp_path, host)
        offline = image_run([folder], insecure=host, offline=True)
        assert server.seen == []
        assert offline.findings == [] and set(image_items(offline).values()) == {"unverified"}
        assert {i.note for s in offline.services for i in s.items if i.label == LABEL} == {"offline"}
        online = image_run([folder], insecure=host)
        assert server.seen and {f.check for f in online.findings} == {"image-not-found"}
    finally:
        server.stop()


def test_each_distinct_reference_is_asked_once(tmp_path):
    """Four workloads sharing two images (one written two ways) cost two manifest requests (and cert-manager's one)."""
    server = LocalServer(lambda request: (404, {}, b""))
    host = f"127.0.0.1:{server.port}"
    try:
        folder = healthy_copy(tmp_path, host)
        app = folder / "acme-rbac-sandbox" / "app.yaml"
        app.write_text(app.read_text().replace(f"{host}/acme/rbac-web:1.4.2", f"{host}/acme/rbac-web:1.4.2@"
                                               f"sha256:{'a' * 64}"))
        image_run([folder], insecure=host)
    finally:
        server.stop()
    assert sorted(s.path for s in server.seen) == sorted([
        "/v2/acme/pay-web/manifests/1.4.2", "/v2/acme/rbac-web/manifests/1.4.2",
        f"/v2/acme/rbac-web/manifests/sha256:{'a' * 64}", "/v2/jetstack/cert-manager-controller/manifests/v1.19.1"])


def test_unverifiable_severity_follows_the_policy(tmp_path, registry_data):
    """A stopped registry is image-unverifiable ([?], never a pass): error by default, warning by policy."""
    registry = start_registry(tmp_path / "stopped", data=registry_data["data"])
    registry.stop()
    folder = healthy_copy(tmp_path, registry.host)
    default = image_run([folder], insecure=registry.host)
    assert {(f.check, f.severity, f.unverified) for f in default.findings} == {("image-unverifiable", "error", True)}
    assert "registry unavailable" in default.findings[0].message and not default.passed
    assert set(image_items(default).values()) == {"unverified"}
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"version: 1\nregistries:\n  onUnverifiable: warning\n  insecure: ['{registry.host}']\n")
    relaxed = image_run([folder], policy=str(policy))  # insecure from the policy, not the option
    assert {(f.check, f.severity) for f in relaxed.findings} == {("image-unverifiable", "warning")}
    assert relaxed.passed


def test_platform_missing(open_registry, tmp_path):
    """An index without linux/amd64 warns; one with it, and a single-platform image, do not."""
    host = open_registry.host
    render = tmp_path / "pods.yaml"
    render.write_text("\n---\n".join(
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: shop}}\n"
        f"spec:\n  containers:\n    - {{name: app, image: '{host}/acme/{repo}:{tag}'}}\n"
        for name, repo, tag in (("arm", "armonly", "1.0"), ("multi", "multi", "1.0"), ("one", "pay-web", "1.4.2"))))
    report = image_run([render], insecure=host)
    assert [(f.check, f.name, f.severity) for f in report.findings] == [("image-platform-missing", "arm", "warning")]
    assert "linux/amd64" in report.findings[0].message and "linux/arm64" in report.findings[0].message


def test_cli_with_registry_config_keeps_secrets_out_of_output(tmp_path, registry_data):
    """gate check --registry-config against Basic auth: found, and the password is in no output, --debug on."""
    password = "cli-pa55word-never-shown"
    htpasswd = subprocess.run(["htpasswd", "-Bbn", "bob", password], capture_output=True, check=True).stdout
    (tmp_path / "htpasswd").write_bytes(htpasswd)
    registry = start_registry(tmp_path / "reg", data=registry_data["data"],
                              auth={"htpasswd": {"realm": "test", "path": str(tmp_path / "htpasswd")}})
    try:
        folder = healthy_copy(tmp_path, registry.host)
        good = tmp_path / "good.json"
        good.write_text(json.dumps({"auths": {registry.host: {"username": "bob", "password": password}}}))
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({"auths": {registry.host: {"username": "bob", "password": password + "x"}}}))
        args = ["check", "--debug", "--insecure-registry", registry.host, "--format", "text",
                "--format", f"json={tmp_path / 'out.json'}", *[a for c in IMAGE_CHECKS for a in ("--include", c)],
                str(folder)]
        passed = gate_cli(*args[:1], "--registry-config", str(good), *args[1:])
        failed = gate_cli(*args[:1], "--registry-config", str(bad), *args[1:])
    finally:
        registry.stop()
    assert passed.returncode == 0, passed.stdout.decode()[-2000:]
    assert failed.returncode == 1 and b"authentication failed" in failed.stdout
    outputs = [passed.stdout, passed.stderr, failed.stdout, failed.stderr, (tmp_path / "out.json").read_bytes()]
    assert not any(password.encode() in out for out in outputs)
    report = json.loads((tmp_path / "out.json").read_text())
    assert {f["check"] for f in report["findings"]} == {"image-unverifiable"}
    assert all(f["unverified"] and f["image"] for f in report["findings"])


def test_policy_registries_section_is_validated(tmp_path):
    """Registry hosts and settings validate; an unknown setting or a bad platform is a policy error."""
    ok = tmp_path / "ok.yaml"
    ok.write_text("version: 1\nregistries:\n  platforms: [linux/amd64, linux/arm64/v8]\n  insecure: [lab:5000]\n"
                  "  registry.gitlab.com: {authHosts: [gitlab.com]}\n  localhost:5000: {authHosts: []}\n")
    assert gate_cli("policy", "validate", str(ok)).returncode == 0
    for bad in ("registries: {unknown: 1}", "registries: {platforms: [amd64]}",
                "registries: {registry.example.com: {authhosts: [x]}}", "registries: {onUnverifiable: off}"):
        path = tmp_path / "bad.yaml"
        path.write_text(f"version: 1\n{bad}\n")
        assert gate_cli("policy", "validate", str(path)).returncode == 2, bad
