"""`--kube`: read what already exists from the live API server.

lightkube does the kubeconfig, context, in-cluster service account, TLS and authentication
(tokens, token files, client certificates, exec plugins) and hands over an authenticated HTTP
client; the gate then asks fixed list paths for the kinds its references point at, in the
namespaces the render touches. Secrets are requested as `PartialObjectMetadataList`, so the API
server never sends their data; lightkube's typed `list()` has no way to ask for that, which is why
the requests go through its client directly.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gate.domain.kube import CERT_MANAGER_GROUP, CLUSTER_SCOPED_KINDS, GATEWAY_GROUP, as_dict, as_list
from gate.model import Resource
from gate.sources.api_errors import error_message
from gate.sources.redact import secret_metadata_only, without_pod_env

# Only this media type: a fallback to plain JSON would let a server that cannot do metadata-only
# lists send full Secrets instead of refusing (406).
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
PAGE_SIZE = 500
CONCURRENCY = 8
TIMEOUT_SECONDS = 20.0


@dataclass(frozen=True)
class Kind:
    kind: str
    group: str
    plural: str
    versions: tuple[str, ...]  # tried in order; 404 means "not served", try the next
    namespaced: bool = True
    metadata_only: bool = False
    # Read only in these namespaces (not the render's), with this label selector: for objects the
    # gate reads about the platform rather than the application (cert-manager's own Deployment).
    fixed_namespaces: tuple[str, ...] | None = None
    selector: str = ""
    # Read across all namespaces in one list (the audit's platform objects: Gateways, controllers).
    cluster_wide: bool = False
    keep: Callable[[Resource], bool] | None = None  # drop what else the list returns (other Deployments)

    def path(self, version: str, namespace: str | None) -> str:
        base = f"/api/{version}" if not self.group else f"/apis/{self.group}/{version}"
        scope = f"/namespaces/{namespace}" if self.namespaced and namespace else ""
        return f"{base}{scope}/{self.plural}"

    def api_version(self, version: str) -> str:
        return f"{self.group}/{version}" if self.group else version


# The kinds references point at (README "Cluster state"; deploy RBAC grants get/list on these).
KINDS = (
    Kind("Namespace", "", "namespaces", ("v1",), namespaced=False),
    Kind("ClusterIssuer", CERT_MANAGER_GROUP, "clusterissuers", ("v1",), namespaced=False),
    Kind("Service", "", "services", ("v1",)),
    Kind("Secret", "", "secrets", ("v1",), metadata_only=True),
    Kind("Gateway", GATEWAY_GROUP, "gateways", ("v1", "v1beta1")),
    Kind("ReferenceGrant", GATEWAY_GROUP, "referencegrants", ("v1", "v1beta1")),
    Kind("Issuer", CERT_MANAGER_GROUP, "issuers", ("v1",)),
    Kind("Certificate", CERT_MANAGER_GROUP, "certificates", ("v1",)),
    # What the Gateway controller is (its GatewayClass) and how cert-manager runs (its Deployment's
    # image tag and args; the pod env is dropped on read, as Secret data is).
    Kind("GatewayClass", GATEWAY_GROUP, "gatewayclasses", ("v1", "v1beta1"), namespaced=False),
    Kind("Deployment", "apps", "deployments", ("v1",), fixed_namespaces=("cert-manager",),
         selector="app.kubernetes.io/name=cert-manager,app.kubernetes.io/component=controller"),
)


def _controller_deployment(resource: Resource) -> bool:
    """cert-manager's controller, or a known Gateway controller (by image): the Deployments an audit reads."""
    from gate.domain import certmanager_controller, controllers
    from gate.domain.kube import containers

    return certmanager_controller.is_controller(resource) or any(
        controllers.image_controller(c.get("image")) is not None for _, c in containers(resource))


