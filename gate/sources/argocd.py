"""Argo CD (`--argocd-app NAME`): the application's target manifests become the render."""

from __future__ import annotations

import json
import os
import ssl
from typing import Any
from urllib.parse import quote

import httpx

from gate.sources.api_errors import error_message
from gate.sources.documents import Document, LoadResult, add_object, invalid

ARGOCD_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def argocd_base_url(server: str) -> str:
    """ARGOCD_SERVER as the argocd CLI takes it (`host[:port]`), or a full URL to choose the scheme."""
    server = server.strip().rstrip("/")
    return server if "://" in server else f"https://{server}"


def load_argocd_app(app: str, result: LoadResult, *, insecure: bool = False, ca_file: str | None = None,
                    max_bytes: int, env: dict[str, str] | None = None) -> None:
    """Add an application's target manifests (GET /api/v1/applications/{name}/manifests) to `result`.

    `app` is NAME or APP-NAMESPACE/NAME (applications in any namespace). Each manifest becomes a
    document labelled `argocd:<app>/<Kind>/<namespace>/<name>`. Failures become `result.errors`;
    the token never appears in them. `ca_file` (--argocd-ca, else ARGOCD_CA_FILE): a CA trusted
    besides the system store, for a server with a self-signed or private certificate.
    """
    env = os.environ if env is None else env
    server, token = env.get("ARGOCD_SERVER", ""), env.get("ARGOCD_AUTH_TOKEN", "")
    if not server or not token:
        missing = " and ".join(n for n, v in (("ARGOCD_SERVER", server), ("ARGOCD_AUTH_TOKEN", token)) if not v)
        result.errors.append(f"--argocd-app {app}: {missing} not set (the PreSync Job takes them from the keys "
                             f"`server` and `token` of the Secret ingress-gate-argocd in its namespace)")
        return
    ca_file = ca_file or env.get("ARGOCD_CA_FILE") or None
    app_namespace, _, name = app.rpartition("/")
    url = f"{argocd_base_url(server)}/api/v1/applications/{quote(name, safe='')}/manifests"
    params = {"appNamespace": app_namespace} if app_namespace else {}
    try:
        body = _fetch_json(url, params, token, insecure=insecure, ca_file=ca_file, max_bytes=max_bytes)
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


def trust(ca_file: str | None) -> ssl.SSLContext:
    """The system trust store (and SSL_CERT_FILE / SSL_CERT_DIR), plus `ca_file` when given."""
    context = ssl.create_default_context()
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ArgoCDError(f"cannot load the Argo CD CA file {ca_file} (--argocd-ca / ARGOCD_CA_FILE): "
                              f"{getattr(exc, 'strerror', None) or exc}") from None
    return context


def _fetch_json(url: str, params: dict[str, str], token: str, *, insecure: bool, max_bytes: int,
                ca_file: str | None = None) -> Any:
    # Redirects are not followed, so the token only ever goes to ARGOCD_SERVER.
    verify: ssl.SSLContext | bool = False if insecure else trust(ca_file)
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
            reason += (" (the server's certificate is not trusted: pass its CA with --argocd-ca FILE or "
                       "ARGOCD_CA_FILE, or --argocd-insecure)")
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
