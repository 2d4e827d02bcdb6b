"""RegistryClient: does each image reference resolve to a manifest in its registry? Without pulling it.

`HEAD /v2/<name>/manifests/<tag|digest>` over pooled connections (httpx), a bounded number at once,
each distinct reference once per run. Authentication as the distribution spec and Docker do it:
anonymous or credentialed Bearer tokens from the realm the registry names, or Basic. Every failure is
an answer (`ManifestAnswer`), never an exception, and keeps its cause: absent, unavailable,
authentication, authorisation, bad format, rate limited.

Where credentials may go (containerd CVE-2020-15157): to the registry's own host, and to a token realm
only over HTTPS on that host or on a host in `registries.<host>.authHosts`; elsewhere the token is
asked for anonymously. Redirects are followed by hand so that Authorization never leaves its origin.
Headers are never logged nor put in a message.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import json
import logging
import random
import re
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Self

import httpx

from gate.domain.imageref import ImageRef
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
    timeout: float = 10.0
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
        self._ssl = ssl_context or ssl.create_default_context()  # system store; SSL_CERT_FILE honoured
        self._http: httpx.AsyncClient | None = None
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._answers: dict[ImageRef, asyncio.Future[ManifestAnswer]] = {}
        self._tokens: dict[tuple[str, str], asyncio.Future[_Auth]] = {}
        self._schemes: dict[str, tuple[str, dict[str, str]]] = {}  # registry -> last challenge seen
        self.requests = 0  # HTTP exchanges made, redirects and retries included

    def __repr__(self) -> str:
        return f"RegistryClient(insecure={sorted(self.settings.insecure)})"

    async def __aenter__(self) -> Self:
        limit = self.settings.concurrency
        self._http = httpx.AsyncClient(
            verify=self._ssl, follow_redirects=False,
            timeout=httpx.Timeout(self.settings.timeout, connect=min(5.0, self.settings.timeout)),
            limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
            headers={"User-Agent": "ingress-gate"})
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def check_all(self, refs: Iterable[ImageRef], *,
                        on_answer: Callable[[], None] | None = None) -> dict[ImageRef, ManifestAnswer]:
        """ref -> answer, all asked concurrently; `on_answer` is called as each one is in (progress)."""
        refs = list(dict.fromkeys(refs))

        async def answered(ref: ImageRef) -> ManifestAnswer:
            answer = await self.check(ref)
            if on_answer is not None:
                on_answer()
            return answer

        answers = await asyncio.gather(*(answered(ref) for ref in refs))
        return dict(zip(refs, answers))

    async def check(self, ref: ImageRef) -> ManifestAnswer:
        """The answer for one reference; asked once per client however often it is requested."""
        future = self._answers.get(ref)
        if future is None:
            future = self._answers[ref] = asyncio.ensure_future(self._check(ref))
        return await future

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
            return await self._manifest(ref)
        except _Failure as failure:
            return ManifestAnswer(failure.outcome, failure.detail)
        except Exception as exc:  # noqa: BLE001 - a probe answers, it never raises
            return ManifestAnswer(BAD_FORMAT, f"unexpected error talking to {ref.registry}: {type(exc).__name__}")

    async def _manifest(self, ref: ImageRef) -> ManifestAnswer:
        url = self.manifest_url(ref)
        auth = await self._known_auth(ref)
        reply = await self._send("HEAD", url, {"Accept": ACCEPT}, auth)
        if reply.status == 401:
            auth = await self._authorize(ref, reply)
            reply = await self._send("HEAD", url, {"Accept": ACCEPT}, auth)
        what = f"{ref.repository}@{ref.digest}" if ref.digest else f"{ref.repository}:{ref.reference}"
        if reply.status == 200:
            media_type = reply.headers.get("content-type", "").partition(";")[0].strip() or None
            if media_type is not None and media_type not in MANIFEST_TYPES:
                raise _Failure(BAD_FORMAT, f"{ref.registry} answered for {what} with media type {media_type}, "
                                           f"not an OCI or Docker v2 manifest or index")
            answer = ManifestAnswer(FOUND, media_type=media_type, digest=reply.headers.get("docker-content-digest"))
            if media_type in INDEX_TYPES and self.settings.platforms:
                answer = await self._with_platforms(ref, answer, auth)
            return answer
        raise self._failure(ref, reply, auth, what)

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
        """Read the index body (only for the platform check) and list its platforms."""
        target = answer.digest or ref.reference
        url = self.manifest_url(ref, target)
        try:
            reply = await self._send("GET", url, {"Accept": ACCEPT}, auth)
            if reply.status != 200:
                raise self._failure(ref, reply, auth, f"{ref.repository}@{target}")
            data = json.loads(reply.body)
            entries = data.get("manifests") if isinstance(data, dict) else None
            if not isinstance(entries, list):
                raise _Failure(BAD_FORMAT, "the index has no `manifests` list")
        except _Failure as failure:
            return replace(answer, platform_problem=failure.detail)
        except ValueError:
            return replace(answer, platform_problem="the index body is not JSON")
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

    async def _authorize(self, ref: ImageRef, reply: _Reply) -> _Auth:
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
        return await self._auth_for(ref, scheme, params)

    async def _auth_for(self, ref: ImageRef, scheme: str, params: dict[str, str]) -> _Auth:
        lookup = await self.credentials.lookup(ref.registry)
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
        return await future

    def credential_allowed(self, ref: ImageRef, realm: httpx.URL) -> str:
        """'' when credentials for `ref`'s registry may go to `realm`, else why not."""
        if realm.scheme != "https":
            return "the token service is not HTTPS"
        own = httpx.URL(f"https://{ref.api_host}/").host
        if realm.host == own:
            return ""
        allowed = self.settings.auth_hosts.get(ref.registry, frozenset())
        port = f":{realm.port}" if realm.port else ""
        if realm.host in allowed or f"{realm.host}{port}" in allowed:
            return ""
        return f"{realm.host} is not the registry's host nor in registries.{ref.registry}.authHosts"

    async def _token(self, ref: ImageRef, params: dict[str, str], scope: str, lookup: Lookup) -> _Auth:
        realm_text = params.get("realm", "")
        try:
            realm = httpx.URL(realm_text)
        except (httpx.InvalidURL, TypeError):
            realm = None
        if realm is None or realm.scheme not in ("http", "https") or not realm.host:
            raise _Failure(BAD_FORMAT, f"{ref.registry} named no usable token realm in its Bearer challenge")
        credential: Credential | None = lookup.credential
        notes = [lookup.note] if lookup.note else []
        if credential is not None:
            refused = self.credential_allowed(ref, realm)
            if refused:
                notes.append(f"credentials ({credential.source}) were not sent to the token service "
                             f"{realm.host} because {refused}; the token was asked for anonymously")
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
            body = json.loads(reply.body)
            token = body.get("token") or body.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise _Failure(BAD_FORMAT, f"the token service {realm.host} answered without a token")
        return _Auth(f"Bearer {token}", self.origin(ref), credential is not None, note="; ".join(notes))

    # -- HTTP ----------------------------------------------------------------------------------------

    async def _send(self, method: str, url: str, headers: dict[str, str], auth: _Auth | None, *,
                    data: dict[str, str] | None = None) -> _Reply:
        """One exchange, retried with backoff on 429/5xx (Retry-After honoured) and transport errors."""
        headers = dict(headers)
        if auth is not None and _origin(httpx.URL(url)) == auth.origin:
            headers["Authorization"] = auth.header
        settings = self.settings
        for attempt in range(settings.retries + 1):
            backoff = settings.backoff * (2 ** attempt) * (1 + random.random() / 10)
            try:
                async with self._slots:
                    reply = await self._follow(method, url, headers, data)
            except httpx.TransportError as exc:
                if attempt == settings.retries:
                    raise _Failure(UNAVAILABLE, _describe(exc, httpx.URL(url))) from None
                await asyncio.sleep(backoff)
                continue
            if reply.status not in RETRY_STATUSES or attempt == settings.retries:
                return reply
            delay = retry_delay(reply.headers, backoff)
            if delay > settings.max_retry_after:
                return reply
            log.debug("%s %s: HTTP %s, retrying in %.2f s", method, _safe(url), reply.status, delay)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _follow(self, method: str, url: str, headers: dict[str, str], data: dict[str, str] | None) -> _Reply:
        assert self._http is not None, "use RegistryClient as an async context manager"
        current = httpx.URL(url)
        for _ in range(MAX_REDIRECTS + 1):
            self.requests += 1
            request = self._http.build_request(method, current, headers=headers, data=data)
            response = await self._http.send(request, stream=True)
            try:
                log.debug("%s %s -> %s", method, _safe(str(current)), response.status_code)
                location = response.headers.get("location")
                if response.status_code in REDIRECT_STATUSES and location:
                    target = current.join(location)
                    if target.scheme not in ("http", "https"):
                        raise _Failure(BAD_FORMAT, f"redirect to an unsupported scheme {target.scheme!r}")
                    if _origin(target) != _origin(current):
                        # A redirect to another origin (a CDN, a hostile host) never carries credentials:
                        # not the Authorization header, and not a form body, which only the
                        # identity-token grant sends (a 307/308 would repost its refresh token).
                        if data is not None and response.status_code in (307, 308):
                            raise _Failure(AUTHENTICATION, f"the token service {current.host} redirected the "
                                                           f"credential-bearing request to {target.host}; not "
                                                           f"followed")
                        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
                    if response.status_code == 303:
                        method, data = "GET", None
                    current = target
                    continue
                body = b""
                if method != "HEAD":
                    chunks, size = [], 0
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > MAX_BODY:
                            raise _Failure(BAD_FORMAT, f"answer from {current.host} larger than {MAX_BODY} bytes")
                        chunks.append(chunk)
                    body = b"".join(chunks)
                return _Reply(response.status_code, response.headers, body, current)
            finally:
                await response.aclose()
        raise _Failure(BAD_FORMAT, f"more than {MAX_REDIRECTS} redirects from {httpx.URL(url).host}")


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    return (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))


def _safe(url: str) -> str:
    """A URL for a log line: no userinfo (our URLs never carry any, but the registry picks redirects)."""
    parsed = httpx.URL(url)
    return str(parsed.copy_with(username=None, password=None)) if parsed.userinfo else url


def _describe(exc: httpx.TransportError, url: httpx.URL) -> str:
    text = str(exc)
    if isinstance(exc, httpx.TimeoutException):
        return f"{url.netloc.decode()} did not answer in time ({type(exc).__name__})"
    if "SSL" in text or "CERTIFICATE" in text.upper():
        return f"TLS error with {url.netloc.decode()}: {text}"
    return f"cannot reach {url.netloc.decode()}: {text or type(exc).__name__}"


def _error_codes(body: bytes) -> str:
    """`, code NAME_UNKNOWN` from a registry error body (codes only: messages may echo requests)."""
    try:
        errors = json.loads(body).get("errors") or []
        codes = [e["code"] for e in errors if isinstance(e, dict) and isinstance(e.get("code"), str)]
    except (ValueError, AttributeError, TypeError):
        return ""
    return f", {', '.join(dict.fromkeys(codes))}" if codes else ""
