"""RegistryClient against a real registry (Debian docker-registry) and small local servers."""
# ruff: noqa: F811 - the registry fixtures are imported by name

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import subprocess
import time
from pathlib import Path

import pytest
import trustme
from hostile_registry import Answer, HostileServer, bearer_challenge, token_answer
from registry_server import (  # noqa: F401 - fixtures are used by name
    REGISTRY_BINARY,
    LocalServer,
    Seen,
    TokenIssuer,
    ca,
    client_ssl,
    open_registry,
    registry_data,
    server_ssl,
    start_registry,
)

from gate.domain.imageref import parse
from gate.probes import registry as reg
from gate.probes.credentials import CredentialStore

pytestmark = pytest.mark.skipif(REGISTRY_BINARY is None, reason="docker-registry is not installed (.ci/run)")

USER, PASSWORD = "alice", "s3cret-pa55word"
IDENTITY_TOKEN = "refresh-token-0123456789"
MANIFEST_HEADERS = {"Content-Type": reg.OCI_MANIFEST, "Docker-Content-Digest": "sha256:" + "0" * 64}


# -- fixtures ----------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def basic_registry(registry_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("basic")
    htpasswd = subprocess.run(["htpasswd", "-Bbn", USER, PASSWORD], capture_output=True, check=True).stdout
    (folder / "htpasswd").write_bytes(htpasswd)
    registry = start_registry(folder, data=registry_data["data"],
                              auth={"htpasswd": {"realm": "test", "path": str(folder / "htpasswd")}})
    yield registry
    registry.stop()


@pytest.fixture(scope="session")
def token_setup(ca, server_ssl, registry_data, tmp_path_factory):
    """A registry with `auth.token`, its HTTPS token service on 127.0.0.1, and a second token service
    on `localhost` (another host) that records what it is sent."""
    folder = tmp_path_factory.mktemp("token")
    signer = ca.issue_cert("token-signer", key_type=trustme.KeyType.RSA)
    (folder / "bundle.pem").write_bytes(ca.cert_pem.bytes())
    issuer = TokenIssuer(signer, users={USER: PASSWORD}, refresh_tokens={IDENTITY_TOKEN: USER},
                         anonymous={"public/tool"})
    token_server = LocalServer(issuer, ssl_context=server_ssl)
    plain_token_server = LocalServer(issuer)

    def start(realm: str):
        return start_registry(folder / realm.replace("/", "_").replace(":", "_"), data=registry_data["data"],
                              auth={"token": {"realm": realm, "service": "test", "issuer": "test",
                                              "rootcertbundle": str(folder / "bundle.pem")}})
    same_host = start(f"{token_server.url()}/token")
    other_host = start(f"{token_server.url('localhost')}/token")
    plain_realm = start(f"{plain_token_server.url()}/token")
    yield {"same": same_host, "other": other_host, "plain": plain_realm, "server": token_server,
           "plain_server": plain_token_server}
    for registry in (same_host, other_host, plain_realm):
        registry.stop()
    token_server.stop()
    plain_token_server.stop()


def config_file(tmp_path: Path, registry: str, **entry: str) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {registry: entry} if entry else {}}))
    return path


def ask(refs: list[str], *, config: Path | None = None, ssl_context: ssl.SSLContext | None = None,
        **settings) -> tuple[dict[str, reg.ManifestAnswer], reg.RegistryClient]:
    """Check references with a fresh client; returns (reference text -> answer, the client)."""
    store = CredentialStore(config or "/nonexistent/config.json", env={})
    parsed = {text: parse(text) for text in refs}

    async def go():
        async with reg.RegistryClient(store, reg.RegistrySettings(**settings), ssl_context=ssl_context) as client:
            answers = await client.check_all(parsed.values())
            return {text: answers[ref] for text, ref in parsed.items()}, client
    return asyncio.run(go())


def insecure(registry) -> dict:
    return {"insecure": frozenset({registry.host})}


def trusting(registry, token_server) -> dict:
    """Plain-HTTP `registry` whose HTTPS token service (on another port of 127.0.0.1, so another origin)
    is named in authHosts, as a registry with its token service beside it is configured."""
    return {**insecure(registry), "auth_hosts": {registry.host: frozenset({f"127.0.0.1:{token_server.port}"})}}


# -- an open registry --------------------------------------------------------------------------------

