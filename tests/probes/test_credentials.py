"""Registry credentials are found where Docker finds them, in Docker's order, and never shown."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import stat
from pathlib import Path

import pytest

from gate.probes.credentials import CredentialStore, Lookup


def helper(folder: Path, name: str, answers: dict[str, dict]) -> None:
    """A real `docker-credential-<name>` program: answers `get` for the servers in `answers`."""
    script = folder / f"docker-credential-{name}"
    script.write_text("#!/usr/bin/env python3\nimport json, sys\n"
                      f"answers = {json.dumps(answers)!r}\n"
                      "assert sys.argv[1:] == ['get']\n"
                      "server = sys.stdin.read().strip()\n"
                      "if server not in json.loads(answers):\n"
                      "    print('credentials not found in native keychain'); sys.exit(1)\n"
                      "print(json.dumps(json.loads(answers)[server]))\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def bin_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return folder


def lookup(config: dict | None, registry: str, tmp_path: Path, env: dict | None = None) -> Lookup:
    path = tmp_path / "config.json"
    if config is not None:
        path.write_text(json.dumps(config))
    return asyncio.run(CredentialStore(path if config is not None else None, env=env or {}).lookup(registry))


def test_auths_forms(tmp_path):
    """auths: base64 `auth`, username/password, identitytoken; keys may be URLs; Hub uses its v1 URL key."""
    auth = base64.b64encode(b"user:pa:ss").decode()
    config = {"auths": {"https://reg.example.com/v2/": {"auth": auth},
                        "plain.example.com": {"username": "u", "password": "p"},
                        "token.example.com": {"identitytoken": "idt"},
                        "https://index.docker.io/v1/": {"username": "hub", "password": "hp"},
                        "empty.example.com": {}}}
    found = lookup(config, "reg.example.com", tmp_path).credential
    assert (found.username, found.password) == ("user", "pa:ss")
    assert lookup(config, "plain.example.com", tmp_path).credential.basic == ("u", "p")
    assert lookup(config, "token.example.com", tmp_path).credential.identity_token == "idt"
    assert lookup(config, "docker.io", tmp_path).credential.basic == ("hub", "hp")
    assert lookup(config, "other.example.com", tmp_path).credential is None
    empty = lookup(config, "empty.example.com", tmp_path)
    assert empty.credential is None and "no usable credential" in empty.note


def test_cred_helpers_beat_creds_store_beat_auths(tmp_path, bin_dir):
    """credHelpers[host] beats credsStore beats auths; helpers get the server URL on stdin."""
    helper(bin_dir, "pinned", {"reg.example.com": {"Username": "from-helper", "Secret": "h"}})
    helper(bin_dir, "store", {"reg.example.com": {"Username": "from-store", "Secret": "s"},
                              "other.example.com": {"Username": "store-other", "Secret": "s2"},
                              "https://index.docker.io/v1/": {"Username": "<token>", "Secret": "hub-idt"}})
    config = {"credHelpers": {"reg.example.com": "pinned"}, "credsStore": "store",
              "auths": {"reg.example.com": {"username": "from-auths", "password": "a"},
                        "third.example.com": {"username": "from-auths", "password": "a"}}}
    assert lookup(config, "reg.example.com", tmp_path).credential.username == "from-helper"
    assert lookup(config, "other.example.com", tmp_path).credential.username == "store-other"
    assert lookup(config, "third.example.com", tmp_path).credential.username == "from-auths"
    hub = lookup(config, "docker.io", tmp_path).credential
    assert hub.identity_token == "hub-idt" and hub.basic is None  # `<token>` marks an identity token


def test_missing_helper_is_noted(tmp_path, bin_dir):
    """A configured helper that is not installed leaves the registry anonymous, with a note saying so."""
    found = lookup({"credsStore": "absent-helper"}, "reg.example.com", tmp_path)
    assert found.credential is None and "docker-credential-absent-helper is not installed" in found.note


def test_docker_auth_config_comes_first(tmp_path):
    """DOCKER_AUTH_CONFIG (as CI runners set it) is read before the config file."""
    env = {"DOCKER_AUTH_CONFIG": json.dumps({"auths": {"reg.example.com": {"username": "env", "password": "e"}}})}
    config = {"auths": {"reg.example.com": {"username": "file", "password": "f"},
                        "only-file.example.com": {"username": "file", "password": "f"}}}
    assert lookup(config, "reg.example.com", tmp_path, env).credential.username == "env"
    assert lookup(config, "only-file.example.com", tmp_path, env).credential.username == "file"


def test_default_config_path_follows_docker_config(tmp_path, monkeypatch):
    """Without --registry-config, $DOCKER_CONFIG/config.json is read."""
    (tmp_path / "config.json").write_text(json.dumps({"auths": {"r.example.com": {"username": "d",
                                                                                   "password": "p"}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    found = asyncio.run(CredentialStore(env={}).lookup("r.example.com"))
    assert found.credential.username == "d"


def test_secrets_are_redacted_and_bad_configs_do_not_echo(tmp_path):
    """repr/str show only the source; a config that is not JSON is reported without its text."""
    found = lookup({"auths": {"r.example.com": {"username": "u", "password": "hunter2-secret"}}},
                   "r.example.com", tmp_path).credential
    assert "hunter2-secret" not in repr(found) + str(found) and "redacted" in repr(found)
    (tmp_path / "broken.json").write_text('{"auths": {"r.example.com": {"password": "hunter2-secret"')
    store = CredentialStore(tmp_path / "broken.json", env={})
    assert store.problems and not any("hunter2" in p for p in store.problems)
    assert "not JSON" in asyncio.run(store.lookup("r.example.com")).note


def test_credentials_with_control_characters_are_malformed(tmp_path):
    """CR, LF, NUL (or any control character) in a username, password or identity token marks the
    credential malformed (the registry client then refuses to send it); its repr still shows nothing."""
    config = {"auths": {"crlf.example.com": {"username": "u", "password": "p\r\nX-Injected: 1"},
                        "nul.example.com": {"identitytoken": "tok\x00en"},
                        "tab.example.com": {"username": "u\t", "password": "p"},
                        "fine.example.com": {"username": "ü", "password": "pässwörd with spaces"}}}
    for host in ("crlf.example.com", "nul.example.com", "tab.example.com"):
        found = lookup(config, host, tmp_path).credential
        assert found.malformed and "X-Injected" not in repr(found) + str(found)
    assert not lookup(config, "fine.example.com", tmp_path).credential.malformed
