"""RegistryClient: does each image reference resolve to a manifest in its registry? Without pulling it.

`HEAD /v2/<name>/manifests/<tag|digest>` over kept-alive connections (registry_http: h11 on asyncio;
httpx when the environment names a proxy), a bounded number at once, each distinct manifest once per
run. Authentication as the distribution spec and Docker do it:
anonymous or credentialed Bearer tokens from the realm the registry names, or Basic. Every failure is
an answer (`ManifestAnswer`), never an exception, and keeps its cause: absent, unavailable,
authentication, authorisation, bad format, rate limited.

Where credentials may go (containerd CVE-2020-15157): to the registry's own origin (scheme, host and
port), and to a token realm only over HTTPS on that origin or on a host[:port] in
`registries.<host>.authHosts`; elsewhere the token is asked for anonymously. Redirects are followed by
hand so that no credential leaves its origin: Authorization is dropped, a credential-bearing body
(the identity-token grant) is never re-sent. Headers are never logged nor put in a message, and the
text of a transport exception never reaches a message either (h11 quotes the offending header value
when it refuses one): failures are described by exception class and host:port.

Time is bounded twice, because httpx's read timeout restarts on every byte and a registry or proxy
that drips one byte every few seconds would otherwise hold the run for ever: every exchange (connect,
status line, headers, body, redirects) has `timeout` seconds in all, and the whole client has
`deadline` seconds from its start (policy `registries.deadline`), after which every pending reference
is answered unavailable.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import errno
import hashlib
import http.cookiejar
import json
import logging
import math
import os
import random
import re
import ssl
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Self

import httpx

from gate.domain.imageref import ImageRef
from gate.probes import registry_http
from gate.probes.credentials import Credential, CredentialStore, Lookup

log = logging.getLogger("gate.registry")

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_TYPES = (OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST)
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
# distribution answers 404 for an existing manifest whose type is not in Accept: always send all four.
ACCEPT = ", ".join(MANIFEST_TYPES)

FOUND = "found"
ABSENT = "absent"
UNAVAILABLE = "unavailable"
AUTHENTICATION = "authentication"
AUTHORIZATION = "authorization"
BAD_FORMAT = "bad-format"
RATE_LIMITED = "rate-limited"

MAX_BODY = 4 * 1024 * 1024
MAX_REDIRECTS = 5
LANE_CONNECTIONS = 4  # per lane (through a proxy): the registry, its token service, a redirect target, one spare
USER_AGENT = "ingress-gate"
DEFAULT_DEADLINE = 120.0  # seconds per run; the policy's registries.deadline (policies/default.yaml)
# A digest as the OCI image spec writes it: algorithm ":" encoded.
DIGEST = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
# What may go into an Authorization value: visible ASCII and spaces. A CR or LF would split the header
# (request smuggling), a NUL is refused by h11 with an error that quotes the value.
SAFE_HEADER_VALUE = re.compile(r"[\x20-\x7e]*")
TOKEN = re.compile(r"[\x21-\x7e]+")
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class ManifestAnswer:
    outcome: str  # FOUND, ABSENT, UNAVAILABLE, AUTHENTICATION, AUTHORIZATION, BAD_FORMAT, RATE_LIMITED
    detail: str = ""
    media_type: str | None = None
    digest: str | None = None
    platforms: tuple[str, ...] | None = None  # an index's platforms, when they were asked for
    platform_problem: str = ""  # why the platforms could not be read

    @property
    def found(self) -> bool:
        return self.outcome == FOUND


@dataclass(frozen=True)
class RegistrySettings:
    insecure: frozenset[str] = frozenset()  # host[:port] reached over plain HTTP
    auth_hosts: dict[str, frozenset[str]] = field(default_factory=dict)  # registry -> realm hosts it trusts
    platforms: tuple[str, ...] = ()  # read an index's platforms (a GET of its body) only when set
    concurrency: int = 32
    timeout: float = 10.0  # seconds for one exchange in all (connect to last body byte, redirects included)
    deadline: float = DEFAULT_DEADLINE  # seconds for the whole client, from `async with` to the last answer
    retries: int = 2
    backoff: float = 0.2
    max_retry_after: float = 30.0


class _Failure(Exception):
    """Internal: ends one reference's check with a failure answer (converted at the boundary)."""

    def __init__(self, outcome: str, detail: str):
        super().__init__(detail)
        self.outcome, self.detail = outcome, detail


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: httpx.Headers = field(repr=False)
    body: bytes = field(repr=False)
    url: httpx.URL


