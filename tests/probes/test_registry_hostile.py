"""RegistryClient against registries, proxies and token services that misbehave (tests/hostile_registry.py).

The normal paths run against Debian's docker-registry (test_registry.py); these are the answers a real
registry never gives: bytes dripped for ever, redirects of credential-bearing requests to other
origins, tokens with CR/LF/NUL, 200s that are not manifests, indexes with NaN, huge bodies. Each test
asserts what the client answered and, from what the servers recorded, where every credential went.
Every test ends well under 10 s.
"""
# ruff: noqa: F811 - the registry fixtures are imported by name

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from pathlib import Path

import httpx
import pytest
from conftest import gate_cli
from hostile_registry import (
    DIGEST,
    MANIFEST_HEADERS,
    OCI_INDEX,
    Answer,
    HostileServer,
    Request,
    bearer_challenge,
    redirect,
    token_answer,
)
from registry_server import ca, client_ssl, server_ssl  # noqa: F401 - fixtures are used by name

from gate.domain.imageref import parse
from gate.probes import registry as reg
from gate.probes.credentials import CredentialStore
from gate.report import FORMATS

USER, PASSWORD = "alice", "hostile-pa55word"
IDENTITY_TOKEN = "refresh-token-hostile-0123"
REDIRECTS = (301, 302, 303, 307, 308)


def ask(refs: list[str], *, config: Path | None = None, ssl_context=None,
        **settings) -> tuple[dict[str, reg.ManifestAnswer], float]:
    """Check references with a fresh client; returns (reference text -> answer, seconds it took)."""
    store = CredentialStore(config or "/nonexistent/config.json", env={})
    parsed = {text: parse(text) for text in refs}

    async def go():
        async with reg.RegistryClient(store, reg.RegistrySettings(**settings), ssl_context=ssl_context) as client:
            answers = await client.check_all(parsed.values())
            return {text: answers[ref] for text, ref in parsed.items()}
    start = time.monotonic()
    answers = asyncio.run(go())
    return answers, time.monotonic() - start


def config_file(tmp_path: Path, registry: str, **entry: str) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {registry: entry}}))
    return path


def manifest_of(server: HostileServer, repo: str = "acme/app", tag: str = "1") -> str:
    return f"{server.host}/{repo}:{tag}"


# -- 1. time: drips are bounded per request and per run ------------------------------------------------

@pytest.mark.parametrize("part", ["status", "headers"])
def test_a_drip_is_cut_at_the_request_limit(part):
    """One byte every 0.3 s (under httpx's 1 s read timeout, which restarts on every byte) in the status
    line or the headers: unavailable after the 1 s request limit x 2 attempts, not after minutes."""
    server = HostileServer(lambda r: Answer(200, MANIFEST_HEADERS, drip=part, interval=0.3))
    try:
        answers, took = ask([manifest_of(server)], insecure=frozenset({server.host}), timeout=1.0,
                            retries=1, backoff=0.01)
    finally:
        server.stop()
    answer = answers[manifest_of(server)]
    assert answer.outcome == reg.UNAVAILABLE
    assert f"{server.host} sent no complete answer within 1 s" in answer.detail
    assert len(server.seen) == 2 and took < 4


def test_a_dripped_index_body_is_cut_at_the_request_limit():
    """An index whose body drips (the GET for the platform check) is cut at the request limit as well."""
    def scenario(request: Request) -> Answer:
        body = b'{"schemaVersion": 2, "manifests": []}'
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        return Answer(200, {"Content-Type": OCI_INDEX, "Docker-Content-Digest": digest}, body, drip="body",
                      interval=0.3)
    server = HostileServer(scenario)
    try:
        answers, took = ask([manifest_of(server)], insecure=frozenset({server.host}), timeout=1.0, retries=0,
                            platforms=("linux/amd64",))
    finally:
        server.stop()
    answer = answers[manifest_of(server)]
    assert [r.method for r in server.seen] == ["HEAD", "GET"]
    assert answer.found and "no complete answer within 1 s" in answer.platform_problem and took < 3


def test_the_run_deadline_answers_every_pending_reference():
    """Bytes every 4 s, under the default 10 s limits: the run's deadline (1.5 s here) answers all the
    references that are still waiting, unavailable, and says which setting ended them."""
    server = HostileServer(lambda r: Answer(200, MANIFEST_HEADERS, drip="headers", interval=4.0))
    refs = [manifest_of(server, f"acme/app{i}") for i in range(5)]
    try:
        answers, took = ask(refs, insecure=frozenset({server.host}), deadline=1.5)
    finally:
        server.stop()
    assert {a.outcome for a in answers.values()} == {reg.UNAVAILABLE}
    assert all("within the run's deadline (registries.deadline: 1.5 s)" in a.detail for a in answers.values())
    assert 1.4 < took < 3