def test_open_registry_tags_digests_and_absence(open_registry, registry_data):
    """Pushed tags and digests are found; a missing tag, digest or repository is absent (not unverified)."""
    host = open_registry.host
    digest = registry_data["pay_digest"]
    answers, _ = ask([f"{host}/acme/pay-web:1.4.2", f"{host}/acme/pay-web@{digest}",
                      f"{host}/acme/pay-web:9.9.9", f"{host}/acme/pay-web@sha256:{'1' * 64}",
                      f"{host}/acme/never-pushed:1.0"], **insecure(open_registry))
    outcomes = [a.outcome for a in answers.values()]
    assert outcomes == [reg.FOUND, reg.FOUND, reg.ABSENT, reg.ABSENT, reg.ABSENT]
    assert answers[f"{host}/acme/pay-web:1.4.2"].digest == digest
    assert answers[f"{host}/acme/pay-web:1.4.2"].media_type == reg.OCI_MANIFEST
    assert "acme/pay-web:9.9.9" in answers[f"{host}/acme/pay-web:9.9.9"].detail


def test_each_reference_is_asked_once_with_head(open_registry):
    """A reference asked twice costs one HEAD; without required platforms no index body is fetched."""
    ref = parse(f"{open_registry.host}/acme/multi:1.0")

    async def go():
        store = CredentialStore("/nonexistent", env={})
        async with reg.RegistryClient(store, reg.RegistrySettings(**insecure(open_registry))) as client:
            first, second = await asyncio.gather(client.check(ref), client.check(ref))
            return first, second, client.requests
    first, second, requests = asyncio.run(go())
    assert first is second and first.found and first.media_type == reg.OCI_INDEX
    assert first.platforms is None and requests == 1


def test_index_platforms_are_read_only_for_the_platform_check(open_registry):
    """With required platforms, an index's body is read and its platforms listed."""
    host = open_registry.host
    answers, client = ask([f"{host}/acme/multi:1.0", f"{host}/acme/armonly:1.0", f"{host}/acme/pay-web:1.4.2"],
                          platforms=("linux/amd64",), **insecure(open_registry))
    assert answers[f"{host}/acme/multi:1.0"].platforms == ("linux/amd64", "linux/arm64")
    assert answers[f"{host}/acme/armonly:1.0"].platforms == ("linux/arm64",)
    assert answers[f"{host}/acme/pay-web:1.4.2"].platforms is None  # a single manifest: no GET
    assert client.requests == 5
    assert not reg.platform_matches("linux/amd64", ("linux/arm64",))
    assert reg.platform_matches("linux/arm64/v8", ("linux/arm64",))


def test_https_is_used_unless_the_registry_is_insecure(open_registry):
    """A registry not named insecure is asked over HTTPS: a plain-HTTP registry is then unavailable."""
    answers, _ = ask([f"{open_registry.host}/acme/pay-web:1.4.2"], retries=0)
    answer = answers[f"{open_registry.host}/acme/pay-web:1.4.2"]
    assert answer.outcome == reg.UNAVAILABLE and "TLS" in answer.detail


def test_stopped_registry_is_unavailable(tmp_path, registry_data):
    """A registry that stopped answering gives 'unavailable', never found nor absent."""
    registry = start_registry(tmp_path, data=registry_data["data"])
    registry.stop()
    answers, _ = ask([f"{registry.host}/acme/pay-web:1.4.2"], retries=1, backoff=0.01, **insecure(registry))
    answer = answers[f"{registry.host}/acme/pay-web:1.4.2"]
    assert answer.outcome == reg.UNAVAILABLE and "cannot reach" in answer.detail


# -- TLS ---------------------------------------------------------------------------------------------

def test_tls_registry_with_a_test_ca(ca, client_ssl, registry_data, tmp_path):
    """Over HTTPS the registry's certificate is verified: trusted CA -> found; unknown CA -> TLS error."""
    leaf = ca.issue_cert("127.0.0.1")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    key.write_bytes(leaf.private_key_pem.bytes())
    registry = start_registry(tmp_path, data=registry_data["data"], tls=(cert, key), ssl_context=client_ssl)
    try:
        ref = f"{registry.host}/acme/pay-web:1.4.2"
        trusted, _ = ask([ref], ssl_context=client_ssl)
        untrusted, _ = ask([ref], ssl_context=ssl.create_default_context(), retries=0)
    finally:
        registry.stop()
    assert trusted[ref].found
    assert untrusted[ref].outcome == reg.UNAVAILABLE and "TLS error" in untrusted[ref].detail


# -- Basic auth --------------------------------------------------------------------------------------