@dataclass(frozen=True)
class _Auth:
    """An Authorization value and the host it belongs to. Never printed."""

    header: str = field(repr=False)
    origin: tuple[str, str, int]  # the only (scheme, host, port) the header may be sent to
    credentialed: bool
    note: str = ""  # why credentials were not used, for findings


def parse_challenges(values: Iterable[str]) -> list[tuple[str, dict[str, str]]]:
    """`WWW-Authenticate` values -> [(scheme lowercased, params)], several challenges per value."""
    token = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
    item = re.compile(rf'\s*,?\s*(?:({token})\s*=\s*(?:"((?:[^"\\]|\\.)*)"|({token}))|({token}))')
    challenges: list[tuple[str, dict[str, str]]] = []
    for value in values:
        pos = 0
        while pos < len(value):
            match = item.match(value, pos)
            if not match or match.end() == pos:
                break
            pos = match.end()
            key, quoted, bare, scheme = match.groups()
            if scheme is not None:
                challenges.append((scheme.lower(), {}))
            elif challenges:
                text = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
                challenges[-1][1][key.lower()] = text
    return challenges


def retry_delay(headers: httpx.Headers, default: float) -> float:
    """Seconds from Retry-After (delta-seconds or an HTTP date), else `default`."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return default
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, when.timestamp() - time.time())


def platform_of(entry: dict[str, Any]) -> str | None:
    platform = entry.get("platform")
    if not isinstance(platform, dict):
        return None
    parts = [platform.get("os"), platform.get("architecture"), platform.get("variant")]
    if not all(isinstance(p, str) and p for p in parts[:2]):
        return None
    return "/".join(p for p in parts if isinstance(p, str) and p)


def platform_matches(required: str, available: Iterable[str]) -> bool:
    """`linux/amd64` matches `linux/amd64` and any variant of it; `linux/arm64/v8` needs that variant
    (arm64 without a variant is v8, as containerd normalises it)."""
    def norm(p: str) -> tuple[str, ...]:
        parts = tuple(p.lower().split("/"))
        return parts + ("v8",) if parts[1:2] == ("arm64",) and len(parts) == 2 else parts
    want = norm(required)
    return any(norm(p)[:len(want)] == want for p in available)


class RegistryClient:
    """Use as `async with RegistryClient(credentials, settings) as client: await client.check_all(refs)`."""

    def __init__(self, credentials: CredentialStore, settings: RegistrySettings = RegistrySettings(), *,
                 ssl_context: ssl.SSLContext | None = None):
        self.credentials = credentials
        self.settings = settings
        self._ssl = ssl_context  # made when first needed: the system store costs ~20 ms to load
        self._http: registry_http.Pool | _ProxiedHTTP | None = None
        self._slots = asyncio.Semaphore(max(1, settings.concurrency))  # exchanges at once
        self._answers: dict[tuple[str, str, str], asyncio.Future[ManifestAnswer]] = {}  # by manifest
        self._tokens: dict[tuple[str, str], asyncio.Future[_Auth]] = {}
        self._schemes: dict[str, tuple[str, dict[str, str]]] = {}  # registry -> last challenge seen
        self._learned: dict[str, asyncio.Event] = {}  # registry -> set once its first answer is in
        self._deadline = math.inf  # loop time by which every answer is in (set by `async with`)
        self.requests = 0  # HTTP exchanges made, redirects and retries included
        self.connections = 0  # connections opened (known once the client is closed; 0 through a proxy)

    def __repr__(self) -> str:
        return f"RegistryClient(insecure={sorted(self.settings.insecure)})"

    async def __aenter__(self) -> Self:
        self._deadline = asyncio.get_running_loop().time() + self.settings.deadline
        connect = min(5.0, self.settings.timeout)
        if _environment_proxies():
            self._http = _ProxiedHTTP(self.settings, self._ssl_context(), connect)
        else:
            self._http = registry_http.Pool(self._ssl_context, connect_timeout=connect, user_agent=USER_AGENT)
        return self

    async def __aexit__(self, *exc: object) -> None:
        # Token requests still running when every answer is in (after the deadline) end here.
        pending = [f for f in (*self._answers.values(), *self._tokens.values()) if not f.done()]
        for future in pending:
            future.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        transport, self._http = self._http, None
        if transport is not None:
            await transport.aclose()
            self.connections = getattr(transport, "connections", 0)

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()  # system store; SSL_CERT_FILE / SSL_CERT_DIR honoured
        return self._ssl

    async def check_all(self, refs: Iterable[ImageRef], *,
                        on_answer: Callable[[], None] | None = None) -> dict[ImageRef, ManifestAnswer]:
        """ref -> answer, all asked concurrently; `on_answer` is called as each one is in (progress)."""
        refs = list(dict.fromkeys(refs))
        futures = [self._future(ref) for ref in refs]
        if on_answer is not None:
            for future in futures:
                future.add_done_callback(lambda f: f.cancelled() or on_answer())
        # Shielded: one caller giving up must not cancel the answers other callers share.
        answers = await asyncio.gather(*(asyncio.shield(future) for future in futures))
        return dict(zip(refs, answers))

    async def check(self, ref: ImageRef) -> ManifestAnswer:
        """The answer for one reference; asked once per client however often it is requested."""
        return await asyncio.shield(self._future(ref))  # one caller giving up must not cancel the others' answer

    def _future(self, ref: ImageRef) -> asyncio.Future[ManifestAnswer]:
        # One manifest, one request: `nginx` and `nginx:latest`, or `app:1.2@sha256:...` and
        # `app@sha256:...`, name the same manifest, and every answer is worded from what they share.
        key = (ref.registry, ref.repository, ref.reference)
        future = self._answers.get(key)
        if future is None:
            future = self._answers[key] = asyncio.ensure_future(self._check(ref))
        return future

    # -- one reference -------------------------------------------------------------------------------

    def scheme(self, registry: str) -> str:
        return "http" if registry in self.settings.insecure else "https"

    def manifest_url(self, ref: ImageRef, reference: str | None = None) -> str:
        return (f"{self.scheme(ref.registry)}://{ref.api_host}/v2/{ref.repository}/manifests/"
                f"{reference or ref.reference}")

    def origin(self, ref: ImageRef) -> tuple[str, str, int]:
        return _origin(httpx.URL(self.manifest_url(ref)))

    async def _check(self, ref: ImageRef) -> ManifestAnswer:
        try:
            # Timeouts inside (one exchange) become _Failure there: a TimeoutError here is the run's.
            async with asyncio.timeout_at(self._deadline):
                return await self._manifest(ref)
        except TimeoutError:
            return ManifestAnswer(UNAVAILABLE, f"no complete answer from {ref.registry} within the run's "
                                               f"deadline (registries.deadline: {self.settings.deadline:g} s)")
        except _Failure as failure:
            return ManifestAnswer(failure.outcome, failure.detail)
        except Exception as exc:  # noqa: BLE001 - a probe answers, it never raises
            return ManifestAnswer(BAD_FORMAT, f"unexpected error talking to {ref.registry}: {type(exc).__name__}")

    async def _manifest(self, ref: ImageRef) -> ManifestAnswer:
        url = self.manifest_url(ref)
        learned = self._learned.get(ref.registry)
        if learned is None:
            # The registry's first reference goes alone and learns how the registry authenticates; the
            # others wait for its answer and then come with a token (or Basic) at once, instead of all
            # meeting the same 401 first: that doubled the requests to a registry with token auth.
            learned = self._learned[ref.registry] = asyncio.Event()
            auth = None
            try:
                reply = await self._send("HEAD", url, {"Accept": ACCEPT}, auth)
                challenge = self._challenge(ref, reply) if reply.status == 401 else None
            finally:
                learned.set()
        else:
            await learned.wait()
            auth = await self._known_auth(ref)
            reply = await self._send("HEAD", url, {"Accept": ACCEPT}, auth)
            challenge = self._challenge(ref, reply) if reply.status == 401 else None
        if challenge is not None:
            auth = await self._auth_for(ref, *challenge)
            reply = await self._send("HEAD", url, {"Accept": ACCEPT}, auth)
        what = f"{ref.repository}@{ref.digest}" if ref.digest else f"{ref.repository}:{ref.reference}"
        if reply.status == 200:
            answer = self._found(ref, reply, what)
            if answer.media_type in INDEX_TYPES and self.settings.platforms:
                answer = await self._with_platforms(ref, answer, auth)
            return answer
        raise self._failure(ref, reply, auth, what)

    def _found(self, ref: ImageRef, reply: _Reply, what: str) -> ManifestAnswer:
        """A 200 counts only with what a registry always sends with a manifest: a manifest media type and
        its digest. A captive portal or a misconfigured proxy answers 200 to anything, usually text/html
        and never with Docker-Content-Digest; taking that for "found" would pass every image."""
        media_type = reply.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media_type not in MANIFEST_TYPES:
            shown = media_type[:80] if media_type and SAFE_HEADER_VALUE.fullmatch(media_type) else "none"
            raise _Failure(BAD_FORMAT, f"bad answer: not a manifest media type: {ref.registry} answered 200 for "
                                       f"{what} with Content-Type {shown}, not an OCI or Docker v2 manifest or "
                                       f"index (a proxy or captive portal answering for the registry?)")
        digest = reply.headers.get("docker-content-digest", "").strip()
        if not valid_digest(digest):
            raise _Failure(BAD_FORMAT, f"bad answer: no digest: {ref.registry} answered 200 for {what} without a "
                                       f"valid Docker-Content-Digest, which a registry sends with every manifest "
                                       f"(a proxy or captive portal answering for the registry?)")
        if ref.digest and digest != ref.digest:
            raise _Failure(BAD_FORMAT, f"bad answer: {ref.registry} answered for {what} with another digest, "
                                       f"{digest[:80]}")
        return ManifestAnswer(FOUND, media_type=media_type, digest=digest)

    def _failure(self, ref: ImageRef, reply: _Reply, auth: _Auth | None, what: str) -> _Failure:
        status, note = reply.status, (f" ({auth.note})" if auth and auth.note else "")
        who = "with the configured credentials" if auth and auth.credentialed else "anonymously"
        if status == 404:
            return _Failure(ABSENT, f"{ref.registry} has no manifest {what} (HTTP 404)")
        if status == 401:
            if auth is not None and auth.header.startswith("Basic "):
                return _Failure(AUTHENTICATION, f"{ref.registry} rejected the configured credentials (HTTP 401)")
            return _Failure(AUTHORIZATION, f"not authorised to pull {ref.repository} from {ref.registry} {who} "
                                           f"(HTTP 401{_error_codes(reply.body)}; the repository may also not "
                                           f"exist){note}")
        if status == 403:
            return _Failure(AUTHORIZATION, f"{ref.registry} refused access to {ref.repository} {who} "
                                           f"(HTTP 403){note}")
        if status == 429:
            return _Failure(RATE_LIMITED, f"{ref.registry} is rate limiting (HTTP 429 after "
                                          f"{self.settings.retries + 1} attempts)")
        if status >= 500:
            return _Failure(UNAVAILABLE, f"{ref.registry} answered HTTP {status} after "
                                         f"{self.settings.retries + 1} attempts")
        return _Failure(BAD_FORMAT, f"{ref.registry} answered HTTP {status} for {what}, which the registry "
                                    f"API does not use for a manifest lookup")

    async def _with_platforms(self, ref: ImageRef, answer: ManifestAnswer, auth: _Auth | None) -> ManifestAnswer:
        """Read the index body (only for the platform check) and list its platforms.

        The registry not answering the GET leaves the image found with its platforms unknown. A body that
        is not the index the HEAD described (not strict JSON, not an index, not the digest) makes the
        whole answer a bad one: containerd would not pull it either."""
        target = answer.digest or ref.reference
        url = self.manifest_url(ref, target)
        what = f"{ref.repository}@{target}"
        try:
            reply = await self._send("GET", url, {"Accept": ACCEPT}, auth)
            if reply.status != 200:
                raise self._failure(ref, reply, auth, what)
        except _Failure as failure:
            if failure.outcome == BAD_FORMAT:
                raise
            return replace(answer, platform_problem=failure.detail)
        algorithm, _, expected = (answer.digest or "").partition(":")
        if algorithm == "sha256" and hashlib.sha256(reply.body).hexdigest() != expected:
            raise _Failure(BAD_FORMAT, f"bad answer: the index body {ref.registry} sent for {what} does not "
                                       f"match its digest")
        try:
            data = strict_json(reply.body)
        except ValueError:
            raise _Failure(BAD_FORMAT, f"bad answer: the index body {ref.registry} sent for {what} is not "
                                       f"strict JSON (NaN, Infinity, invalid UTF-8 or a syntax error)") from None
        entries = data.get("manifests") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise _Failure(BAD_FORMAT, f"bad answer: the index {ref.registry} sent for {what} has no "
                                       f"`manifests` list")
        platforms = tuple(dict.fromkeys(p for e in entries if isinstance(e, dict) and (p := platform_of(e))))
        return replace(answer, platforms=platforms)

    # -- authentication ------------------------------------------------------------------------------

    async def _known_auth(self, ref: ImageRef) -> _Auth | None:
        """Authorise up front when this registry already challenged us (saves a 401 per reference)."""
        known = self._schemes.get(ref.registry)
        if known is None:
            return None
        scheme, params = known
        try:
            return await self._auth_for(ref, scheme, params)
        except _Failure:
            return None  # the request goes out without it and meets the challenge afresh

    def _challenge(self, ref: ImageRef, reply: _Reply) -> tuple[str, dict[str, str]]:
        """The challenge of a 401 to answer (Bearer, else Basic), remembered for the registry."""
        challenges = parse_challenges(reply.headers.get_list("www-authenticate"))
        chosen = next((c for c in challenges if c[0] == "bearer"), None) or \
            next((c for c in challenges if c[0] == "basic"), None)
        if chosen is None:
            offered = ", ".join(s for s, _ in challenges) or "none"
            raise _Failure(BAD_FORMAT, f"{ref.registry} answered 401 without a Bearer or Basic challenge "
                                       f"(offered: {offered})")
        scheme, params = chosen
        if scheme == "bearer":
            params = {**params, "scope": params.get("scope") or f"repository:{ref.repository}:pull"}
        self._schemes[ref.registry] = (scheme, {k: v for k, v in params.items() if k != "scope"})
        return scheme, params

    async def _auth_for(self, ref: ImageRef, scheme: str, params: dict[str, str]) -> _Auth:
        lookup = await self.credentials.lookup(ref.registry)
        if lookup.credential is not None and lookup.credential.malformed:
            # Never sent (a CR or LF would add headers of the registry's choosing to the request, a NUL
            # makes the HTTP library fail with a message that quotes it) and never echoed.
            raise _Failure(AUTHENTICATION, f"credential for {ref.registry} is malformed: it holds a control "
                                           f"character (CR, LF, NUL or another); it was not sent "
                                           f"(from {lookup.credential.source})")
        if scheme == "basic":
            credential = lookup.credential
            if credential is None or credential.basic is None:
                why = f": {lookup.note}" if lookup.note else ""
                raise _Failure(AUTHENTICATION, f"{ref.registry} asks for a username and password and none is "
                                               f"configured for it{why}")
            raw = base64.b64encode(":".join(credential.basic).encode()).decode()
            return _Auth(f"Basic {raw}", self.origin(ref), True)
        scope = params.get("scope") or f"repository:{ref.repository}:pull"
        key = (ref.registry, scope)
        future = self._tokens.get(key)
        if future is None:
            future = self._tokens[key] = asyncio.ensure_future(self._token(ref, params, scope, lookup))
        # Shielded: one reference reaching the deadline must not cancel the token the others wait for.
        return await asyncio.shield(future)

    def credential_allowed(self, ref: ImageRef, realm: httpx.URL) -> str:
        """'' when credentials for `ref`'s registry may go to `realm`, else why not.

        Origins, not hosts: another port of the registry's host is another server (another tenant of a
        shared host, a debug endpoint), so the realm must match scheme, host and port. An authHosts
        entry without a port means 443."""
        if realm.scheme != "https":
            return "the token service is not HTTPS"
        if _origin(realm) == self.origin(ref):
            return ""
        allowed = {_origin(httpx.URL(f"https://{entry}/")) for entry in
                   self.settings.auth_hosts.get(ref.registry, frozenset()) if _usable_host(entry)}
        if _origin(realm) in allowed:
            return ""
        return (f"{_netloc(realm)} is not the registry's origin ({_netloc(httpx.URL(self.manifest_url(ref)))} "
                f"over {self.scheme(ref.registry).upper()}) nor in registries.{ref.registry}.authHosts")

    async def _token(self, ref: ImageRef, params: dict[str, str], scope: str, lookup: Lookup) -> _Auth:
        realm_text = params.get("realm", "")
        try:
            realm = httpx.URL(realm_text)
        except (httpx.InvalidURL, TypeError):
            realm = None
        if realm is None or realm.scheme not in ("http", "https") or not realm.host:
            raise _Failure(BAD_FORMAT, f"{ref.registry} named no usable token realm in its Bearer challenge")
        if realm.userinfo:  # httpx would send it as Basic credentials, of the registry's choosing
            realm = realm.copy_with(username=None, password=None)
        credential: Credential | None = lookup.credential
        notes = [lookup.note] if lookup.note else []
        if credential is not None:
            refused = self.credential_allowed(ref, realm)
            if refused:
                notes.append(f"credentials ({credential.source}) were not sent to the token service "
                             f"{_netloc(realm)} because {refused}; the token was asked for anonymously")
                credential = None
        query: list[tuple[str, str]] = [("scope", s) for s in scope.split()]
        if params.get("service"):
            query.insert(0, ("service", params["service"]))
        headers: dict[str, str] = {}
        data = None
        if credential is not None and credential.identity_token:
            # Docker's OAuth2 refresh-token grant for `identitytoken` logins.
            method, url = "POST", realm
            data = {"grant_type": "refresh_token", "refresh_token": credential.identity_token,
                    "client_id": "ingress-gate", "scope": scope}
            if params.get("service"):
                data["service"] = params["service"]
        else:
            method, url = "GET", realm.copy_merge_params(query)
            if credential is not None and credential.basic is not None:
                headers["Authorization"] = "Basic " + base64.b64encode(":".join(credential.basic).encode()).decode()
        reply = await self._send(method, str(url), headers, None, data=data)
        source = f"credentials ({credential.source})" if credential else "an anonymous request"
        if reply.status in (401, 403):
            raise _Failure(AUTHENTICATION, f"the token service {realm.host} refused {source} for "
                                           f"{ref.registry} (HTTP {reply.status})")
        if reply.status == 429:
            raise _Failure(RATE_LIMITED, f"the token service {realm.host} is rate limiting (HTTP 429)")
        if reply.status >= 500:
            raise _Failure(UNAVAILABLE, f"the token service {realm.host} answered HTTP {reply.status}")
        if reply.status != 200:
            raise _Failure(BAD_FORMAT, f"the token service {realm.host} answered HTTP {reply.status}")
        try:
            body = strict_json(reply.body)
            token = body.get("token") or body.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise _Failure(BAD_FORMAT, f"the token service {realm.host} answered without a token")
        if not TOKEN.fullmatch(token):
            raise _Failure(BAD_FORMAT, f"the token service {realm.host} answered with a malformed token "
                                       f"(control characters, spaces or non-ASCII in it); it was not used")
        return _Auth(f"Bearer {token}", self.origin(ref), credential is not None, note="; ".join(notes))

    # -- HTTP ----------------------------------------------------------------------------------------

    async def _send(self, method: str, url: str, headers: dict[str, str], auth: _Auth | None, *,
                    data: dict[str, str] | None = None) -> _Reply:
        """One exchange, retried with backoff on 429/5xx (Retry-After honoured), transport errors and
        exchanges that took longer than `timeout` in all."""
        headers = dict(headers)
        target = httpx.URL(url)
        if auth is not None and _origin(target) == auth.origin:
            headers["Authorization"] = auth.header
        for name, value in headers.items():
            if not SAFE_HEADER_VALUE.fullmatch(value):
                # Last line of defence for a value built from a credential or a token; never echoed.
                raise _Failure(AUTHENTICATION, f"credential for {_netloc(target)} is malformed: the {name} "
                                               f"header would hold a control character; it was not sent")
        settings = self.settings
        loop = asyncio.get_running_loop()
        for attempt in range(settings.retries + 1):
            backoff = settings.backoff * (2 ** attempt) * (1 + random.random() / 10)
            assert self._http is not None, "use RegistryClient as an async context manager"
            failure: _Failure | None = None
            async with self._slots:
                try:
                    # The whole exchange, body and redirects included: a read timeout (httpx's) restarts
                    # with every byte received, so one byte every few seconds would never trip it.
                    async with asyncio.timeout(settings.timeout):
                        reply = await self._follow(method, target, headers, data)
                except TimeoutError:
                    failure = _Failure(UNAVAILABLE, f"{_netloc(target)} sent no complete answer within "
                                                    f"{settings.timeout:g} s (the limit for one request)")
                except httpx.TransportError as exc:
                    failure = _Failure(UNAVAILABLE, describe_error(exc, target))
            if failure is not None:
                if attempt == settings.retries:
                    raise failure
                await asyncio.sleep(backoff)
                continue
            if reply.status not in RETRY_STATUSES or attempt == settings.retries:
                return reply
            delay = retry_delay(reply.headers, backoff)
            if delay > settings.max_retry_after or loop.time() + delay >= self._deadline:
                return reply  # answered as it is (rate limited, unavailable) rather than at the deadline
            log.debug("%s %s: HTTP %s, retrying in %.2f s", method, _Safe(target), reply.status, delay)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _follow(self, method: str, url: httpx.URL, headers: dict[str, str],
                      data: dict[str, str] | None) -> _Reply:
        current, transport = url, self._http
        assert transport is not None
        for _ in range(MAX_REDIRECTS + 1):
            self.requests += 1
            response = await transport.open(method, current, headers, data)
            try:
                log.debug("%s %s -> %s", method, _Safe(current), response.status_code)
                status, location = response.status_code, response.headers.get("location")
                if status in REDIRECT_STATUSES and location:
                    target = _redirect_target(current, location)
                    if _origin(target) != _origin(current):
                        # Another origin (a CDN, another port, a hostile host) gets no credential, on any
                        # redirect status: the Authorization header is dropped, and a credential-bearing
                        # body (only the identity-token grant sends one, with the refresh token in it) is
                        # never re-sent. A 307/308 would repost it as is, and for a 301/302 many clients
                        # repost it too; a 303 would turn it into a pointless anonymous GET.
                        if data is not None:
                            raise _Failure(AUTHENTICATION, f"the token service {_netloc(current)} redirected the "
                                                           f"credential-bearing request (HTTP {status}) to "
                                                           f"another origin, {_netloc(target)}; not followed")
                        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
                    if status == 303 or (status in (301, 302) and method == "POST"):
                        # As browsers and Go's net/http do: the redirected request is a GET without body.
                        method, data = ("HEAD" if method == "HEAD" else "GET"), None
                    await _drain(response)
                    current = target
                    continue
                # Read to the end even for a HEAD (no body): httpcore puts a connection back in the pool
                # only once the response is complete, and closes it otherwise, so an unread HEAD cost a
                # new TCP (and TLS) connection per request.
                body = await _read_body(response, current, head=method == "HEAD")
                return _Reply(status, response.headers, body, current)
            finally:
                await response.aclose()
        raise _Failure(BAD_FORMAT, f"more than {MAX_REDIRECTS} redirects from {_netloc(url)}")


def _environment_proxies() -> bool:
    """Whether the environment names a proxy for HTTP or HTTPS, as httpx reads it (HTTP_PROXY,
    HTTPS_PROXY, ALL_PROXY in either case); NO_PROXY is then httpx's to apply."""
    proxies = urllib.request.getproxies()
    return any(proxies.get(scheme) for scheme in ("http", "https", "all"))