def test_the_policy_deadline_bounds_gate_check(tmp_path):
    """`registries.deadline` in the policy bounds `gate check` (the same in CI and in the PreSync Job):
    a dripping registry is image-unverifiable within the deadline, exit code 1."""
    server = HostileServer(lambda r: Answer(200, MANIFEST_HEADERS, drip="status", interval=4.0))
    render = tmp_path / "pod.yaml"
    render.write_text(f"apiVersion: v1\nkind: Pod\nmetadata: {{name: app, namespace: shop}}\n"
                      f"spec:\n  containers:\n    - {{name: app, image: '{server.host}/acme/app:1'}}\n")
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"version: 1\nregistries:\n  deadline: 1.5\n  insecure: ['{server.host}']\n")
    start = time.monotonic()
    try:
        result = gate_cli("check", "--policy", str(policy), "--include", "image-unverifiable", "--format",
                          f"json={tmp_path / 'out.json'}", str(render), timeout=20)
    finally:
        server.stop()
    took = time.monotonic() - start
    report = json.loads((tmp_path / "out.json").read_text())
    assert result.returncode == 1, result.stderr.decode()[-2000:]
    assert [f["check"] for f in report["findings"]] == ["image-unverifiable"]
    assert "registries.deadline: 1.5 s" in report["findings"][0]["message"]
    assert took < 8


@pytest.mark.parametrize("value", ["0", "-1", ".nan", ".inf", "601", "'30'"])
def test_the_policy_deadline_is_validated(tmp_path, value):
    """registries.deadline is a positive, finite number of seconds, at most 600 (NaN included)."""
    path = tmp_path / "policy.yaml"
    path.write_text(f"version: 1\nregistries:\n  deadline: {value}\n")
    result = gate_cli("policy", "validate", str(path))
    assert result.returncode == 2 and b"registries.deadline" in result.stderr, value
    path.write_text("version: 1\nregistries:\n  deadline: 45.5\n")
    assert gate_cli("policy", "validate", str(path)).returncode == 0


# -- 2. redirects never carry a credential to another origin -------------------------------------------

@pytest.fixture
def token_service(server_ssl):
    """A plain-HTTP registry whose HTTPS token service (another port) is allowed in authHosts, and a
    third HTTPS listener on yet another port, the other origin the token service redirects to."""
    other = HostileServer(lambda r: token_answer("stolen"), ssl_context=server_ssl)
    state = {"status": 307}
    token = HostileServer(lambda r: redirect(state["status"], f"{other.url()}/token"), ssl_context=server_ssl)

    def registry_scenario(request: Request) -> Answer:
        if request.headers.get("authorization") in ("Bearer stolen", "Bearer good"):
            return Answer(200, MANIFEST_HEADERS)
        return Answer(401, bearer_challenge(f"{token.url()}/token"))
    registry = HostileServer(registry_scenario)
    settings = {"insecure": frozenset({registry.host}),
                "auth_hosts": {registry.host: frozenset({token.host})}}
    yield registry, token, other, state, settings
    for server in (registry, token, other):
        server.stop()


@pytest.mark.parametrize("status", REDIRECTS)
def test_refresh_token_is_never_reposted_to_another_origin(token_service, tmp_path, client_ssl, status):
    """The identity-token POST answered with any redirect to another origin: not followed, so the other
    origin receives nothing at all; the answer says why, without the token."""
    registry, token, other, state, settings = token_service
    state["status"] = status
    config = config_file(tmp_path, registry.host, username="x", identitytoken=IDENTITY_TOKEN)
    answers, _ = ask([manifest_of(registry)], config=config, ssl_context=client_ssl, retries=0, **settings)
    answer = answers[manifest_of(registry)]
    assert [r.method for r in token.seen] == ["POST"] and token.seen[0].carries(IDENTITY_TOKEN)
    assert other.seen == []
    assert answer.outcome == reg.AUTHENTICATION
    assert f"redirected the credential-bearing request (HTTP {status}) to another origin" in answer.detail
    assert IDENTITY_TOKEN not in answer.detail


