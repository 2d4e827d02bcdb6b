"""`--argocd-app NAME`: the application's target manifests from the Argo CD API, against a local
HTTPS server that answers `GET /api/v1/applications/{name}/manifests` as argocd-server does (a
RepositoryManifestResponse whose `manifests` are JSON strings). No Argo CD can run on this machine."""

from __future__ import annotations

import json
import os

import yaml
from conftest import EXAMPLES, gate_cli
from http_peers import NO_NETWORK, Request, TLSPeer

TOKEN = "argocd-test-token-c0ffee"


def incident_manifests() -> list[str]:
    docs = [doc for path in sorted((EXAMPLES / "incident").rglob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text()) if doc]
    return [json.dumps(doc) for doc in docs]


class ArgoCD:
    def __init__(self) -> None:
        self.apps = {"shop-platform": incident_manifests()}

    def __call__(self, request: Request) -> tuple[int, dict]:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            # what argocd-server says for a bad token (the token is echoed here on purpose: the
            # gate must not repeat it)
            return 401, {"error": "invalid session", "code": 16,
                         "message": f"invalid session: token {TOKEN[:5]}... {request.headers.get('authorization')}"}
        parts = request.path.strip("/").split("/")
        if parts[:3] != ["api", "v1", "applications"] or len(parts) != 5 or parts[4] != "manifests":
            return 404, {"code": 5, "message": "Not Found"}
        name = parts[3]
        if name == "broken":
            return 200, {"manifests": ["{\"apiVersion\": \"v1\", \"kind\": \"Service\"", "[1, 2]"],
                         "namespace": "shop", "revision": "abc123"}
        if name not in self.apps:
            return 404, {"code": 5, "message": f'applications.argoproj.io "{name}" not found'}
        return 200, {"manifests": self.apps[name], "namespace": "default", "server": "https://kubernetes.default.svc",
                     "revision": "4f2c1e0", "sourceType": "Directory"}


def argocd_env(peer, token: str = TOKEN, trust: bool = True) -> dict:
    env = {"ARGOCD_SERVER": f"127.0.0.1:{peer.port}", "ARGOCD_AUTH_TOKEN": token}
    if trust:
        env["SSL_CERT_FILE"] = str(peer.ca_file)
    else:  # neither the test CA nor anything inherited
        env["SSL_CERT_FILE"] = os.devnull
    return env


def test_argocd_app_is_read_with_the_token_over_verified_tls(tmp_path):
    """The manifests become the render (labelled argocd:...), the Bearer token is sent, never printed."""
    with TLSPeer(ArgoCD(), tmp_path) as peer:
        proc = gate_cli("check", "--argocd-app", "shop-platform", *NO_NETWORK,
                        "--format", "json", env=argocd_env(peer))
    assert proc.returncode == 1, proc.stderr.decode()
    report = json.loads(proc.stdout)
    assert report["inputErrors"] == []
    [request] = peer.requests
    assert request.path == "/api/v1/applications/shop-platform/manifests"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    backend = next(f for f in report["findings"] if f["check"] == "route-backend-missing")
    assert backend["file"] == "argocd:shop-platform/HTTPRoute/acme-pay-production/pay-route" and backend["line"] == 1
    assert report["stats"]["resources"] == 40
    assert TOKEN.encode() not in proc.stdout + proc.stderr


def test_argocd_tls_is_verified_by_default(tmp_path):
    """An untrusted server certificate stops the gate before any request; --argocd-insecure opts out."""
    with TLSPeer(ArgoCD(), tmp_path) as peer:
        refused = gate_cli("check", "--argocd-app", "shop-platform", *NO_NETWORK, env=argocd_env(peer, trust=False))
        assert refused.returncode == 2 and peer.requests == []
        assert b"not trusted" in refused.stderr and TOKEN.encode() not in refused.stdout + refused.stderr
        insecure = gate_cli("check", "--argocd-app", "shop-platform", "--argocd-insecure", "--format", "json",
                            *NO_NETWORK, env=argocd_env(peer, trust=False))
    assert insecure.returncode == 1 and json.loads(insecure.stdout)["inputErrors"] == []