class _ProxiedHTTP:
    """httpx, which honours the environment's proxies, with the interface of registry_http.Pool.

    Not one pool of `concurrency` connections: httpcore 1.0 scans its whole pool (an idle-count per idle
    connection, a poll() per kept-alive one) on every request and response, which is quadratic in the
    pool's size and cost ~3 ms of CPU per request with 32 kept-alive connections. Each lane is a small
    pool that carries one exchange at a time, so its scan is short, and a lane keeps its connections
    (registry, token service, a redirect target) alive. Last in, first out: with little to do, the same
    few warm connections serve everything."""

    def __init__(self, settings: RegistrySettings, ssl_context: ssl.SSLContext, connect_timeout: float):
        self._lanes: asyncio.LifoQueue[httpx.AsyncClient] = asyncio.LifoQueue()
        self._clients: list[httpx.AsyncClient] = []
        for _ in range(max(1, settings.concurrency)):
            client = httpx.AsyncClient(
                verify=ssl_context, follow_redirects=False,
                timeout=httpx.Timeout(settings.timeout, connect=connect_timeout),
                limits=httpx.Limits(max_connections=LANE_CONNECTIONS, max_keepalive_connections=LANE_CONNECTIONS),
                # No cookies: a cookie jar matches domains without ports, so a cookie one registry sets
                # would go to every other port of its host. Registries do not need them.
                cookies=http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[])),
                headers={"User-Agent": USER_AGENT})
            self._clients.append(client)
            self._lanes.put_nowait(client)

    async def open(self, method: str, url: httpx.URL, headers: dict[str, str],
                   data: dict[str, str] | None) -> _LaneResponse:
        client = await self._lanes.get()  # one free per exchange: the client bounds them to `concurrency`
        try:
            response = await client.send(client.build_request(method, url, headers=headers, data=data), stream=True)
        except BaseException:
            self._lanes.put_nowait(client)
            raise
        return _LaneResponse(response, lambda: self._lanes.put_nowait(client))

    async def aclose(self) -> None:
        clients, self._clients = self._clients, []
        await asyncio.gather(*(client.aclose() for client in clients), return_exceptions=True)


