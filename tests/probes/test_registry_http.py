"""The registry probe's HTTP/1.1 connections (gate/probes/registry_http.py) against servers that close,
smuggle, compress or stand in for a proxy (tests/hostile_registry.py), and against docker-registry.

What a connection pool gets wrong is a wrong answer to the next request (bytes left over from the
last one), a failure where a kept-alive connection merely ended, or a new connection per request;
and a proxy the environment names must still be used."""
# ruff: noqa: F811 - the registry fixtures are imported by name

from __future__ import annotations

import gzip
import hashlib
import json

from hostile_registry import DIGEST, MANIFEST_HEADERS, OCI_INDEX, OCI_MANIFEST, Answer, HostileServer
from registry_server import ca, client_ssl, open_registry, registry_data, server_ssl  # noqa: F401 - fixtures
from test_registry import ask

from gate.probes import registry as reg


def test_a_kept_alive_connection_the_server_ended_is_replaced_at_once():
    """A server that ends each connection when its second request arrives (a keep-alive timeout running
    out as the request went out): the HEAD goes again at once on a new connection, not as a failure
    and not after the retry backoff (retries are off here)."""
    server = HostileServer(lambda r: Answer(200, MANIFEST_HEADERS) if r.on_connection == 0 else Answer(drop=True))
    refs = [f"{server.host}/acme/app:{i}" for i in range(10)]
    try:
        answers, client = ask(refs, insecure=frozenset({server.host}), concurrency=1, retries=0)
    finally:
        server.stop()
    assert all(a.found for a in answers.values()), answers
    # each connection answered one HEAD and dropped the next, which went again on the next connection
    assert server.connections == 10 and len(server.seen) == 19 and client.requests == 10


def test_bytes_after_an_answer_are_never_the_next_answer():
    """A HEAD answered with a body that looks like a second response (a broken server, a smuggling
    attempt): the connection is not reused, so the next reference gets the registry's own answer (404),
    not the smuggled 200."""
    smuggled = (f"HTTP/1.1 200 OK\r\nContent-Type: {OCI_MANIFEST}\r\nDocker-Content-Digest: {DIGEST}\r\n"
                f"Content-Length: 0\r\n\r\n").encode()
    server = HostileServer(lambda r: Answer(200, MANIFEST_HEADERS, extra=smuggled) if r.path.endswith("/1")
                           else Answer(404, {}, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}'))
    first, second = f"{server.host}/acme/app:1", f"{server.host}/acme/app:2"
    try:
        answers, _ = ask([first, second], insecure=frozenset({server.host}), concurrency=1)
    finally:
        server.stop()
    assert answers[first].found
    assert answers[second].outcome == reg.ABSENT
    assert server.connections == 2


def test_a_compressed_index_is_read_though_identity_was_asked_for():
    """The probe asks for `Accept-Encoding: identity`; a server gzipping the index anyway is decoded
    (as httpx does), and the digest is checked on the decoded body."""
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": DIGEST, "size": 1,
         "platform": {"os": "linux", "architecture": "arm64"}}]}).encode()
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    headers = {"Content-Type": OCI_INDEX, "Docker-Content-Digest": digest}
    server = HostileServer(lambda r: Answer(200, {**headers, "Content-Encoding": "gzip"}, gzip.compress(body))
                           if r.method == "GET" else Answer(200, headers))
    ref = f"{server.host}/acme/multi:1"
    try:
        answers, _ = ask([ref], insecure=frozenset({server.host}), platforms=("linux/amd64",))
    finally:
        server.stop()
    assert answers[ref].found and answers[ref].platforms == ("linux/arm64",)
    assert [r.headers.get("accept-encoding") for r in server.seen] == ["identity", "identity"]


def test_a_proxy_named_by_the_environment_is_used(monkeypatch):
    """HTTP_PROXY in the environment: the requests go to the proxy (as httpx sends them), for a registry
    name that does not even resolve here."""
    proxy = HostileServer(lambda r: Answer(200, MANIFEST_HEADERS))
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url())
    ref = "registry.invalid:5000/acme/app:1"
    try:
        answers, _ = ask([ref], insecure=frozenset({"registry.invalid:5000"}))
    finally:
        proxy.stop()
    assert answers[ref].found
    assert [r.path for r in proxy.seen] == ["http://registry.invalid:5000/v2/acme/app/manifests/1"]


def test_docker_registry_is_asked_over_at_most_concurrency_connections(open_registry):
    """200 references against the real registry at concurrency 8 cost 200 HEADs over at most 8
    connections, each kept alive (a new connection per reference is what made the probe slow)."""
    host = open_registry.host
    refs = [f"{host}/acme/pay-web:1.4.2", *(f"{host}/acme/pay-web:absent-{i}" for i in range(199))]
    answers, client = ask(refs, insecure=frozenset({host}), concurrency=8)
    assert answers[refs[0]].found and all(answers[r].outcome == reg.ABSENT for r in refs[1:])
    assert client.requests == 200 and 1 <= client.connections <= 8


def test_names_of_one_manifest_cost_one_request(open_registry, registry_data):
    """`repo`, `repo:latest`, and a digest with or without a tag in front name one manifest each: one
    HEAD per manifest, every name answered."""
    host, digest = open_registry.host, registry_data["pay_digest"]
    refs = [f"{host}/acme/pay-web:1.4.2@{digest}", f"{host}/acme/pay-web@{digest}",
            f"{host}/acme/pay-web:0.0.1@{digest}", f"{host}/acme/nope", f"{host}/acme/nope:latest"]
    answers, client = ask(refs, insecure=frozenset({host}))
    assert [answers[r].outcome for r in refs] == [reg.FOUND] * 3 + [reg.ABSENT] * 2
    assert client.requests == 2


def test_tls_connections_are_kept_alive(server_ssl, client_ssl):
    """Over HTTPS too: 60 references at concurrency 4 cost 60 HEADs over at most 4 TLS connections (a
    handshake per reference would cost more than the HEAD)."""
    server = HostileServer(lambda r: Answer(200, MANIFEST_HEADERS), ssl_context=server_ssl)
    refs = [f"{server.host}/acme/app:{i}" for i in range(60)]
    try:
        answers, client = ask(refs, ssl_context=client_ssl, concurrency=4)
    finally:
        server.stop()
    assert all(a.found for a in answers.values())
    assert len(server.seen) == 60 and server.connections <= 4 and client.connections == server.connections
