"""Real registries for the tests: Debian's `docker-registry` (CNCF distribution) on 127.0.0.1, images
pushed over the registry HTTP API, a token server that signs RS256 JWTs, and small local HTTP servers
that record what they were sent (to prove credentials do not leak).

The benchmarks import this module too, where the test extra (pytest, trustme) may be missing: the
fixtures at the end exist only when pytest does, and trustme is imported where it is used.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import shutil
import socket
import ssl
import subprocess
import tarfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

try:
    import pytest
except ImportError:  # benchmarks/ without the test extra: no fixtures needed there
    pytest = None

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"

REGISTRY_BINARY = shutil.which("docker-registry")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- docker-registry ---------------------------------------------------------------------------------

@dataclass
class Registry:
    process: subprocess.Popen
    port: int
    scheme: str
    folder: Path

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_registry(folder: Path, *, data: Path | None = None, auth: dict | None = None,
                   tls: tuple[Path, Path] | None = None, ssl_context: ssl.SSLContext | None = None) -> Registry:
    """`docker-registry serve CONFIG` in the background; returns once GET /v2/ answers."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = {
        "version": 0.1,
        "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(data or folder / "data")}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": "test-only"},
    }
    if auth:
        config["auth"] = auth
    if tls:
        config["http"]["tls"] = {"certificate": str(tls[0]), "key": str(tls[1])}
    path = folder / f"registry-{port}.json"  # JSON is YAML
    path.write_text(json.dumps(config))
    process = subprocess.Popen([REGISTRY_BINARY, "serve", str(path)], stdout=subprocess.DEVNULL,
                               stderr=(folder / f"registry-{port}.log").open("wb"))
    registry = Registry(process, port, "https" if tls else "http", folder)
    deadline = time.monotonic() + 10
    with httpx.Client(verify=ssl_context or True) as client:
        while True:
            try:
                client.get(f"{registry.url}/v2/", timeout=1)
                return registry
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    registry.stop()
                    raise RuntimeError(f"docker-registry did not start: "
                                       f"{(folder / f'registry-{port}.log').read_text()[-2000:]}") from None
                time.sleep(0.02)


# -- pushing minimal OCI images ----------------------------------------------------------------------

def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _layer(content: bytes) -> tuple[bytes, str]:
    """A gzip tar with one file; returns (blob, diff_id)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    tar_bytes = raw.getvalue()
    return gzip.compress(tar_bytes, mtime=0), _digest(tar_bytes)


def push_blob(client: httpx.Client, base: str, repo: str, data: bytes) -> str:
    digest = _digest(data)
    if client.head(f"{base}/v2/{repo}/blobs/{digest}").status_code == 200:
        return digest
    started = client.post(f"{base}/v2/{repo}/blobs/uploads/")
    assert started.status_code == 202, started.status_code
    location = httpx.URL(base).join(started.headers["location"])
    # The Location already carries a query string (_state=...): append, never replace it.
    sep = "&" if location.query else "?"
    done = client.put(f"{location}{sep}digest={urllib.parse.quote(digest)}", content=data,
                      headers={"Content-Type": "application/octet-stream"})
    assert done.status_code == 201, (done.status_code, done.text)
    return digest


def push_manifest(client: httpx.Client, base: str, repo: str, ref: str, manifest: dict, media_type: str) -> str:
    body = json.dumps(manifest).encode()
    answer = client.put(f"{base}/v2/{repo}/manifests/{ref}", content=body, headers={"Content-Type": media_type})
    assert answer.status_code == 201, (answer.status_code, answer.text)
    return _digest(body)


def push_image(client: httpx.Client, base: str, repo: str, tag: str | None, *, os: str = "linux",
               arch: str = "amd64") -> tuple[str, int]:
    """A one-layer OCI image; returns (manifest digest, manifest size)."""
    layer, diff_id = _layer(f"{repo} {os}/{arch}\n".encode())
    config = json.dumps({"architecture": arch, "os": os, "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                         "config": {}}).encode()
    manifest = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": push_blob(client, base, repo, config), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": push_blob(client, base, repo, layer), "size": len(layer)}],
    }
    body = json.dumps(manifest).encode()
    digest = push_manifest(client, base, repo, tag or _digest(body), manifest, OCI_MANIFEST)
    return digest, len(body)


def push_index(client: httpx.Client, base: str, repo: str, tag: str, platforms: list[str]) -> str:
    """An OCI index over one image per `os/arch`; returns its digest."""
    entries = []
    for platform in platforms:
        os, arch = platform.split("/")[:2]
        digest, size = push_image(client, base, repo, None, os=os, arch=arch)
        entries.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": size,
                        "platform": {"os": os, "architecture": arch}})
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    return push_manifest(client, base, repo, tag, index, OCI_INDEX)


# -- small local HTTP servers ------------------------------------------------------------------------

@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


Handler = Callable[["Seen"], tuple[int, dict[str, str], bytes]]


@dataclass
class LocalServer:
    """A threaded HTTP(S) server on 127.0.0.1 that answers with `handler` and records every request."""

    handler: Handler
    ssl_context: ssl.SSLContext | None = None
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Seen(self.command, self.path, dict(self.headers.items()), self.rfile.read(length))
                outer.seen.append(request)
                status, headers, body = outer.handler(request)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        class _Server(ThreadingHTTPServer):
            request_queue_size = 128  # the default 5 drops SYNs of concurrent clients (1 s retransmits)

        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        if self.ssl_context is not None:
            self._server.socket = self.ssl_context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, host: str = "127.0.0.1") -> str:
        return f"{'https' if self.ssl_context else 'http'}://{host}:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def signing_pair() -> tuple[bytes, bytes, bytes]:
    """(CA certificate PEM, signer key PEM, signer certificate PEM) for a token service, made with
    cryptography alone (the benchmarks run without trustme): the CA goes into the registry's
    `rootcertbundle`, the signer's certificate into each token's `x5c`."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject: str, key, issuer: str, issuer_key, ca: bool) -> x509.Certificate:
        return (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
                .sign(issuer_key, hashes.SHA256()))
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = certificate("bench CA", ca_key, "bench CA", ca_key, True)
    leaf = certificate("token-signer", key, "bench CA", ca_key, False)
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return ca.public_bytes(pem), key_pem, leaf.public_bytes(pem)