class _LaneResponse:
    """An httpx response that gives its lane back once closed."""

    def __init__(self, response: httpx.Response, release: Callable[[], None]):
        self._response, self._release = response, release
        self.status_code, self.headers = response.status_code, response.headers

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        return self._response.aiter_bytes()

    async def aclose(self) -> None:
        release, self._release = self._release, None
        try:
            await self._response.aclose()
        finally:
            if release is not None:
                release()


_Response = registry_http.Response | _LaneResponse


async def _read_body(response: _Response, url: httpx.URL, *, head: bool = False) -> bytes:
    """The body, at most MAX_BODY bytes (a manifest, an index, a token or an error is far smaller).
    A HEAD's Content-Length is the size of the manifest it did not send."""
    too_big = _Failure(BAD_FORMAT, f"bad answer: the answer from {_netloc(url)} is larger than {MAX_BODY} bytes")
    announced = response.headers.get("content-length", "")
    if not head and announced.isdigit() and int(announced) > MAX_BODY:
        raise too_big
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_BODY:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


async def _drain(response: _Response, limit: int = 64 * 1024) -> None:
    """Read a body nobody needs (a redirect's) so the connection can be reused; past `limit`, give the
    connection up instead."""
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            return


def _redirect_target(current: httpx.URL, location: str) -> httpx.URL:
    try:
        target = current.join(location)
    except (httpx.InvalidURL, ValueError):
        raise _Failure(BAD_FORMAT, f"bad answer: {_netloc(current)} redirected to an unusable Location") from None
    if target.scheme not in ("http", "https") or not target.host:
        raise _Failure(BAD_FORMAT, f"bad answer: {_netloc(current)} redirected to an unsupported URL "
                                   f"(scheme {target.scheme[:10]!r})")
    # Userinfo in a Location would make httpx send Basic credentials of the redirecting server's choosing.
    return target.copy_with(username=None, password=None) if target.userinfo else target


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    return (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))