def test_basic_auth(basic_registry, tmp_path):
    """htpasswd Basic: no credentials -> authentication; wrong ones -> authentication; right ones -> found."""
    host, ref = basic_registry.host, f"{basic_registry.host}/acme/pay-web:1.4.2"
    none, _ = ask([ref], **insecure(basic_registry))
    wrong, _ = ask([ref], config=config_file(tmp_path, host, username=USER, password="nope"),
                   **insecure(basic_registry))
    right, _ = ask([ref, f"{host}/acme/missing:1"], config=config_file(tmp_path, host, username=USER,
                                                                        password=PASSWORD), **insecure(basic_registry))
    assert none[ref].outcome == reg.AUTHENTICATION and "none is configured" in none[ref].detail
    assert wrong[ref].outcome == reg.AUTHENTICATION and "rejected" in wrong[ref].detail
    assert right[ref].found and right[f"{host}/acme/missing:1"].outcome == reg.ABSENT


def test_basic_credentials_from_base64_auth(basic_registry, tmp_path):
    """`auths.<host>.auth` (base64 user:password) is used as Docker uses it."""
    import base64
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    ref = f"{basic_registry.host}/acme/rbac-web:1.4.2"
    answers, _ = ask([ref], config=config_file(tmp_path, f"http://{basic_registry.host}", auth=auth),
                     **insecure(basic_registry))
    assert answers[ref].found


# -- token auth --------------------------------------------------------------------------------------

def test_anonymous_token(token_setup, client_ssl):
    """Anonymous Bearer tokens: a public repository is found, a private one is 'not authorised'."""
    registry = token_setup["same"]
    public, private = f"{registry.host}/public/tool:1.0", f"{registry.host}/acme/pay-web:1.4.2"
    answers, _ = ask([public, private], ssl_context=client_ssl, **insecure(registry))
    assert answers[public].found
    assert answers[private].outcome == reg.AUTHORIZATION and "anonymously" in answers[private].detail


def test_token_with_credentials(token_setup, tmp_path, client_ssl):
    """Credentials go to an allowed HTTPS realm: found; wrong password -> authentication."""
    registry = token_setup["same"]
    ref = f"{registry.host}/acme/pay-web:1.4.2"
    allowed = trusting(registry, token_setup["server"])
    good, _ = ask([ref, f"{registry.host}/acme/rbac-web:1.4.2"], ssl_context=client_ssl,
                       config=config_file(tmp_path, registry.host, username=USER, password=PASSWORD), **allowed)
    bad, _ = ask([ref], ssl_context=client_ssl,
                 config=config_file(tmp_path, registry.host, username=USER, password="wrong"), **allowed)
    assert all(a.found for a in good.values())
    assert bad[ref].outcome == reg.AUTHENTICATION and "refused credentials" in bad[ref].detail


def test_identity_token_uses_the_refresh_token_grant(token_setup, tmp_path, client_ssl):
    """An `identitytoken` login is exchanged with a POST refresh_token grant, as Docker does."""
    registry, server = token_setup["same"], token_setup["server"]
    ref = f"{registry.host}/acme/rbac-web:1.4.2"
    before = len(server.seen)
    answers, _ = ask([ref], ssl_context=client_ssl, config=config_file(tmp_path, registry.host, username="x",
                                                                         identitytoken=IDENTITY_TOKEN),
                     **trusting(registry, server))
    assert answers[ref].found
    assert [s.method for s in server.seen[before:]] == ["POST"]


def test_credentials_never_go_to_a_realm_on_another_host(token_setup, tmp_path, client_ssl):
    """A realm on another host gets an anonymous request (the finding says why) unless authHosts allows it."""
    registry, server = token_setup["other"], token_setup["server"]
    ref = f"{registry.host}/acme/pay-web:1.4.2"
    config = config_file(tmp_path, registry.host, username=USER, password=PASSWORD)
    before = len(server.seen)
    refused, _ = ask([ref], ssl_context=client_ssl, config=config, **insecure(registry))
    sent = server.seen[before:]
    assert sent and all("Authorization" not in s.headers for s in sent)
    assert refused[ref].outcome == reg.AUTHORIZATION
    assert "not sent to the token service localhost" in refused[ref].detail
    assert f"registries.{registry.host}.authHosts" in refused[ref].detail

    before = len(server.seen)
    allowed, _ = ask([ref], ssl_context=client_ssl, config=config,
                     auth_hosts={registry.host: frozenset({f"localhost:{server.port}"})}, **insecure(registry))
    assert allowed[ref].found
    assert all("Authorization" in s.headers for s in server.seen[before:])


