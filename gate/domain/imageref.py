"""Container image references, parsed and normalised as Docker does (distribution/reference).

`nginx` is `docker.io/library/nginx:latest`; `index.docker.io` is `docker.io`, whose API is served by
`registry-1.docker.io`; the first path element is a registry host when it has a `.` or a `:`, is
`localhost`, or has an uppercase letter. A reference with a digest is pulled (and checked) by digest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
DOCKER_HUB_CREDENTIALS_KEY = "https://index.docker.io/v1/"  # the key `docker login` writes for Hub
DEFAULT_TAG = "latest"

_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
                   r"|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?$")
_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
_DIGEST_HEX = {"sha256": 64, "sha384": 96, "sha512": 128}
_MAX_NAME = 255


class InvalidReference(ValueError):
    """A reference that does not parse; the message says which part is wrong."""


@dataclass(frozen=True, slots=True)
class ImageRef:
    registry: str  # `docker.io`, `registry.example.com:5000`
    repository: str  # `library/nginx`
    tag: str | None
    digest: str | None

    @property
    def api_host(self) -> str:
        """host[:port] that serves the registry API."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def reference(self) -> str:
        """What goes after `/manifests/`: the digest when there is one, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    @property
    def mutable(self) -> bool:
        """Not pinned: no digest, and the tag is `latest` or was left out."""
        return self.digest is None and self.tag in (None, DEFAULT_TAG)

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag is not None or self.digest is None:
            text += f":{self.tag or DEFAULT_TAG}"
        return text + (f"@{self.digest}" if self.digest else "")


def parse(text: object) -> ImageRef:
    """`text` -> ImageRef, normalised; InvalidReference when it is not a valid reference."""
    if not isinstance(text, str) or not text:
        raise InvalidReference("no image reference" if not text else f"{text!r} is not a string")
    if text != text.strip() or any(c.isspace() for c in text):
        raise InvalidReference("contains whitespace")
    remainder, digest = text, None
    if "@" in remainder:
        remainder, _, digest = remainder.partition("@")
        _check_digest(digest)
    tag = None
    slash = remainder.rfind("/")
    colon = remainder.rfind(":")
    if colon > slash:
        remainder, tag = remainder[:colon], remainder[colon + 1:]
        if not _TAG.match(tag):
            raise InvalidReference(f"bad tag {tag!r} (letters, digits, _ . -; at most 128; not starting with . or -)")
    registry, repository = _split_registry(remainder)
    if len(f"{registry}/{repository}") > _MAX_NAME:
        raise InvalidReference(f"repository name longer than {_MAX_NAME} characters")
    if repository != repository.lower():
        raise InvalidReference(f"repository name {repository!r} must be lowercase")
    for component in repository.split("/"):
        if not _PATH_COMPONENT.match(component):
            raise InvalidReference(f"bad repository path component {component!r}")
    return ImageRef(registry=registry, repository=repository, tag=tag, digest=digest)


def _split_registry(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if sep and (any(c in first for c in ".:") or first == "localhost" or first != first.lower()):
        if not _HOST.match(first):
            raise InvalidReference(f"bad registry host {first!r}")
        registry, repository = first.lower(), rest
    else:
        registry, repository = DOCKER_HUB, name
    if registry == "index.docker.io":
        registry = DOCKER_HUB
    if not repository:
        raise InvalidReference("no repository name")
    if registry == DOCKER_HUB and "/" not in repository:
        repository = f"library/{repository}"
    return registry, repository


def _check_digest(digest: str) -> None:
    if not _DIGEST.match(digest):
        raise InvalidReference(f"bad digest {digest!r} (algorithm:hex)")
    algorithm, _, hexpart = digest.partition(":")
    size = _DIGEST_HEX.get(algorithm)
    if size is None:
        raise InvalidReference(f"unsupported digest algorithm {algorithm!r}")
    if len(hexpart) != size or not re.fullmatch(r"[0-9a-f]+", hexpart):
        raise InvalidReference(f"bad {algorithm} digest: expected {size} lowercase hex digits")
