"""Registry credentials from the Docker client configuration, looked up the way `docker pull` does.

Sources, first match wins: `DOCKER_AUTH_CONFIG` (the JSON of a config, as CI runners set it), then the
config file (`--registry-config PATH`, else `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`).
Within one config, `credHelpers[host]` beats `credsStore` beats `auths`. Secrets never appear in a repr,
a message or a log line: a Credential shows only where it came from.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gate.domain.imageref import DOCKER_HUB, DOCKER_HUB_CREDENTIALS_KEY

HELPER_TIMEOUT = 20.0
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HUB_KEYS = ("index.docker.io", "docker.io", "registry-1.docker.io")


@dataclass(frozen=True)
class Credential:
    """A username/password or an identity (refresh) token for one registry."""

    source: str  # where it came from, safe to show
    username: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)

    def __repr__(self) -> str:
        return f"Credential(source={self.source!r}, secret=<redacted>)"

    __str__ = __repr__

    @property
    def basic(self) -> tuple[str, str] | None:
        return (self.username, self.password) if self.username and self.password else None

    @property
    def malformed(self) -> bool:
        """A control character (CR, LF, NUL, ...) in any part: a copy-paste accident or an attempt to
        inject headers; such a credential is never sent (nor shown)."""
        return any(_CONTROL.search(part) for part in (self.username, self.password, self.identity_token))


@dataclass(frozen=True)
class Lookup:
    """The credential for a registry (None: ask anonymously) and, when one was expected but not
    usable, why (shown in findings)."""

    credential: Credential | None
    note: str = ""


def server_key(registry: str) -> str:
    """The key Docker stores a registry's credentials under (and hands to credential helpers)."""
    return DOCKER_HUB_CREDENTIALS_KEY if registry == DOCKER_HUB else registry


def _hostname_of_key(key: str) -> str:
    """`https://host:port/v1/` -> `host:port` (Docker's ConvertToHostname)."""
    if "://" in key:
        key = urlsplit(key).netloc
    return key.partition("/")[0].lower()


def default_config_path() -> Path:
    folder = os.environ.get("DOCKER_CONFIG")
    return Path(folder) / "config.json" if folder else Path.home() / ".docker" / "config.json"


class ConfigError(Exception):
    """A config that cannot be read: its path and what is wrong, never its contents."""


class CredentialStore:
    """Credentials per registry, looked up once per run."""

    def __init__(self, config_path: str | os.PathLike | None = None, *, env: dict[str, str] | None = None):
        env = os.environ if env is None else env
        self._configs: list[tuple[str, dict[str, Any]]] = []
        self.problems: list[str] = []  # unreadable configs, reported once in every auth-related finding
        raw_env = env.get("DOCKER_AUTH_CONFIG")
        if raw_env:
            self._add("DOCKER_AUTH_CONFIG", raw_env)
        path = Path(config_path) if config_path else default_config_path()
        if config_path or path.is_file():
            try:
                self._add(str(path), path.read_text(encoding="utf-8"))
            except OSError as exc:
                self.problems.append(f"cannot read registry config {path}: {exc.strerror or type(exc).__name__}")
        self._cache: dict[str, asyncio.Task[Lookup]] = {}

    def _add(self, name: str, text: str) -> None:
        try:
            data = json.loads(text)
        except ValueError as exc:  # the message names a position only, never the text
            self.problems.append(f"registry config {name} is not JSON (line {getattr(exc, 'lineno', '?')})")
            return
        if not isinstance(data, dict):
            self.problems.append(f"registry config {name} is not a JSON object")
            return
        self._configs.append((name, data))

    async def lookup(self, registry: str) -> Lookup:
        """The credential for `registry` (as in an ImageRef: `docker.io`, `host:port`)."""
        task = self._cache.get(registry)
        if task is None:
            task = self._cache[registry] = asyncio.ensure_future(self._find(registry))
        # Shielded: a caller that gives up (its deadline) must not cancel the lookup others wait for.
        return await asyncio.shield(task)

    async def _find(self, registry: str) -> Lookup:
        notes = list(self.problems)
        for name, config in self._configs:
            helpers = config.get("credHelpers") if isinstance(config.get("credHelpers"), dict) else {}
            helper = helpers.get(registry) or (helpers.get(_HUB_KEYS[0]) if registry == DOCKER_HUB else None)
            helper = helper or config.get("credsStore")
            if isinstance(helper, str) and helper:
                found = await run_helper(helper, server_key(registry))
                if found.credential is not None or found.note:
                    return Lookup(found.credential, "; ".join([*notes, found.note] if found.note else notes))
            entry = _auths_entry(config, registry)
            if entry is not None:
                credential, problem = _from_auths(entry, f"auths in {name}")
                if credential is not None:
                    return Lookup(credential, "; ".join(notes))
                notes.append(problem)
        return Lookup(None, "; ".join(notes))


def _auths_entry(config: dict[str, Any], registry: str) -> dict[str, Any] | None:
    auths = config.get("auths")
    if not isinstance(auths, dict):
        return None
    wanted = set(_HUB_KEYS) if registry == DOCKER_HUB else {registry}
    for key, entry in auths.items():
        if isinstance(key, str) and isinstance(entry, dict) and _hostname_of_key(key) in wanted:
            return entry
    return None


def _from_auths(entry: dict[str, Any], source: str) -> tuple[Credential | None, str]:
    token = entry.get("identitytoken") or entry.get("identityToken")
    username, password = entry.get("username") or "", entry.get("password") or ""
    encoded = entry.get("auth")
    if isinstance(encoded, str) and encoded:
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None, f"{source}: `auth` is not base64 of user:password"
        username, sep, password = decoded.partition(":")
        if not sep:
            return None, f"{source}: `auth` is not base64 of user:password"
    if isinstance(token, str) and token:
        return Credential(source, username=str(username), identity_token=token), ""
    if username and password:
        return Credential(source, username=str(username), password=str(password)), ""
    return None, f"{source}: entry has no usable credential"


async def run_helper(name: str, server: str) -> Lookup:
    """`docker-credential-<name> get` with the server on stdin, as Docker runs it."""
    program = f"docker-credential-{name}"
    source = f"credential helper {program}"
    try:
        proc = await asyncio.create_subprocess_exec(
            program, "get", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL)
    except OSError:
        return Lookup(None, f"{source} is not installed (asked anonymously)")
    try:
        out, _ = await asyncio.wait_for(proc.communicate(server.encode()), HELPER_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return Lookup(None, f"{source} did not answer within {HELPER_TIMEOUT:g} s (asked anonymously)")
    except asyncio.CancelledError:  # the run ended first (registries.deadline): leave no helper behind
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        raise
    if proc.returncode != 0:
        # "credentials not found" is the normal answer for a registry the helper does not know;
        # the output is never shown: a broken helper may print what it read.
        return Lookup(None)
    try:
        data = json.loads(out)
        username, secret = data.get("Username") or "", data.get("Secret") or ""
    except (ValueError, AttributeError):
        return Lookup(None, f"{source} printed something that is not its JSON answer (asked anonymously)")
    if not secret:
        return Lookup(None)
    if username == "<token>":  # Docker's marker for an identity token
        return Lookup(Credential(source, identity_token=secret))
    return Lookup(Credential(source, username=username, password=secret))