def test_credentials_never_go_to_a_realm_on_another_port(token_setup, tmp_path, client_ssl):
    """A realm on the registry's host but another port is another origin: the token is asked for
    anonymously (the finding says why); `authHosts: [host:port]` allows it, `authHosts: [host]` (443) not."""
    registry, server = token_setup["same"], token_setup["server"]
    ref = f"{registry.host}/acme/pay-web:1.4.2"
    config = config_file(tmp_path, registry.host, username=USER, password=PASSWORD)
    for auth_hosts in ({}, {registry.host: frozenset({"127.0.0.1"})}):
        before = len(server.seen)
        refused, _ = ask([ref], ssl_context=client_ssl, config=config, auth_hosts=auth_hosts, **insecure(registry))
        sent = server.seen[before:]
        assert sent and all("Authorization" not in s.headers for s in sent)
        assert refused[ref].outcome == reg.AUTHORIZATION
        assert f"not sent to the token service 127.0.0.1:{server.port} because" in refused[ref].detail
    before = len(server.seen)
    allowed, _ = ask([ref], ssl_context=client_ssl, config=config, **trusting(registry, server))
    assert allowed[ref].found and all("Authorization" in s.headers for s in server.seen[before:])


def test_credentials_never_go_to_a_plain_http_realm(token_setup, tmp_path):
    """Even on the registry's own host, a token realm over plain HTTP never receives credentials."""
    registry, server = token_setup["plain"], token_setup["plain_server"]
    ref = f"{registry.host}/acme/pay-web:1.4.2"
    before = len(server.seen)
    answers, _ = ask([ref], config=config_file(tmp_path, registry.host, username=USER, password=PASSWORD),
                     **insecure(registry))
    assert server.seen[before:] and all("Authorization" not in s.headers for s in server.seen[before:])
    assert answers[ref].outcome == reg.AUTHORIZATION and "not HTTPS" in answers[ref].detail


# -- retries, redirects ------------------------------------------------------------------------------

def test_429_then_200_honours_retry_after():
    """A 429 with Retry-After: 1 is retried after about a second and then found."""
    calls: list[float] = []

    def handler(request: Seen):
        calls.append(time.monotonic())
        if len(calls) == 1:
            return 429, {"Retry-After": "1"}, b""
        return 200, MANIFEST_HEADERS, b""
    server = LocalServer(handler)
    try:
        ref = f"127.0.0.1:{server.port}/acme/app:1"
        answers, _ = ask([ref], insecure=frozenset({f"127.0.0.1:{server.port}"}))
    finally:
        server.stop()
    assert answers[ref].found
    assert len(calls) == 2 and calls[1] - calls[0] >= 0.95


def test_rate_limited_after_retries():
    """A registry that keeps answering 429 gives 'rate limited' after the retries, not found nor absent."""
    server = LocalServer(lambda request: (429, {"Retry-After": "0"}, b""))
    try:
        ref = f"127.0.0.1:{server.port}/acme/app:1"
        answers, _ = ask([ref], retries=2, insecure=frozenset({f"127.0.0.1:{server.port}"}))
    finally:
        server.stop()
    assert answers[ref].outcome == reg.RATE_LIMITED and len(server.seen) == 3


def test_redirect_to_another_host_drops_authorization(tmp_path):
    """A registry that redirects to another host: the credentials reach the registry, never the other host."""
    other = LocalServer(lambda request: (200, MANIFEST_HEADERS, b""))

    def registry_handler(request: Seen):
        if "Authorization" not in request.headers:
            return 401, {"WWW-Authenticate": 'Basic realm="test"'}, b""
        return 307, {"Location": f"{other.url('localhost')}/v2/acme/app/manifests/1"}, b""
    registry = LocalServer(registry_handler)
    host = f"127.0.0.1:{registry.port}"
    try:
        answers, _ = ask([f"{host}/acme/app:1"], insecure=frozenset({host}),
                         config=config_file(tmp_path, host, username=USER, password=PASSWORD))
    finally:
        registry.stop()
        other.stop()
    assert answers[f"{host}/acme/app:1"].found
    assert any("Authorization" in s.headers for s in registry.seen)
    assert other.seen and all("Authorization" not in s.headers for s in other.seen)


def test_challenges_several_per_header():
    """WWW-Authenticate values with several challenges and quoted commas parse into each challenge."""
    header = ('Basic realm="a, b", Bearer realm="https://auth.example/token",'
              'service="reg",scope="repository:x/y:pull"')
    parsed = reg.parse_challenges([header, "Negotiate"])
    assert parsed == [("basic", {"realm": "a, b"}),
                      ("bearer", {"realm": "https://auth.example/token", "service": "reg",
                                  "scope": "repository:x/y:pull"}),
                      ("negotiate", {})]