# What `gate audit --kube` reads (deploy/audit/rbac.yaml grants get/list on exactly these). Without
# --namespace every kind is one cluster-wide list; with it, the application kinds are read in those
# namespaces and the platform kinds (Gateways, GatewayClasses, controllers, Argo CD Applications)
# still cluster-wide, since routes in the audited namespaces attach to Gateways elsewhere.
AUDIT_KINDS = (
    Kind("HTTPRoute", GATEWAY_GROUP, "httproutes", ("v1", "v1beta1")),
    Kind("Challenge", "acme.cert-manager.io", "challenges", ("v1",)),
    Kind("Order", "acme.cert-manager.io", "orders", ("v1",)),
    Kind("Certificate", CERT_MANAGER_GROUP, "certificates", ("v1",)),
    Kind("CertificateRequest", CERT_MANAGER_GROUP, "certificaterequests", ("v1",)),
    Kind("Service", "", "services", ("v1",)),
    Kind("Secret", "", "secrets", ("v1",), metadata_only=True),
    Kind("Gateway", GATEWAY_GROUP, "gateways", ("v1", "v1beta1"), cluster_wide=True),
    Kind("GatewayClass", GATEWAY_GROUP, "gatewayclasses", ("v1", "v1beta1"), namespaced=False),
    Kind("Application", "argoproj.io", "applications", ("v1alpha1",), cluster_wide=True),
    Kind("Deployment", "apps", "deployments", ("v1",), cluster_wide=True, keep=_controller_deployment),
)


@dataclass
class LiveState:
    context: str = ""
    resources: list[Resource] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    not_served: list[str] = field(default_factory=list)  # kinds whose API the cluster does not serve
    requests: int = 0
    single: Any = field(default=None, repr=False)  # lightkube's connection settings

    @property
    def label(self) -> str:
        return f"live API, context {self.context}" if self.context else "live API"


class NotServed(Exception):
    pass


class ReadError(Exception):
    pass


def touched_namespaces(render: list[Resource], default_namespace: str) -> list[str]:
    """Namespaces the render puts objects in or refers to (parentRefs, backendRefs, certificateRefs)."""
    found: set[str] = set()
    for res in render:
        if res.kind == "Namespace":
            found.add(res.name)
        elif res.kind not in CLUSTER_SCOPED_KINDS:
            found.add(res.namespace or default_namespace)
        spec = res.spec
        refs = [*as_list(spec.get("parentRefs"))]
        for rule in as_list(spec.get("rules")):
            refs.extend(as_list(as_dict(rule).get("backendRefs")))
        for listener in as_list(spec.get("listeners")):
            refs.extend(as_list(as_dict(as_dict(listener).get("tls")).get("certificateRefs")))
        for ref in refs:
            namespace = as_dict(ref).get("namespace")
            if isinstance(namespace, str) and namespace:
                found.add(namespace)
    return sorted(found)


def kube_config(kubeconfig: str | None, context: str | None, service_account: str | None = None):
    """lightkube's SingleConfig: --kubeconfig FILE, else in-cluster service account, else
    $KUBECONFIG or ~/.kube/config; --context picks the context (default: the current one)."""
    from lightkube.config.kubeconfig import SERVICE_ACCOUNT, KubeConfig

    if kubeconfig:
        config = KubeConfig.from_file(kubeconfig)
    else:
        config = KubeConfig.from_env(service_account=service_account or SERVICE_ACCOUNT)
    return config.get(context)


def read_cluster(render: list[Resource], *, kubeconfig: str | None = None, context: str | None = None,
                 default_namespace: str = "default", service_account: str | None = None) -> LiveState:
    """Every object of KINDS in the touched namespaces (plus cluster-scoped ones); failures as errors."""
    from lightkube.core.exceptions import ConfigError

    try:
        single = kube_config(kubeconfig, context, service_account)
    except Exception as exc:  # noqa: BLE001 - a kubeconfig is input: any flaw is reported, not raised
        state = LiveState()
        hint = "" if kubeconfig or not isinstance(exc, ConfigError) else \
            " (pass --kubeconfig, set KUBECONFIG, or run in a Pod with a service account)"
        state.errors.append(f"--kube: cannot load the cluster configuration: {_plain(exc)}{hint}")
        return state
    state = LiveState(context=single.context_name)
    if single.user is None:
        state.errors.append(f"--kube: context {single.context_name} has no user to authenticate as")
        return state
    namespaces = touched_namespaces(render, default_namespace)
    asyncio.run(_read_all(single, namespaces, state))
    state.resources.sort(key=lambda r: (r.kind, r.namespace, r.name))
    return state


