"""`--kube`: the live API read through lightkube, against a local HTTPS server that answers like the
Kubernetes API for the fixed list paths the gate calls. No real API server can run on this
machine; the server below keeps real objects (Secret data included) and answers the way the API
server does, so a request that asked for Secret data would get it and the tests would see it.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import yaml
from conftest import ROOT, gate_cli
from http_peers import NO_NETWORK, Request, TLSPeer

from gate.sources.files import load_paths
from gate.sources.kube import METADATA_ONLY, read_cluster

TOKEN = "kube-test-token-7f3a9c"
SECRET_BYTES = b"-----BEGIN PRIVATE KEY-----\nlive-secret-key-material-41c2\n-----END PRIVATE KEY-----\n"
SECRET_DATA = base64.b64encode(SECRET_BYTES).decode()
HEALTHY = ["shop", "blog", "docs", "api", "status", "grafana", "auth", "billing", "search", "media", "admin",
           "chat", "maps", "mail", "files", "metrics", "events", "orders", "support"]
BACKENDS = {"acme-pay-production": "pay-web", "acme-pay-sandbox": "pay-sandbox-web",
            "acme-rbac-production": "rbac-web", "acme-rbac-sandbox": "rbac-sandbox-web"}


def cluster_objects() -> dict[tuple[str, str], list[dict]]:
    """(plural, namespace) -> items, as the API server stores them (full Secrets, with data)."""
    objects: dict[tuple[str, str], list[dict]] = {}
    for name in HEALTHY:
        objects.setdefault(("secrets", "traefik"), []).append({
            "metadata": {"name": f"{name}-tls", "namespace": "traefik", "resourceVersion": "7",
                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration":
                                         json.dumps({"data": {"tls.key": SECRET_DATA}})}},
            "type": "kubernetes.io/tls", "data": {"tls.crt": SECRET_DATA, "tls.key": SECRET_DATA}})
    for namespace, name in BACKENDS.items():
        objects[("services", namespace)] = [{
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}], "selector": {"app": name}}}]
    objects[("namespaces", "")] = [{"metadata": {"name": ns}} for ns in (*BACKENDS, "traefik", "default")]
    return objects


class KubeAPI:
    """Answers list requests like the API server: token auth, 404 for kinds it does not serve,
    `limit`/`continue` paging, and PartialObjectMetadataList when the Accept header asks for it."""

    def __init__(self, forbid: tuple[str, str] | None = None):
        self.objects = cluster_objects()
        self.forbid = forbid  # (plural, namespace) answered 403, as RBAC without the permission does

    def __call__(self, request: Request) -> tuple[int, dict]:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return 401, status(401, "Unauthorized", "Unauthorized")
        parts = request.path.strip("/").split("/")
        # /api/v1/[namespaces/NS/]PLURAL or /apis/GROUP/VERSION/[namespaces/NS/]PLURAL
        served = {("api", "v1"), ("apis", "gateway.networking.k8s.io/v1beta1")}
        group_version = parts[1] if parts[0] == "api" else "/".join(parts[1:3])
        rest = parts[2:] if parts[0] == "api" else parts[3:]
        if (parts[0], group_version) not in served:
            return 404, status(404, "NotFound", "the server could not find the requested resource")
        namespace, plural = (rest[1], rest[2]) if rest[0] == "namespaces" and len(rest) == 3 else ("", rest[0])
        if len(rest) not in (1, 3):
            return 405, status(405, "MethodNotAllowed", "only lists are served here")
        if (plural, namespace) == self.forbid:
            return 403, status(403, "Forbidden", f'{plural} is forbidden: User "system:serviceaccount:gate:gate" '
                                                 f'cannot list resource "{plural}" in API group "" in the '
                                                 f'namespace "{namespace}"')
        items = self.objects.get((plural, namespace), [])
        start = int(request.query.get("continue", ["0"])[0])
        size = min(int(request.query.get("limit", ["500"])[0]), 4)  # small pages: paging is exercised
        page, more = items[start:start + size], start + size < len(items)
        meta = {"resourceVersion": "100", **({"continue": str(start + size)} if more else {})}
        if request.headers.get("accept") == METADATA_ONLY:
            return 200, {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                         "items": [{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                    "metadata": item["metadata"]} for item in page]}
        return 200, {"kind": f"{plural.capitalize()[:-1]}List", "apiVersion": group_version, "metadata": meta,
                     "items": page}


def status(code: int, reason: str, message: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": reason,
            "code": code}


def kubeconfig(folder: Path, server: str, ca_pem: bytes, token: str = TOKEN) -> Path:
    path = folder / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": {
            "server": server, "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "users": [{"name": "gate", "user": {"token": token}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "gate"}},
                     {"name": "other", "context": {"cluster": "test", "user": "gate", "namespace": "x"}}],
    }))
    return path


def secret_requests(peer) -> list[Request]:
    return [r for r in peer.requests if r.path.endswith("/secrets") or "/secrets/" in r.path]


def test_kube_resolves_the_incident_and_never_asks_for_secret_data(tmp_path):
    """--kube reads Services and Secret metadata live: no route-backend-missing, the real faults stay."""
    with TLSPeer(KubeAPI(), tmp_path) as peer:
        config = kubeconfig(tmp_path, peer.url, peer.ca_pem)
        proc = gate_cli("check", *NO_NETWORK, "--kube", "--kubeconfig", str(config), "--format", "json", "examples/incident")
    assert proc.returncode == 1, proc.stderr.decode()
    report = json.loads(proc.stdout)
    found = {f["check"] for f in report["findings"]}
    assert "route-backend-missing" not in found
    assert {"sync-wave-order", "listener-secret-missing"} <= found
    assert report["clusterStateConsulted"] is True and report["inputErrors"] == []
    missing = next(f for f in report["findings"] if f["check"] == "listener-secret-missing")
    assert "rbac-sandbox-tls" in missing["message"] and "live API, context test" in missing["message"]

    secrets = secret_requests(peer)
    assert {r.path for r in secrets} >= {"/api/v1/namespaces/traefik/secrets",
                                         "/api/v1/namespaces/acme-rbac-sandbox/secrets"}
    assert all(r.headers["accept"] == METADATA_ONLY for r in secrets)
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in peer.requests)
    assert all(r.path.endswith("/secrets") for r in secrets)  # lists only: no single Secret is read
    output = proc.stdout + proc.stderr
    assert SECRET_DATA.encode() not in output and TOKEN.encode() not in output


def test_kube_pages_through_lists_and_falls_back_to_served_versions(tmp_path):
    """All 19 Secrets arrive over several pages; ReferenceGrants fall back to v1beta1, cert-manager is absent."""
    render = load_paths([str(ROOT / "examples/incident")]).resources
    with TLSPeer(KubeAPI(), tmp_path) as peer:
        state = read_cluster(render, kubeconfig=str(kubeconfig(tmp_path, peer.url, peer.ca_pem)))
    assert state.errors == []
    secrets = [r for r in state.resources if r.kind == "Secret"]
    assert sorted(r.name for r in secrets) == sorted(f"{n}-tls" for n in HEALTHY)
    assert all(r.body == {"apiVersion": "v1", "kind": "Secret", "metadata": {
        "name": r.name, "namespace": "traefik", "annotations": {}}} for r in secrets)
    assert len([r for r in peer.requests if r.path == "/api/v1/namespaces/traefik/secrets"]) == 5
    paths = {r.path for r in peer.requests}
    assert "/apis/gateway.networking.k8s.io/v1beta1/namespaces/traefik/referencegrants" in paths
    assert "/apis/cert-manager.io/v1/clusterissuers" in paths
    # this peer serves neither cert-manager's API nor apps/v1 (the cert-manager Deployment)
    assert set(state.not_served) == {"ClusterIssuer", "Issuer", "Certificate", "Deployment"}
    assert {r.kind for r in state.resources} == {"Namespace", "Secret", "Service"}
    assert all(r.origin == "cluster" and r.file == "kube:test" for r in state.resources)


def test_kube_rbac_refusal_is_an_input_error_naming_the_permission(tmp_path):
    """A 403 on Secrets in one namespace stops the gate with exit 2, the API's message and the RBAC it needs."""
    with TLSPeer(KubeAPI(forbid=("secrets", "traefik")), tmp_path) as peer:
        config = kubeconfig(tmp_path, peer.url, peer.ca_pem)
        proc = gate_cli("check", *NO_NETWORK, "--kube", "--kubeconfig", str(config), "examples/incident")
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert "cannot list secrets in namespace traefik: 403 Forbidden" in err
    assert "the gate needs `list` on secrets in namespace traefik" in err
    assert proc.stdout.startswith(b"ERROR: 1 input could not be read")  # the readable part is still reported
    assert b"https://pay.example.com" in proc.stdout


