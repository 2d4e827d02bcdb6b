"""`gate audit --kube`: the incident's live state served by a local HTTPS peer that answers list requests
the way the Kubernetes API server does (token auth, cluster-wide and per-namespace lists, paging,
404 for APIs it does not serve, PartialObjectMetadataList on request). It holds full objects, Secret
data and pod env included, so a read that asked for them would get them and the tests would see it.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json

import live_state
import yaml
from audit_fixtures import incident_snapshot  # noqa: F401 - fixture
from conftest import gate_cli
from http_peers import Request, TLSPeer

from gate.audit.run import audit
from gate.config import AuditOptions, ClusterOptions, RunConfig
from gate.sources.kube import AUDIT_KINDS, METADATA_ONLY

TOKEN = "audit-test-token-93be"
NOW = "2026-03-23T09:20:00Z"
PLURALS = {k.plural: k for k in AUDIT_KINDS}


class ClusterAPI:
    def __init__(self, objects: list[dict], served: set[str] | None = None, forbid: str | None = None):
        self.by_plural: dict[tuple[str, str], list[dict]] = {}
        for obj in objects:
            kind = next(k for k in AUDIT_KINDS if k.kind == obj["kind"])
            group_version = obj["apiVersion"]
            item = {k: v for k, v in copy.deepcopy(obj).items() if k not in ("apiVersion", "kind")}
            # The API server sends managedFields with every object: the reader must cope (and drop them).
            item["metadata"]["managedFields"] = [{"manager": "kubectl", "operation": "Apply", "fieldsV1": {"f:spec": {}}}]
            self.by_plural.setdefault((group_version, kind.plural), []).append(item)
        self.served = served or {"v1", "apps/v1", "gateway.networking.k8s.io/v1", "cert-manager.io/v1",
                                 "acme.cert-manager.io/v1", "argoproj.io/v1alpha1"}
        self.forbid = forbid

    def __call__(self, request: Request) -> tuple[int, dict]:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return 401, {"kind": "Status", "code": 401, "reason": "Unauthorized", "message": "Unauthorized"}
        parts = request.path.strip("/").split("/")
        group_version = parts[1] if parts[0] == "api" else "/".join(parts[1:3])
        rest = parts[2:] if parts[0] == "api" else parts[3:]
        if group_version not in self.served:
            return 404, {"kind": "Status", "code": 404, "reason": "NotFound",
                         "message": "the server could not find the requested resource"}
        namespace, plural = (rest[1], rest[2]) if rest[0] == "namespaces" else (None, rest[0])
        if plural == self.forbid:
            return 403, {"kind": "Status", "code": 403, "reason": "Forbidden",
                         "message": f"{plural} is forbidden: User \"system:serviceaccount:ingress-gate:ingress-gate-audit\" "
                                    f"cannot list resource \"{plural}\" at the cluster scope"}
        items = [i for i in self.by_plural.get((group_version, plural), [])
                 if namespace is None or i["metadata"].get("namespace") == namespace]
        start = int(request.query.get("continue", ["0"])[0])
        size = int(request.query.get("limit", ["500"])[0])
        page, more = items[start:start + size], start + size < len(items)
        meta = {"resourceVersion": "200", **({"continue": str(start + size)} if more else {})}
        if request.headers.get("accept") == METADATA_ONLY:
            return 200, {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                         "items": [{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                    "metadata": i["metadata"]} for i in page]}
        return 200, {"kind": "List", "apiVersion": group_version, "metadata": meta, "items": page}


def kubeconfig(folder, server: str, ca_pem: bytes):
    path = folder / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "prod",
        "clusters": [{"name": "prod", "cluster": {"server": server,
                                                   "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "users": [{"name": "audit", "user": {"token": TOKEN}}],
        "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "audit"}}]}))
    return path


def rows(findings) -> list[tuple]:
    return sorted((f["check"], f["severity"], f["resource"]["kind"], f["resource"]["namespace"], f["resource"]["name"],
                   f["message"]) for f in findings)


def test_kube_gives_the_same_findings_as_the_snapshot(tmp_path, incident_snapshot):  # noqa: F811
    """The incident read live finds what the snapshot finds, message for message; lists only, Secrets as metadata."""
    api = ClusterAPI(live_state.incident())
    with TLSPeer(api, tmp_path) as peer:
        config = kubeconfig(tmp_path, peer.url, peer.ca_pem)
        proc = gate_cli("audit", "--kube", "--kubeconfig", str(config), "--now", NOW, "--format", "json",
                        timeout=180)
    assert proc.returncode == 1, proc.stderr.decode()
    live = json.loads(proc.stdout)
    snapshot = json.loads(gate_cli("audit", "--cluster-state", str(incident_snapshot), "--now", NOW, "--format",
                                   "json", timeout=180).stdout)
    assert rows(live["findings"]) == rows(snapshot["findings"])
    assert len(live["findings"]) == 22
    paths = {r.path for r in peer.requests}
    assert "/apis/gateway.networking.k8s.io/v1/httproutes" in paths  # one cluster-wide list, paged
    assert len([r for r in peer.requests if r.path == "/apis/gateway.networking.k8s.io/v1/httproutes"]) == 46
    secrets = [r for r in peer.requests if r.path.endswith("/secrets")]
    assert secrets and all(r.headers["accept"] == METADATA_ONLY for r in secrets)
    output = proc.stdout + proc.stderr
    assert b"bGl2ZS1rZXk" not in output and b"pod-env-secret-5e1f" not in output and TOKEN.encode() not in output


def test_kube_reads_namespaces_and_the_gateways_secrets(tmp_path):
    """With --namespace the application kinds are read there, Secrets there and in the Gateways' namespaces."""
    api = ClusterAPI(live_state.incident({ns: 3 for ns in live_state.NEW}))
    with TLSPeer(api, tmp_path) as peer:
        config = RunConfig(now=dt.datetime(2026, 3, 23, 9, 20, tzinfo=dt.timezone.utc),
                           audit=AuditOptions(namespaces=("acme-pay-production",)),
                           cluster=ClusterOptions(kube=True, kubeconfig=str(kubeconfig(tmp_path, peer.url,
                                                                                         peer.ca_pem))))
        result = audit(config)
    assert result.report.errors == []
    paths = {r.path for r in peer.requests}
    assert "/apis/gateway.networking.k8s.io/v1/namespaces/acme-pay-production/httproutes" in paths
    assert "/apis/gateway.networking.k8s.io/v1/gateways" in paths  # platform: cluster-wide
    assert {p for p in paths if p.endswith("/secrets")} == {"/api/v1/namespaces/acme-pay-production/secrets",
                                                             "/api/v1/namespaces/traefik/secrets"}
    # Secret data was never asked for, so the index holds metadata only.
    secrets = [r for r in result.index.resources if r.kind == "Secret"]
    assert secrets and all(set(r.body) == {"apiVersion", "kind", "metadata"} for r in secrets)
    deployments = [r for r in result.index.resources if r.kind == "Deployment"]
    assert sorted(d.name for d in deployments) == ["cert-manager", "traefik"]
    assert all("env" not in c for d in deployments for c in d.body["spec"]["template"]["spec"]["containers"])
    assert all("managedFields" not in r.metadata for r in result.index.resources)