def test_argocd_with_cluster_state_clears_backends(tmp_path):
    """The PreSync shape: manifests from Argo CD, what exists from a snapshot; backends resolve."""
    with TLSPeer(ArgoCD(), tmp_path) as peer:
        proc = gate_cli("check", "--argocd-app", "shop-platform", "--format", "json", *NO_NETWORK,
                        "--cluster-state", str(EXAMPLES / "cluster-state" / "incident.yaml"), env=argocd_env(peer))
    found = {f["check"] for f in json.loads(proc.stdout)["findings"]}
    assert "route-backend-missing" not in found and "sync-wave-order" in found


def test_argocd_rejected_token_and_unknown_app_are_input_errors(tmp_path):
    """401 and 404 from Argo CD exit 2 with Argo CD's message; an echoed token is masked."""
    with TLSPeer(ArgoCD(), tmp_path) as peer:
        bad = gate_cli("check", "--argocd-app", "shop-platform", *NO_NETWORK,
                       env=argocd_env(peer, token="stolen-token-9d8e"))
        unknown = gate_cli("check", "--argocd-app", "nope", *NO_NETWORK, env=argocd_env(peer))
    assert bad.returncode == 2 and b"answered 401" in bad.stderr and b"check ARGOCD_AUTH_TOKEN" in bad.stderr
    assert b"stolen-token-9d8e" not in bad.stdout + bad.stderr
    assert unknown.returncode == 2 and b'applications.argoproj.io "nope" not found' in unknown.stderr


def test_argocd_bad_manifests_are_reported_per_manifest(tmp_path):
    """A manifest that is not JSON, or not an object, is manifest-invalid at argocd:<app>#<n>."""
    with TLSPeer(ArgoCD(), tmp_path) as peer:
        proc = gate_cli("check", "--argocd-app", "broken", "--format", "json", *NO_NETWORK, env=argocd_env(peer))
    invalid = [(f["file"], f["line"]) for f in json.loads(proc.stdout)["findings"] if f["check"] == "manifest-invalid"]
    assert invalid == [("argocd:broken#0", 1), ("argocd:broken#1", 1)]


def test_argocd_needs_server_and_token():
    """Without ARGOCD_SERVER / ARGOCD_AUTH_TOKEN the gate says which is missing (exit 2)."""
    proc = gate_cli("check", "--argocd-app", "shop-platform", *NO_NETWORK,
                    env={"ARGOCD_SERVER": "", "ARGOCD_AUTH_TOKEN": ""})
    assert proc.returncode == 2 and b"ARGOCD_SERVER and ARGOCD_AUTH_TOKEN not set" in proc.stderr


def test_argocd_ca_file_trusts_a_self_signed_server(tmp_path):
    """--argocd-ca FILE (or ARGOCD_CA_FILE) trusts the server's private CA; the system store is not needed."""
    with TLSPeer(ArgoCD(), tmp_path) as peer:
        by_option = gate_cli("check", "--argocd-app", "shop-platform", "--argocd-ca", str(peer.ca_file),
                             "--format", "json", *NO_NETWORK, env=argocd_env(peer, trust=False))
        by_env = gate_cli("check", "--argocd-app", "shop-platform", "--format", "json", *NO_NETWORK,
                          env={**argocd_env(peer, trust=False), "ARGOCD_CA_FILE": str(peer.ca_file)})
        missing = gate_cli("check", "--argocd-app", "shop-platform", *NO_NETWORK,
                           env={**argocd_env(peer, trust=False), "ARGOCD_CA_FILE": str(tmp_path / "nope.pem")})
        assert len(peer.requests) == 2  # the missing CA file stops the gate before it sends the token
    for proc in (by_option, by_env):
        assert proc.returncode == 1, proc.stderr.decode()
        assert json.loads(proc.stdout)["inputErrors"] == []
    assert missing.returncode == 2 and b"cannot load the Argo CD CA file" in missing.stderr
    assert b"nope.pem" in missing.stderr and TOKEN.encode() not in missing.stdout + missing.stderr


def test_argocd_ca_and_insecure_contradict():
    proc = gate_cli("check", "--argocd-app", "x", "--argocd-ca", "ca.pem", "--argocd-insecure")
    assert proc.returncode == 2 and b"--argocd-insecure" in proc.stderr
