"""Where objects come from besides the render paths (issue 6).

- Cluster-state snapshots (`--cluster-state PATH`): objects known to exist already, e.g. the output
  of `kubectl get svc,secret,... -A -o yaml`. Secrets keep their metadata only.
- The live cluster (`--kube`, in `gate.sources.kube`).
- Argo CD (`--argocd-app NAME`): the application's target manifests become the render.

Everything here turns into `Resource`s of `LoadResult`s, so the index and the checks never know
where an object came from beyond its `origin` and `file` label.
"""

from __future__ import annotations

import json
import os
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from gate.sources.files import Document, LoadResult, add_object, invalid, load_paths
from gate.model import Resource

# kubectl apply stores the whole object, Secret data included, in this annotation.
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


class SourceError(Exception):
    """Options that contradict each other (exit code 2)."""


def secret_metadata_only(body: dict[str, Any]) -> dict[str, Any]:
    """A Secret reduced to what checks may read: its identity and metadata, never its data.

    `data`, `stringData` and everything else outside `metadata` are dropped, and so are the
    metadata fields that can carry the data (the last-applied annotation) or only add noise.
    """
    meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    kept = {k: v for k, v in meta.items() if k in ("name", "namespace", "labels", "annotations", "uid",
                                                   "creationTimestamp", "ownerReferences")}
    annotations = kept.get("annotations")
    if isinstance(annotations, dict):
        kept["annotations"] = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": kept}


def keep_secret_metadata(resources: list[Resource]) -> None:
    for res in resources:
        if res.kind == "Secret" and res.group == "":
            res.body = secret_metadata_only(res.body)


def load_snapshots(paths: list[str], *, max_file_bytes: int) -> LoadResult:
    """Cluster-state files and folders, as the loader reads any input, Secrets reduced on the spot."""
    loaded = load_paths(paths, origin="cluster", max_file_bytes=max_file_bytes)
    keep_secret_metadata(loaded.resources)
    return loaded


@dataclass
class ClusterState:
    """What is known to exist, and whether anything was consulted at all (even if it was empty)."""

    loaded: LoadResult = field(default_factory=LoadResult)
    sources: list[str] = field(default_factory=list)  # for messages: what was consulted

    @property
    def consulted(self) -> bool:
        return bool(self.sources)


def check_options(config: Any) -> None:
    """`--offline` means no network and no cluster: refuse what would need them."""
    if config.offline and config.kube:
        raise SourceError("--kube reads the live cluster, which --offline forbids; drop one of them "
                          "(a snapshot from --cluster-state works offline)")
    if config.offline and config.argocd_app:
        raise SourceError("--argocd-app reads the Argo CD API, which --offline forbids; drop one of them")
    if (config.kubeconfig or config.kube_context) and not config.kube:
        raise SourceError("--kubeconfig and --context choose the cluster for --kube; add --kube")


def gather_cluster_state(config: Any, render: list[Resource]) -> ClusterState:
    state = ClusterState()
    if config.cluster_state:
        state.loaded = load_snapshots(list(config.cluster_state), max_file_bytes=config.max_file_bytes)
        state.sources.extend(config.cluster_state)
    if config.kube:
        from gate.sources.kube import read_cluster  # lightkube is only imported when the cluster is read

        live = read_cluster(render, kubeconfig=config.kubeconfig, context=config.kube_context,
                            default_namespace=config.namespace)
        state.loaded.resources.extend(live.resources)
        state.loaded.errors.extend(live.errors)
        state.sources.append(live.label)
    return state


# -- Argo CD ----------------------------------------------------------------------------------------

ARGOCD_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def argocd_base_url(server: str) -> str:
    """ARGOCD_SERVER as the argocd CLI takes it (`host[:port]`), or a full URL to choose the scheme."""
    server = server.strip().rstrip("/")
    return server if "://" in server else f"https://{server}"