def read_for_audit(namespaces: tuple[str, ...] = (), *, kubeconfig: str | None = None, context: str | None = None,
                   service_account: str | None = None) -> LiveState:
    """Every object of AUDIT_KINDS: cluster-wide, or the application kinds in `namespaces` only (the
    Secrets also in the namespaces of the Gateways, whose listeners name them)."""
    state = _connect(kubeconfig, context, service_account)
    if state.errors:
        return state
    single = state.single
    kinds = [k for k in AUDIT_KINDS if k.kind != "Secret"]
    secrets = next(k for k in AUDIT_KINDS if k.kind == "Secret")
    if not namespaces:
        asyncio.run(_read_all(single, [None], state, kinds=[*kinds, secrets]))
    else:
        asyncio.run(_read_all(single, list(namespaces), state, kinds=kinds))
        gateway_namespaces = {r.namespace for r in state.resources if r.kind == "Gateway"}
        asyncio.run(_read_all(single, sorted({*namespaces, *gateway_namespaces}), state, kinds=[secrets]))
    state.resources.sort(key=lambda r: (r.kind, r.namespace, r.name))
    return state


def _connect(kubeconfig: str | None, context: str | None, service_account: str | None) -> LiveState:
    from lightkube.core.exceptions import ConfigError

    try:
        single = kube_config(kubeconfig, context, service_account)
    except Exception as exc:  # noqa: BLE001 - a kubeconfig is input: any flaw is reported, not raised
        state = LiveState()
        hint = "" if kubeconfig or not isinstance(exc, ConfigError) else \
            " (pass --kubeconfig, set KUBECONFIG, or run in a Pod with a service account)"
        state.errors.append(f"--kube: cannot load the cluster configuration: {_plain(exc)}{hint}")
        return state
    state = LiveState(context=single.context_name, single=single)
    if single.user is None:
        state.errors.append(f"--kube: context {single.context_name} has no user to authenticate as")
    return state


async def _read_all(single: Any, namespaces: list[str | None], state: LiveState,
                    kinds: tuple[Kind, ...] | list[Kind] = KINDS) -> None:
    from lightkube.config.client_adapter import AsyncClient, ConnectionParams

    try:
        client = AsyncClient(single, ConnectionParams(timeout=TIMEOUT_SECONDS))
    except Exception as exc:  # noqa: BLE001 - a bad CA file or client key: report, never crash
        state.errors.append(f"--kube: cannot set up the connection to {single.cluster.server}: {_plain(exc)}")
        return
    limit = asyncio.Semaphore(CONCURRENCY)
    async with client:
        results = await asyncio.gather(*(_read_kind(client, limit, kind, namespaces, state) for kind in kinds))
    for kind_resources in results:
        state.resources.extend(kind_resources)


async def _read_kind(client: Any, limit: asyncio.Semaphore, kind: Kind, namespaces: list[str],
                     state: LiveState) -> list[Resource]:
    if kind.fixed_namespaces is not None:
        scopes: list[str | None] = list(kind.fixed_namespaces)
    elif kind.cluster_wide:
        scopes = [None]
    else:
        scopes = list(namespaces) if kind.namespaced else [None]
    if not scopes:
        return []
    for version in kind.versions:
        try:
            # The first scope tells whether this version is served; the rest then go in parallel.
            first = await _list(client, limit, kind, version, scopes[0], state)
        except NotServed:
            continue
        except ReadError as exc:
            state.errors.append(f"--kube: {exc}")
            return []
        rest = await asyncio.gather(*(_list(client, limit, kind, version, ns, state) for ns in scopes[1:]),
                                    return_exceptions=True)
        failed = [f"--kube: {r}" for r in rest if isinstance(r, ReadError | NotServed)]
        state.errors.extend(failed)
        for other in rest:
            if isinstance(other, BaseException) and not isinstance(other, ReadError | NotServed):
                raise other
        return [] if failed else [res for chunk in (first, *rest) for res in chunk]
    state.not_served.append(kind.kind)
    return []