class TokenIssuer:
    """What a registry's token service does: check Basic credentials (or a refresh token), then sign
    an RS256 JWT (certificate in `x5c`) granting pull on the repositories the caller may read."""

    def __init__(self, leaf=None, *, service: str = "test", issuer: str = "test",
                 users: dict[str, str] | None = None, refresh_tokens: dict[str, str] | None = None,
                 anonymous: set[str] = frozenset(), key_pem: bytes | None = None, cert_pem: bytes | None = None):
        """`leaf`: a trustme leaf certificate; or its PEMs as `key_pem` and `cert_pem` (signing_pair())."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.x509 import load_pem_x509_certificate

        if leaf is not None:
            key_pem, cert_pem = leaf.private_key_pem.bytes(), leaf.cert_chain_pems[0].bytes()
        self.key = serialization.load_pem_private_key(key_pem, password=None)
        cert = load_pem_x509_certificate(cert_pem)
        self.x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        self.service, self.issuer = service, issuer
        self.users = users or {}
        self.refresh_tokens = refresh_tokens or {}  # refresh token -> user
        self.anonymous = set(anonymous)  # repositories anyone may pull

    def sign(self, subject: str, access: list[dict]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {"iss": self.issuer, "sub": subject, "aud": self.service, "exp": now + 300, "nbf": now - 10,
                  "iat": now, "jti": f"{subject}-{time.monotonic_ns()}", "access": access}
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64(signature)}"

    def __call__(self, request: Seen) -> tuple[int, dict[str, str], bytes]:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.path).query)
        user = None
        if request.method == "POST":
            form = urllib.parse.parse_qs(request.body.decode())
            query = {**query, **form}
            user = self.refresh_tokens.get((form.get("refresh_token") or [""])[0])
            if user is None:
                return 401, {}, b'{"errors":[{"code":"UNAUTHORIZED"}]}'
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            name, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            if self.users.get(name) != password:
                return 401, {"WWW-Authenticate": 'Basic realm="token"'}, b'{"errors":[{"code":"UNAUTHORIZED"}]}'
            user = name
        access = []
        for scope in query.get("scope", []):
            kind, _, rest = scope.partition(":")
            name = rest.rpartition(":")[0]
            if kind == "repository" and (user is not None or name in self.anonymous):
                access.append({"type": "repository", "name": name, "actions": ["pull"]})
        token = self.sign(user or "", access)
        return 200, {"Content-Type": "application/json"}, json.dumps({"token": token, "expires_in": 300}).encode()


# -- fixtures shared by the registry tests (import them by name) ------------------------------------

def _fixture(**kwargs):
    return pytest.fixture(**kwargs) if pytest is not None else (lambda function: function)


@_fixture(scope="session")
def ca():
    import trustme
    return trustme.CA()


@_fixture(scope="session")
def client_ssl(ca) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@_fixture(scope="session")
def server_ssl(ca) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@_fixture(scope="session")
def registry_data(tmp_path_factory) -> dict:
    """One storage folder with the test images, pushed through an open registry."""
    folder = tmp_path_factory.mktemp("registry-data")
    registry = start_registry(folder, data=folder / "data")
    try:
        with httpx.Client(timeout=10) as client:
            digest, _ = push_image(client, registry.url, "acme/pay-web", "1.4.2")
            push_image(client, registry.url, "acme/rbac-web", "1.4.2")
            # the healthy example's cert-manager controller, from the platform's mirror
            push_image(client, registry.url, "jetstack/cert-manager-controller", "v1.19.1")
            push_image(client, registry.url, "public/tool", "1.0")
            push_index(client, registry.url, "acme/multi", "1.0", ["linux/amd64", "linux/arm64"])
            push_index(client, registry.url, "acme/armonly", "1.0", ["linux/arm64"])
    finally:
        registry.stop()
    return {"data": folder / "data", "pay_digest": digest}


@_fixture(scope="session")
def open_registry(registry_data, tmp_path_factory):
    registry = start_registry(tmp_path_factory.mktemp("open"), data=registry_data["data"])
    yield registry
    registry.stop()