def test_kube_without_argocd_and_forbidden_kinds(tmp_path):
    """Argo CD not served: read without it; a 403 is an input error (exit 2) naming the permission."""
    objects = live_state.incident({ns: 2 for ns in live_state.NEW})
    served = {"v1", "apps/v1", "gateway.networking.k8s.io/v1", "cert-manager.io/v1", "acme.cert-manager.io/v1"}
    with TLSPeer(ClusterAPI(objects, served=served), tmp_path) as peer:
        config = kubeconfig(tmp_path, peer.url, peer.ca_pem)
        proc = gate_cli("audit", "--kube", "--kubeconfig", str(config), "--now", NOW, "--format", "json")
    assert proc.returncode == 1 and json.loads(proc.stdout)["inputErrors"] == []
    with TLSPeer(ClusterAPI(objects, forbid="challenges"), tmp_path) as peer:
        config = kubeconfig(tmp_path, peer.url, peer.ca_pem)
        proc = gate_cli("audit", "--kube", "--kubeconfig", str(config), "--now", NOW)
    assert proc.returncode == 2
    assert b"cannot list challenges in all namespaces: 403 Forbidden" in proc.stderr
    assert b"the gate needs `list` on challenges.acme.cert-manager.io in all namespaces (a ClusterRole)" in proc.stderr