def _netloc(url: httpx.URL) -> str:
    """host[:port] of a URL, never its userinfo."""
    return f"{url.host}:{url.port}" if url.port else url.host


def _usable_host(entry: str) -> bool:
    try:
        return bool(httpx.URL(f"https://{entry}/").host)
    except httpx.InvalidURL:
        return False


class _Safe:
    """A URL for a log line, made only if the line is written: no userinfo (our URLs never carry any,
    and redirect targets lose theirs, but a log line is no place to find out)."""

    def __init__(self, url: httpx.URL):
        self.url = url

    def __str__(self) -> str:
        url = self.url
        return str(url.copy_with(username=None, password=None) if url.userinfo else url)


def describe_error(exc: httpx.TransportError, url: httpx.URL) -> str:
    """A transport failure as a fixed cause: the exception's class and facts known to hold no credential
    (host:port, an errno's text, OpenSSL's reason code). Never `str(exc)`: h11 refuses a bad header
    with "Illegal header value b'Bearer ...'", and other errors may quote the request as well."""
    where, kind = _netloc(url), type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return f"{where} did not answer in time ({kind})"
    tls = next((e for e in _causes(exc) if isinstance(e, ssl.SSLError)), None)
    if tls is not None:
        facts = [str(tls.reason)] if isinstance(getattr(tls, "reason", None), str) else []
        verify = getattr(tls, "verify_message", None)
        if isinstance(verify, str) and verify and SAFE_HEADER_VALUE.fullmatch(verify):
            facts.append(verify[:120])
        return f"TLS error with {where} ({kind}{': ' + ', '.join(facts) if facts else ''})"
    if isinstance(exc, httpx.LocalProtocolError):
        return f"the request to {where} could not be sent ({kind})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"{where} broke the HTTP protocol ({kind})"
    code = next((e.errno for e in _causes(exc) if isinstance(e, OSError) and e.errno in errno.errorcode), None)
    return f"cannot reach {where} ({kind}{': ' + os.strerror(code) if code else ''})"