@pytest.mark.parametrize("status", REDIRECTS)
def test_basic_credentials_to_the_token_service_stay_in_its_origin(token_service, tmp_path, client_ssl, status):
    """The token GET with Basic credentials redirected to another origin: it follows without them."""
    registry, token, other, state, settings = token_service
    state["status"] = status
    config = config_file(tmp_path, registry.host, username=USER, password=PASSWORD)
    answers, _ = ask([manifest_of(registry)], config=config, ssl_context=client_ssl, retries=0, **settings)
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert token.seen and all(r.headers.get("authorization") == f"Basic {basic}" for r in token.seen)
    assert other.seen and all("authorization" not in r.headers and not r.carries(basic) for r in other.seen)
    assert all(r.method == "GET" for r in other.seen)
    assert answers[manifest_of(registry)].found  # the token it handed out anonymously was accepted


def test_no_credential_for_a_token_realm_on_another_port(tmp_path, server_ssl, client_ssl):
    """The registry names an HTTPS realm on another port of its own host, not in authHosts: the token
    service is asked anonymously (it records no Authorization), and the answer says why."""
    token = HostileServer(lambda r: token_answer("anonymous"), ssl_context=server_ssl)
    registry = HostileServer(lambda r: Answer(403) if r.headers.get("authorization") == "Bearer anonymous"
                             else Answer(401, bearer_challenge(f"{token.url()}/token")))
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    try:
        answers, _ = ask([manifest_of(registry)], ssl_context=client_ssl, insecure=frozenset({registry.host}),
                         config=config_file(tmp_path, registry.host, username=USER, password=PASSWORD))
    finally:
        registry.stop()
        token.stop()
    answer = answers[manifest_of(registry)]
    assert token.seen and all("authorization" not in r.headers and not r.carries(basic) for r in token.seen)
    assert not any(r.carries(basic) for r in registry.seen)
    assert answer.outcome == reg.AUTHORIZATION
    assert f"not sent to the token service {token.host} because {token.host} is not the registry's origin" \
        in answer.detail


@pytest.mark.parametrize("status", REDIRECTS)
def test_manifest_redirect_to_another_port_drops_authorization(tmp_path, status):
    """The registry redirects the credentialed HEAD to another port of its host (another origin): the
    request there carries no Authorization, and stays a HEAD (also after a 303)."""
    other = HostileServer(lambda r: Answer(200, MANIFEST_HEADERS))

    def scenario(request: Request) -> Answer:
        if "authorization" not in request.headers:
            return Answer(401, {"WWW-Authenticate": 'Basic realm="hostile"'})
        return redirect(status, f"{other.url()}{request.path}")
    registry = HostileServer(scenario)
    try:
        answers, _ = ask([manifest_of(registry)], insecure=frozenset({registry.host}),
                         config=config_file(tmp_path, registry.host, username=USER, password=PASSWORD))
    finally:
        registry.stop()
        other.stop()
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert answers[manifest_of(registry)].found
    assert any(r.carries(basic) for r in registry.seen)
    assert other.seen and all(not r.carries(basic) and "authorization" not in r.headers for r in other.seen)
    assert {r.method for r in other.seen} == {"HEAD"}


def test_redirect_location_userinfo_is_dropped():
    """A Location with user:password@ in it does not make the client send Basic credentials there."""
    other = HostileServer(lambda r: Answer(200, MANIFEST_HEADERS))
    registry = HostileServer(lambda r: redirect(302, f"http://planted:secret@127.0.0.1:{other.port}{r.path}"))
    try:
        answers, _ = ask([manifest_of(registry)], insecure=frozenset({registry.host}))
    finally:
        registry.stop()
        other.stop()
    assert answers[manifest_of(registry)].found
    assert other.seen and all("authorization" not in r.headers for r in other.seen)


# -- 3. tokens and credentials with CR, LF, NUL --------------------------------------------------------

EVIL_TOKENS = ["tok3n-secret\r\nX-Injected: yes", "tok3n-secret\nX-Injected: yes", "tok3n-secret\x00tail"]


def evil_registry(token: str) -> tuple[HostileServer, HostileServer]:
    """A registry whose (anonymous, plain-HTTP) token service hands out `token`."""
    service = HostileServer(lambda r: token_answer(token))

    def scenario(request: Request) -> Answer:
        if request.headers.get("authorization", "").startswith("Bearer "):
            return Answer(200, MANIFEST_HEADERS)
        return Answer(401, bearer_challenge(f"{service.url()}/token"))
    return HostileServer(scenario), service