def test_unexpected_answer_is_bad_format():
    """A 200 that is not a manifest type, or a 401 without a challenge, is 'bad format'."""
    server = LocalServer(lambda request: (200, {"Content-Type": "text/html"}, b"") if "bad" in request.path
                         else (401, {}, b""))
    host = f"127.0.0.1:{server.port}"
    try:
        answers, _ = ask([f"{host}/acme/bad:1", f"{host}/acme/nochallenge:1"], insecure=frozenset({host}))
    finally:
        server.stop()
    assert answers[f"{host}/acme/bad:1"].outcome == reg.BAD_FORMAT
    assert answers[f"{host}/acme/nochallenge:1"].outcome == reg.BAD_FORMAT


# -- secrets stay secret -----------------------------------------------------------------------------

def test_no_secret_in_answers_reprs_or_debug_logs(token_setup, basic_registry, tmp_path, client_ssl, caplog):
    """Answers, reprs and DEBUG logs (httpx and httpcore included) never show a credential or token."""
    caplog.set_level(logging.DEBUG)
    secrets = [PASSWORD, "czNjcmV0", IDENTITY_TOKEN]
    registry = token_setup["same"]
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {registry.host: {"username": USER, "password": PASSWORD},
                                            basic_registry.host: {"username": USER, "password": PASSWORD}}}))
    refs = [f"{registry.host}/acme/pay-web:1.4.2", f"{registry.host}/acme/nope:1",
            f"{basic_registry.host}/acme/pay-web:1.4.2", f"{basic_registry.host}/acme/nope:1"]
    answers, client = ask(refs, ssl_context=client_ssl, config=config,
                          insecure=frozenset({registry.host, basic_registry.host}),
                          auth_hosts=trusting(registry, token_setup["server"])["auth_hosts"])
    assert [a.outcome for a in answers.values()] == [reg.FOUND, reg.ABSENT, reg.FOUND, reg.ABSENT]
    text = caplog.text + repr(answers) + repr(client)
    store = CredentialStore(config, env={})
    credential = asyncio.run(store.lookup(registry.host)).credential
    text += repr(credential) + str(credential)
    for secret in secrets:
        assert secret not in text
    assert "eyJ" not in text  # no JWT (issued tokens start with the base64 of '{"')
    assert "Authorization" not in caplog.text


def test_token_post_is_not_reposted_to_another_host():
    """A token service answering the identity-token POST with a 307 to another host: the refresh token
    is not sent there; the failure says why."""
    other = LocalServer(lambda request: (200, {"Content-Type": "application/json"}, b'{"token": "t"}'))
    service = LocalServer(lambda request: (307, {"Location": f"{other.url('localhost')}/token"}, b""))
    store = CredentialStore("/nonexistent/config.json", env={})

    async def post():
        async with reg.RegistryClient(store, reg.RegistrySettings()) as client:
            return await client._send("POST", f"{service.url()}/token", {}, None,
                                      data={"grant_type": "refresh_token", "refresh_token": IDENTITY_TOKEN})
    try:
        with pytest.raises(reg._Failure) as failure:
            asyncio.run(post())
    finally:
        service.stop()
        other.stop()
    assert service.seen and IDENTITY_TOKEN.encode() in service.seen[0].body
    assert other.seen == []
    assert "redirected the credential-bearing request" in str(failure.value.detail)
    assert IDENTITY_TOKEN not in str(failure.value.detail)


# -- connections and request counts ----------------------------------------------------------------------

def test_connections_are_kept_alive():
    """300 references cost 300 HEADs over at most `concurrency` connections (an unread HEAD response
    used to close its connection: one new TCP/TLS connection per reference)."""
    server = HostileServer(lambda request: Answer(200, MANIFEST_HEADERS))
    try:
        answers, _ = ask([f"{server.host}/acme/app:{i}" for i in range(300)], insecure=frozenset({server.host}),
                         concurrency=8)
    finally:
        server.stop()
    assert all(a.found for a in answers.values())
    assert len(server.seen) == 300 and server.connections <= 8


def test_a_token_registry_answers_401_once_not_once_per_reference():
    """Against Bearer auth, only the registry's first request meets the 401; the others wait for it and
    come with their token (one per repository), so 100 references cost 101 HEADs and 5 tokens."""
    tokens = HostileServer(lambda request: token_answer("t0ken"))
    server = HostileServer(lambda request: Answer(200, MANIFEST_HEADERS) if request.headers.get("authorization") == "Bearer t0ken"
                           else Answer(401, bearer_challenge(f"{tokens.url()}/token")))
    try:
        answers, _ = ask([f"{server.host}/acme/app{i % 5}:{i}" for i in range(100)],
                         insecure=frozenset({server.host}))
    finally:
        server.stop()
        tokens.stop()
    assert all(a.found for a in answers.values())
    assert len(server.seen) == 101 and len(tokens.seen) == 5