def _causes(exc: BaseException):
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def valid_digest(text: str) -> bool:
    """`algorithm:encoded` as the OCI image spec writes a digest; sha256 and sha512 as lowercase hex."""
    if not DIGEST.fullmatch(text):
        return False
    algorithm, _, encoded = text.partition(":")
    size = {"sha256": 64, "sha512": 128}.get(algorithm)
    return size is None or bool(re.fullmatch(rf"[a-f0-9]{{{size}}}", encoded))


def strict_json(body: bytes) -> Any:
    """JSON as RFC 8259 defines it: Python's json accepts NaN, Infinity and -Infinity, which no
    registry sends and no Go client (containerd, Docker) reads; a body holding them is not a manifest."""
    def refuse(name: str) -> Any:
        raise ValueError(f"not JSON: {name}")
    return json.loads(body.decode("utf-8"), parse_constant=refuse)


def _error_codes(body: bytes) -> str:
    """`, code NAME_UNKNOWN` from a registry error body (codes only: messages may echo requests)."""
    try:
        errors = json.loads(body).get("errors") or []
        codes = [e["code"] for e in errors if isinstance(e, dict) and isinstance(e.get("code"), str)]
    except (ValueError, AttributeError, TypeError):
        return ""
    return f", {', '.join(dict.fromkeys(codes))}" if codes else ""