def load_argocd_app(app: str, result: LoadResult, *, insecure: bool = False,
                    max_bytes: int, env: dict[str, str] | None = None) -> None:
    """Add an application's target manifests (GET /api/v1/applications/{name}/manifests) to `result`.

    `app` is NAME or APP-NAMESPACE/NAME (applications in any namespace). Each manifest becomes a
    document labelled `argocd:<app>/<Kind>/<namespace>/<name>`. Failures become `result.errors`;
    the token never appears in them.
    """
    env = os.environ if env is None else env
    server, token = env.get("ARGOCD_SERVER", ""), env.get("ARGOCD_AUTH_TOKEN", "")
    if not server or not token:
        missing = " and ".join(n for n, v in (("ARGOCD_SERVER", server), ("ARGOCD_AUTH_TOKEN", token)) if not v)
        result.errors.append(f"--argocd-app {app}: {missing} not set")
        return
    app_namespace, _, name = app.rpartition("/")
    url = f"{argocd_base_url(server)}/api/v1/applications/{quote(name, safe='')}/manifests"
    params = {"appNamespace": app_namespace} if app_namespace else {}
    try:
        body = _fetch_json(url, params, token, insecure=insecure, max_bytes=max_bytes)
    except ArgoCDError as exc:
        result.errors.append(f"--argocd-app {app}: {str(exc).replace(token, '***')}")
        return
    manifests = body.get("manifests") if isinstance(body, dict) else None
    if not isinstance(manifests, list):
        result.errors.append(f"--argocd-app {app}: the answer from {url} has no `manifests` list")
        return
    destination = body.get("namespace") if isinstance(body.get("namespace"), str) else ""
    result.files += 1
    for position, text in enumerate(manifests):
        result.documents += 1
        label = f"argocd:{app}#{position}"
        try:
            obj = json.loads(text) if isinstance(text, str) else None
        except ValueError as exc:
            result.problems.append(invalid(label, 1, f"manifest {position} of Argo CD application {app} is "
                                                     f"not JSON: {getattr(exc, 'msg', exc)}"))
            continue
        if not isinstance(obj, dict):
            result.problems.append(invalid(label, 1, f"manifest {position} of Argo CD application {app} is "
                                                     f"not a JSON object"))
            continue
        first = len(result.resources)
        add_object(obj, Document(text="", file=_argocd_label(app, obj, label), line=1, source=None),
                   result, "render")
        for res in result.resources[first:]:
            # Argo CD applies namespaced objects without one into the destination namespace.
            if not res.namespace and destination:
                res.namespace = destination


def _argocd_label(app: str, obj: dict[str, Any], fallback: str) -> str:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    kind, name, namespace = obj.get("kind"), meta.get("name"), meta.get("namespace") or "-"
    if isinstance(kind, str) and isinstance(name, str) and kind and name:
        return f"argocd:{app}/{kind}/{namespace}/{name}"
    return fallback


class ArgoCDError(Exception):
    pass


def _fetch_json(url: str, params: dict[str, str], token: str, *, insecure: bool, max_bytes: int) -> Any:
    # The system trust store (and SSL_CERT_FILE / SSL_CERT_DIR), as other tools in the Job's image
    # see it; redirects are not followed, so the token only ever goes to ARGOCD_SERVER.
    verify: ssl.SSLContext | bool = False if insecure else ssl.create_default_context()
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    try:
        with (httpx.Client(verify=verify, timeout=ARGOCD_TIMEOUT, follow_redirects=False) as client,
              client.stream("GET", url, params=params, headers=headers) as response):
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > max_bytes:
                    raise ArgoCDError(f"the answer from {url} is over the {max_bytes // 1048576} MiB "
                                      f"input limit (--max-file-size)")
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        if "CERTIFICATE_VERIFY_FAILED" in reason:
            reason += (" (the server's certificate is not trusted: add its CA to the trust store or "
                       "SSL_CERT_FILE, or pass --argocd-insecure)")
        raise ArgoCDError(f"cannot read {url}: {reason}") from None
    if response.is_redirect:
        raise ArgoCDError(f"{url} answered {response.status_code} redirecting to "
                          f"{response.headers.get('location', '?')}; not followed (set ARGOCD_SERVER to "
                          f"the final address)")
    if response.status_code != 200:
        raise ArgoCDError(f"{url} answered {response.status_code}{error_message(bytes(data))}"
                          f"{' (check ARGOCD_AUTH_TOKEN)' if response.status_code in (401, 403) else ''}")
    try:
        return json.loads(bytes(data))
    except ValueError as exc:
        raise ArgoCDError(f"the answer from {url} is not JSON: {exc}") from None


def error_message(data: bytes) -> str:
    """`: <message>` of a JSON error body, when there is one: a Kubernetes Status, or an Argo CD
    (grpc-gateway) error; both carry a `message`."""
    try:
        body = json.loads(data)
    except ValueError:
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return f": {message[:300]}" if isinstance(message, str) and message else ""
