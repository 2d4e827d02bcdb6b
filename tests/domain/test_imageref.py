"""Image references parse and normalise as Docker's distribution/reference does."""

from __future__ import annotations

import pytest

from gate.domain.imageref import InvalidReference, parse

DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(("text", "normalised", "api_host", "reference"), [
    ("nginx", "docker.io/library/nginx:latest", "registry-1.docker.io", "latest"),
    ("nginx:1.27", "docker.io/library/nginx:1.27", "registry-1.docker.io", "1.27"),
    ("bitnami/redis", "docker.io/bitnami/redis:latest", "registry-1.docker.io", "latest"),
    ("index.docker.io/library/nginx:1", "docker.io/library/nginx:1", "registry-1.docker.io", "1"),
    ("docker.io/nginx", "docker.io/library/nginx:latest", "registry-1.docker.io", "latest"),
    ("localhost/app", "localhost/app:latest", "localhost", "latest"),
    ("localhost:5000/team/app:v1", "localhost:5000/team/app:v1", "localhost:5000", "v1"),
    ("127.0.0.1:5000/app", "127.0.0.1:5000/app:latest", "127.0.0.1:5000", "latest"),
    ("ghcr.io/acme/web@" + DIGEST, "ghcr.io/acme/web@" + DIGEST, "ghcr.io", DIGEST),
    ("quay.io/acme/web:1.2@" + DIGEST, "quay.io/acme/web:1.2@" + DIGEST, "quay.io", DIGEST),
    ("Registry.Example.com/a/b-c__d.e:V_1.0-rc", "registry.example.com/a/b-c__d.e:V_1.0-rc",
     "registry.example.com", "V_1.0-rc"),
])
def test_normalisation(text, normalised, api_host, reference):
    """Docker Hub defaults, hosts, ports, tags and digests normalise as `docker pull` sees them."""
    ref = parse(text)
    assert (str(ref), ref.api_host, ref.reference) == (normalised, api_host, reference)


@pytest.mark.parametrize(("text", "why"), [
    ("", "no image"),
    (None, "no image"),
    ("registry.example.com/Acme/web:1", "lowercase"),
    ("Acme", "lowercase"),
    ("nginx:1.0+build", "bad tag"),
    ("nginx:-1", "bad tag"),
    ("nginx:" + "a" * 129, "bad tag"),
    ("nginx@sha256:abc", "64 lowercase hex"),
    ("nginx@sha256:" + "A" * 64, "64 lowercase hex"),
    ("nginx@md5:" + "0" * 32, "unsupported digest"),
    ("nginx@nonsense", "bad digest"),
    ("acme//web", "bad repository path"),
    ("acme/web_", "bad repository path"),
    ("reg.example.com/", "no repository"),
    ("nginx latest", "whitespace"),
    ("bad_host.example.com:x/app", "bad registry host"),
    ("a" * 300, "longer than 255"),
])
def test_invalid_references(text, why):
    """Uppercase repositories, bad tags, bad digests and bad hosts are errors that say what is wrong."""
    with pytest.raises(InvalidReference, match=why):
        parse(text)


def test_mutable():
    """latest and no tag are mutable; a fixed tag or a digest is not."""
    assert parse("nginx").mutable and parse("nginx:latest").mutable
    assert not parse("nginx:1.27").mutable and not parse("nginx@" + DIGEST).mutable
    assert parse("nginx").tag is None and parse("nginx:latest").tag == "latest"