@pytest.mark.parametrize("token", EVIL_TOKENS)
def test_a_token_with_control_characters_is_never_sent_nor_shown(token):
    """A token with CR, LF or NUL from the token service: not sent (no injected header reaches the
    registry), and the answer shows neither the token nor an Authorization header."""
    registry, service = evil_registry(token)
    try:
        answers, _ = ask([manifest_of(registry)], insecure=frozenset({registry.host}), retries=0)
    finally:
        registry.stop()
        service.stop()
    answer = answers[manifest_of(registry)]
    assert answer.outcome == reg.BAD_FORMAT and "malformed token" in answer.detail
    assert not any(r.carries("tok3n-secret") or "x-injected" in r.headers for r in registry.seen)
    assert "tok3n-secret" not in repr(answer) and "Authorization" not in answer.detail


def test_evil_token_is_in_no_output_format(tmp_path):
    """End to end: `gate check --debug` in every output format never prints the token."""
    registry, service = evil_registry(EVIL_TOKENS[0])
    render = tmp_path / "pod.yaml"
    render.write_text(f"apiVersion: v1\nkind: Pod\nmetadata: {{name: app, namespace: shop}}\n"
                      f"spec:\n  containers:\n    - {{name: app, image: '{registry.host}/acme/app:1'}}\n")
    outputs = [f"{name}={tmp_path / f'out.{name}'}" for name in FORMATS]
    try:
        result = gate_cli("check", "--debug", "--insecure-registry", registry.host, "--include",
                          "image-unverifiable", *[a for o in outputs for a in ("--format", o)], str(render))
    finally:
        registry.stop()
        service.stop()
    assert result.returncode == 1, result.stderr.decode()[-2000:]
    texts = [result.stdout, result.stderr, *((tmp_path / f"out.{name}").read_bytes() for name in FORMATS)]
    assert all(b"tok3n-secret" not in text for text in texts)
    assert b"bad answer format" in (tmp_path / "out.text").read_bytes()


@pytest.mark.parametrize("entry", [
    {"username": USER, "password": "pa55\r\nX-Injected: yes"},
    {"username": "al\nice", "password": PASSWORD},
    {"username": "x", "identitytoken": "refresh\x00token"},
])
def test_a_configured_credential_with_control_characters_is_refused(tmp_path, server_ssl, client_ssl, entry):
    """A Docker config credential holding CR, LF or NUL: "credential for HOST is malformed", and nothing
    of it reaches the registry or its token service."""
    service = HostileServer(lambda r: token_answer("good"), ssl_context=server_ssl)
    basic_registry = HostileServer(lambda r: Answer(401, {"WWW-Authenticate": 'Basic realm="x"'}))
    bearer_registry = HostileServer(lambda r: Answer(401, bearer_challenge(f"{service.url()}/token")))
    try:
        for registry in (basic_registry, bearer_registry):
            answers, _ = ask([manifest_of(registry)], config=config_file(tmp_path, registry.host, **entry),
                             ssl_context=client_ssl, insecure=frozenset({registry.host}),
                             auth_hosts={registry.host: frozenset({service.host})})
            answer = answers[manifest_of(registry)]
            assert answer.outcome == reg.AUTHENTICATION
            assert f"credential for {registry.host} is malformed" in answer.detail
            assert not any(secret and secret in answer.detail for secret in entry.values() if secret != "x")
    finally:
        for server in (service, basic_registry, bearer_registry):
            server.stop()
    assert all("authorization" not in r.headers for r in basic_registry.seen + bearer_registry.seen)
    assert service.seen == []


def test_transport_errors_are_described_without_their_text():
    """The text of an httpx error (h11 quotes the refused header value) never reaches a message."""
    url = httpx.URL("https://registry.example.com:5000/v2/")
    secret = "Bearer tok3n-secret\r\n"
    for error in (httpx.LocalProtocolError(f"Illegal header value {secret!r}"),
                  httpx.RemoteProtocolError(f"peer sent {secret!r}"), httpx.ConnectError(secret),
                  httpx.ReadError(secret), httpx.ReadTimeout(secret)):
        text = reg.describe_error(error, url)
        assert "tok3n" not in text and "registry.example.com:5000" in text and type(error).__name__ in text


# -- 5. a 200 must look like a manifest ----------------------------------------------------------------

