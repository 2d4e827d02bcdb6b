"""Where objects come from: every input behind one interface.

- the render: files, folders and stdin (`files`, parsed by `yaml_parser`), or an Argo CD
  application's target manifests (`argocd`);
- what is known to exist: cluster-state snapshots (`snapshot`) and the live cluster (`kube`).

Everything here turns into `Resource`s of `LoadResult`s, so the index and the checks never know
where an object came from beyond its `origin` and `file` label.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gate.config import RunConfig
from gate.model import Resource
from gate.sources.documents import LoadResult
from gate.sources.budget import LoadBudget
from gate.sources.files import load_paths
from gate.sources.snapshot import load_snapshots


class SourceError(Exception):
    """Options that contradict each other (exit code 2)."""


@dataclass
class ClusterState:
    """What is known to exist, and whether anything was consulted at all (even if it was empty)."""

    loaded: LoadResult = field(default_factory=LoadResult)
    sources: list[str] = field(default_factory=list)  # for messages: what was consulted

    @property
    def consulted(self) -> bool:
        return bool(self.sources)


def check_options(config: RunConfig) -> None:
    """`--offline` means no network and no cluster: refuse what would need them."""
    cluster = config.cluster
    if config.offline and cluster.kube:
        raise SourceError("--kube reads the live cluster, which --offline forbids; drop one of them "
                          "(a snapshot from --cluster-state works offline)")
    if config.offline and cluster.argocd_app:
        raise SourceError("--argocd-app reads the Argo CD API, which --offline forbids; drop one of them")
    if cluster.argocd_insecure and cluster.argocd_ca:
        raise SourceError("--argocd-insecure turns off the verification that --argocd-ca is for; drop one of them")
    if (cluster.kubeconfig or cluster.context) and not cluster.kube:
        raise SourceError("--kubeconfig and --context choose the cluster for --kube; add --kube")


def read_render(config: RunConfig, budget: LoadBudget | None = None) -> LoadResult:
    """What will be applied: the paths (and stdin), plus an Argo CD application's manifests."""
    loaded = load_paths(config.paths, stdin=config.stdin, max_file_bytes=config.max_file_bytes, budget=budget)
    if config.cluster.argocd_app:
        from gate.sources.argocd import load_argocd_app  # httpx only when Argo CD is asked

        load_argocd_app(config.cluster.argocd_app, loaded, insecure=config.cluster.argocd_insecure,
                        ca_file=config.cluster.argocd_ca,
                        max_bytes=config.max_file_bytes)
    return loaded


def read_known(config: RunConfig, render: list[Resource], budget: LoadBudget | None = None) -> ClusterState:
    """What exists already: snapshots, then the live cluster (only the namespaces the render touches)."""
    cluster = config.cluster
    state = ClusterState()
    if cluster.state_paths:
        state.loaded = load_snapshots(list(cluster.state_paths), max_file_bytes=config.max_file_bytes, budget=budget)
        state.sources.extend(cluster.state_paths)
    if cluster.kube:
        from gate.sources.kube import read_cluster  # lightkube only when the cluster is read

        live = read_cluster(render, kubeconfig=cluster.kubeconfig, context=cluster.context,
                            default_namespace=config.namespace)
        state.loaded.resources.extend(live.resources)
        state.loaded.errors.extend(live.errors)
        state.sources.append(live.label)
    return state


# What an audit keeps of a snapshot or a live read restricted to namespaces: the application kinds in
# those namespaces, the platform kinds everywhere (routes there attach to Gateways elsewhere).
PLATFORM_KINDS = frozenset({"Gateway", "GatewayClass", "Deployment", "Application"})


def read_live(config: RunConfig) -> ClusterState:
    """`gate audit`'s input: the cluster as it is, from snapshots (`--cluster-state`) or the API (`--kube`)."""
    cluster = config.cluster
    namespaces = tuple(config.audit.namespaces)
    state = ClusterState()
    if cluster.state_paths:
        state.loaded = load_snapshots(list(cluster.state_paths), max_file_bytes=config.max_file_bytes)
        state.sources.extend(cluster.state_paths)
    if cluster.kube:
        from gate.sources.kube import read_for_audit  # lightkube only when the cluster is read

        live = read_for_audit(namespaces, kubeconfig=cluster.kubeconfig, context=cluster.context)
        state.loaded.resources.extend(live.resources)
        state.loaded.errors.extend(live.errors)
        state.sources.append(live.label)
    if namespaces:
        state.loaded.resources = in_namespaces(state.loaded.resources, set(namespaces))
    return state


def in_namespaces(resources: list[Resource], namespaces: set[str]) -> list[Resource]:
    gateway_namespaces = {r.namespace for r in resources if r.kind == "Gateway"}
    return [r for r in resources if not r.namespace or r.namespace in namespaces or r.kind in PLATFORM_KINDS
            or (r.kind == "Secret" and r.namespace in gateway_namespaces)]
