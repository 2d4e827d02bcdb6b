"""What one run is asked to do: the typed, frozen configuration the CLI (or a test) hands to `run`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024
FAIL_ON = ("error", "warning")


class UsageError(Exception):
    """Bad options (unknown check id, contradicting options, ...): exit code 2."""


@dataclass(frozen=True)
class DnsOptions:
    """Command-line DNS settings; they win over the policy's `dns` and `loadBalancer` sections."""

    lb_hostnames: tuple[str, ...] = ()
    lb_addresses: tuple[str, ...] = ()
    nameservers: tuple[tuple[str, int], ...] = ()  # (address, port), parsed by the DNS probe


@dataclass(frozen=True)
class RegistryOptions:
    config_path: str | None = None  # Docker config.json; None: $DOCKER_CONFIG, ~/.docker
    insecure: tuple[str, ...] = ()  # HOST[:PORT] reached over plain HTTP


@dataclass(frozen=True)
class ClusterOptions:
    """What is known to exist (snapshots, the live API), and Argo CD as a render source."""

    state_paths: tuple[str, ...] = ()
    kube: bool = False
    kubeconfig: str | None = None
    context: str | None = None
    argocd_app: str | None = None
    argocd_insecure: bool = False
    argocd_ca: str | None = None  # a CA file for the Argo CD server (else ARGOCD_CA_FILE)


@dataclass(frozen=True)
class AuditOptions:
    """`gate audit`: which namespaces to audit (empty: all)."""

    namespaces: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunConfig:
    paths: tuple[str, ...] = ()
    policy: str | None = None
    namespace: str = "default"
    offline: bool = False
    fail_on: str = "error"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    stdin: Any = field(default=None, compare=False)
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    today: dt.date | None = None
    # The audit's clock (stuck for how long, growth per hour, next attempt); None: the current time.
    now: dt.datetime | None = None
    kube_version: str | None = None  # the Kubernetes release the API schemas are those of (else the policy's)
    dns: DnsOptions = DnsOptions()
    registry: RegistryOptions = RegistryOptions()
    cluster: ClusterOptions = ClusterOptions()
    # `paths` are the files a change touches: the whole render set is read, their findings count.
    changed: bool = False
    # Where Helm charts live in the repository: reports point at a finding's chart template
    # (its `# Source:`) under this folder when the file exists there.
    source_root: str | None = None
    audit: AuditOptions = AuditOptions()

    def __post_init__(self) -> None:
        # Lists are accepted for convenience and stored as tuples, so a config never changes under a run.
        for name in ("paths", "include", "exclude"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