@pytest.mark.parametrize(("headers", "cause"), [
    ({"Content-Type": reg.OCI_MANIFEST}, "bad answer: no digest"),
    ({"Content-Type": reg.OCI_MANIFEST, "Docker-Content-Digest": "sha256:12"}, "bad answer: no digest"),
    ({"Content-Type": "text/html", "Docker-Content-Digest": DIGEST}, "bad answer: not a manifest media type"),
    ({"Docker-Content-Digest": DIGEST}, "bad answer: not a manifest media type"),
    ({"Content-Type": "text/html; charset=utf-8"}, "bad answer: not a manifest media type"),
])
def test_a_200_that_is_not_a_manifest_is_unverifiable(headers, cause):
    """A captive proxy answering 200 to everything (no digest, text/html, no type) passes no image."""
    server = HostileServer(lambda r: Answer(200, headers, b"<html>Welcome to the hotel wifi</html>"))
    try:
        answers, _ = ask([manifest_of(server)], insecure=frozenset({server.host}))
    finally:
        server.stop()
    answer = answers[manifest_of(server)]
    assert answer.outcome == reg.BAD_FORMAT and cause in answer.detail


def test_a_digest_reference_answered_with_another_digest_is_unverifiable():
    """Asked for @sha256:aaa.., a 200 naming another digest is not that manifest."""
    server = HostileServer(lambda r: Answer(200, MANIFEST_HEADERS))
    ref = f"{server.host}/acme/app@sha256:{'a' * 64}"
    try:
        answers, _ = ask([ref], insecure=frozenset({server.host}))
    finally:
        server.stop()
    assert answers[ref].outcome == reg.BAD_FORMAT and "another digest" in answers[ref].detail


# -- 6. index bodies are strict JSON, the index the digest names, of a sane size -----------------------

def index_server(body: bytes, *, digest: str | None = None, **answer) -> HostileServer:
    digest = digest or "sha256:" + hashlib.sha256(body).hexdigest()
    headers = {"Content-Type": OCI_INDEX, "Docker-Content-Digest": digest}
    return HostileServer(lambda r: Answer(200, headers, body, **answer))


@pytest.mark.parametrize(("body", "cause"), [
    (b'{"schemaVersion": 2, "manifests": NaN}', "not strict JSON"),
    (b'{"manifests": [{"platform": {"os": "linux", "architecture": "amd64"}, "size": Infinity}]}',
     "not strict JSON"),
    (b'{"schemaVersion": 2, "manifests": [{"platform": -Infinity}]}', "not strict JSON"),
    (b'{"schemaVersion": 2, "manifests": [], "x": "\xff"}', "not strict JSON"),
    (b'{"schemaVersion": 2}', "has no `manifests` list"),
])
def test_an_unreadable_index_is_unverifiable(body, cause):
    """An index body with NaN/Infinity, invalid UTF-8 or no manifests list is a bad answer
    (image-unverifiable), never an index without platforms (a verified platform warning)."""
    server = index_server(body)
    try:
        answers, _ = ask([manifest_of(server)], insecure=frozenset({server.host}), platforms=("linux/amd64",))
    finally:
        server.stop()
    answer = answers[manifest_of(server)]
    assert answer.outcome == reg.BAD_FORMAT and cause in answer.detail and answer.platforms is None


def test_an_index_body_must_match_its_digest():
    """A body that is not the one the HEAD's digest names (a proxy rewrote it) is a bad answer."""
    server = index_server(b'{"schemaVersion": 2, "manifests": []}', digest=DIGEST)
    try:
        answers, _ = ask([manifest_of(server)], insecure=frozenset({server.host}), platforms=("linux/amd64",))
    finally:
        server.stop()
    answer = answers[manifest_of(server)]
    assert answer.outcome == reg.BAD_FORMAT and "does not match its digest" in answer.detail


@pytest.mark.parametrize("announced", [True, False])
def test_a_huge_index_body_is_cut(announced):
    """An index body of 64 MiB is a bad answer whether its Content-Length announces it (refused unread)
    or not (a body until the connection closes, read no further than the 4 MiB limit)."""
    server = index_server(b'{"manifests": ["', digest=DIGEST, filler=64 * 1024 * 1024,
                          length=None if announced else -1)
    try:
        answers, took = ask([manifest_of(server)], insecure=frozenset({server.host}), platforms=("linux/amd64",))
    finally:
        server.stop()
    answer = answers[manifest_of(server)]
    assert answer.outcome == reg.BAD_FORMAT and f"larger than {reg.MAX_BODY} bytes" in answer.detail
    assert took < 5