async def _list(client: Any, limit: asyncio.Semaphore, kind: Kind, version: str, namespace: str | None,
                state: LiveState) -> list[Resource]:
    path = kind.path(version, namespace)
    headers = {"Accept": METADATA_ONLY if kind.metadata_only else "application/json"}
    where = f"in namespace {namespace}" if namespace else "in all namespaces" if kind.namespaced else "(cluster-scoped)"
    resources: list[Resource] = []
    base = {"limit": str(PAGE_SIZE), **({"labelSelector": kind.selector} if kind.selector else {})}
    params = dict(base)
    while True:
        async with limit:
            state.requests += 1
            try:
                response = await client.get(path, params=params, headers=headers)
            except Exception as exc:  # noqa: BLE001 - transport, TLS and auth-plugin failures alike
                raise ReadError(f"cannot list {kind.plural} {where} at {client.base_url}: {_plain(exc)}") from None
        if response.status_code == 404:  # a list in a missing namespace is empty, never 404
            raise NotServed(f"{path} answered 404 Not Found")
        if response.status_code != 200:
            raise ReadError(f"cannot list {kind.plural} {where}: {response.status_code} "
                            f"{response.reason_phrase}{error_message(response.content)}"
                            f"{_rbac_hint(kind, namespace) if response.status_code == 403 else ''}")
        try:
            body = json.loads(response.content)
        except ValueError:
            raise ReadError(f"cannot list {kind.plural} {where}: the answer is not JSON") from None
        for item in as_list(as_dict(body).get("items")):
            resource = _to_resource(kind, version, as_dict(item), state.context)
            if resource is not None and (kind.keep is None or kind.keep(resource)):
                resources.append(resource)
        token = as_dict(as_dict(body).get("metadata")).get("continue")
        if not token:
            return resources
        params = {**base, "continue": token}


def _to_resource(kind: Kind, version: str, item: dict[str, Any], context: str) -> Resource | None:
    # List items carry no apiVersion/kind (and PartialObjectMetadata items name meta.k8s.io):
    # the request says what they are.
    body = {**item, "apiVersion": kind.api_version(version), "kind": kind.kind}
    if kind.kind == "Secret":
        body = secret_metadata_only(body)
    elif kind.kind == "Deployment":
        body = without_pod_env(body)
    metadata = as_dict(body.get("metadata"))
    if "managedFields" in metadata:  # the API sends them on every object; nothing here reads them
        body["metadata"] = {k: v for k, v in metadata.items() if k != "managedFields"}
    meta = as_dict(body.get("metadata"))
    name, namespace = meta.get("name"), meta.get("namespace")
    if not isinstance(name, str) or not name:
        return None
    return Resource(api_version=body["apiVersion"], kind=kind.kind, name=name,
                    namespace=namespace if isinstance(namespace, str) and kind.namespaced else "",
                    body=body, file=f"kube:{context}", line=1, origin="cluster")


def _rbac_hint(kind: Kind, namespace: str | None) -> str:
    resource = f"{kind.plural}.{kind.group}" if kind.group else kind.plural
    scope = f"in namespace {namespace}" if namespace else "cluster-wide"
    if kind.namespaced and not namespace:
        scope = "in all namespaces (a ClusterRole)"
    return f" (the gate needs `list` on {resource} {scope}; see README, Cluster state)"


def _plain(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