def test_kube_wrong_token_and_untrusted_server_are_errors_without_the_token(tmp_path):
    """A rejected token and an unknown server CA both exit 2; the token is never printed."""
    with TLSPeer(KubeAPI(), tmp_path) as peer:
        wrong = kubeconfig(tmp_path, peer.url, peer.ca_pem, token="wrong-token-55e1")
        proc = gate_cli("check", *NO_NETWORK, "--kube", "--kubeconfig", str(wrong), "examples/incident")
        assert proc.returncode == 2 and b"401 Unauthorized" in proc.stderr
        assert b"wrong-token-55e1" not in proc.stdout + proc.stderr
        untrusted = kubeconfig(tmp_path, peer.url, b"")
        requests_before = len(peer.requests)
        proc = gate_cli("check", *NO_NETWORK, "--kube", "--kubeconfig", str(untrusted), "examples/incident")
        assert proc.returncode == 2 and b"CERTIFICATE_VERIFY_FAILED" in proc.stderr
        assert len(peer.requests) == requests_before  # nothing was sent to a server it could not verify
        assert TOKEN.encode() not in proc.stdout + proc.stderr


def test_kube_context_selects_and_unknown_context_is_reported(tmp_path):
    """--context picks a kubeconfig context; an unknown one is a clear input error."""
    with TLSPeer(KubeAPI(), tmp_path) as peer:
        config = kubeconfig(tmp_path, peer.url, peer.ca_pem)
        ok = gate_cli("check", *NO_NETWORK, "--kube", "--kubeconfig", str(config), "--context", "other", "--format", "json",
                      "examples/incident")
        bad = gate_cli("check", *NO_NETWORK, "--kube", "--kubeconfig", str(config), "--context", "nope", "examples/incident")
    assert "live API, context other" in ok.stdout.decode()
    assert bad.returncode == 2 and "Context 'nope' not found" in bad.stderr.decode()


def test_kube_in_cluster_service_account(tmp_path, monkeypatch):
    """In a Pod (no kubeconfig) the service account's token and CA are used, as lightkube reads them."""
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text(TOKEN)
    (account / "namespace").write_text("gate")
    render = load_paths([str(ROOT / "examples/incident")]).resources
    with TLSPeer(KubeAPI(), tmp_path) as peer:
        (account / "ca.crt").write_bytes(peer.ca_pem)
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(peer.port))
        state = read_cluster(render, service_account=str(account))
    assert state.errors == [] and state.context == "default"
    assert {r.name for r in state.resources if r.kind == "Service"} == set(BACKENDS.values())
    assert peer.requests and all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in peer.requests)


def test_kube_unreachable_server_is_an_input_error(tmp_path):
    """A server that does not answer is 'cannot list', exit 2: never an empty cluster."""
    with TLSPeer(KubeAPI(), tmp_path) as peer:
        url, ca = peer.url, peer.ca_pem
    proc = gate_cli("check", *NO_NETWORK, "--kube", "--kubeconfig", str(kubeconfig(tmp_path, url, ca)), "examples/incident")
    assert proc.returncode == 2 and b"cannot list" in proc.stderr
    assert b"route-backend-missing" in proc.stdout
