"""One in-memory index of the render (and of what is known to exist), references resolved once.

Checks read this; they never re-scan the documents. Everything here is linear in the number of
resources: lookups are dictionary hits, and each reference is resolved exactly once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from gate.domain.kube import (
    CERT_MANAGER_GROUP,
    CLUSTER_SCOPED_KINDS,
    GATEWAY_GROUP,
    WORKLOAD_KINDS,
    as_dict,
    as_list,
    dig,
    pod_template,
    selector_matches,
)
from gate.model import Resource
from gate.domain.shims import derived_certificates

ROUTE_KINDS = ("HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute")
# Protocols whose routes a listener admits when allowedRoutes.kinds is not set (Gateway API spec).
DEFAULT_ROUTE_KINDS = {"HTTP": {"HTTPRoute", "GRPCRoute"}, "HTTPS": {"HTTPRoute", "GRPCRoute"},
                       "TLS": {"TLSRoute"}, "TCP": {"TCPRoute"}, "UDP": {"UDPRoute"}}

Key = tuple[str, str, str, str]  # group, kind, namespace, name


@dataclass(eq=False)
class ObjectRef:
    """A reference from one object to another, resolved against the render and what is known."""

    group: str
    kind: str
    namespace: str
    name: str
    target: Resource | None = None  # the object, when rendered or known to exist
    permitted: bool = True  # False: cross-namespace with no ReferenceGrant allowing it
    path: str = ""  # where the reference sits in its object, e.g. spec.listeners[2].tls.certificateRefs[0]


@dataclass(eq=False)
class Listener:
    gateway: Resource
    position: int
    name: str
    port: Any
    protocol: str
    hostname: str | None
    tls_mode: str | None  # as written; None when unset (Terminate by default for HTTPS)
    certificate_refs: list[ObjectRef] = field(default_factory=list)
    allowed_from: str = "Same"
    allowed_selector: Any = None
    allowed_kinds: set[str] = field(default_factory=set)

    @property
    def path(self) -> str:
        return f"spec.listeners[{self.position}]"

    @property
    def label(self) -> str:
        return f"{self.gateway.namespace}/{self.gateway.name}:{self.name}"

    def admits_namespace(self, namespace: str, namespaces: dict[str, Resource]) -> bool:
        if self.allowed_from == "All":
            return True
        if self.allowed_from == "Selector":
            ns = namespaces.get(namespace)
            labels = dict(ns.labels) if ns is not None else {}
            labels.setdefault("kubernetes.io/metadata.name", namespace)
            return selector_matches(self.allowed_selector, labels)
        return namespace == self.gateway.namespace

    def admits_kind(self, kind: str) -> bool:
        return kind in self.allowed_kinds


@dataclass(eq=False)
class ParentRef:
    group: str
    kind: str
    namespace: str
    name: str
    section_name: str | None
    port: Any
    position: int
    gateway: Resource | None = None
    listeners: list[Listener] = field(default_factory=list)  # those named by sectionName/port

    @property
    def label(self) -> str:
        extra = f":{self.section_name}" if self.section_name else ""
        extra += f" port {self.port}" if self.port is not None else ""
        return f"{self.kind} {self.namespace}/{self.name}{extra}"


@dataclass(eq=False)
class BackendRef(ObjectRef):
    port: Any = None
    service_port: dict[str, Any] | None = None  # the Service port the backendRef's port names


@dataclass(eq=False)
class Route:
    resource: Resource
    hostnames: list[str]
    parents: list[ParentRef] = field(default_factory=list)
    backends: list[BackendRef] = field(default_factory=list)


class Index:
    def __init__(self, resources: list[Resource], known: list[Resource] = (), *,
                 default_namespace: str = "default"):
        self.default_namespace = default_namespace
        self.cluster_state_consulted = bool(known)
        self.resources: list[Resource] = []
        self.known: list[Resource] = []
        self.duplicates: list[tuple[Resource, Resource]] = []  # (first, later copy)
        self._by_key: dict[Key, Resource] = {}
        self._known_by_key: dict[Key, Resource] = {}
        self._by_kind: dict[tuple[str, str], list[Resource]] = defaultdict(list)
        self._known_by_kind: dict[tuple[str, str], list[Resource]] = defaultdict(list)

        cluster_scoped = set(CLUSTER_SCOPED_KINDS)
        for res in (*resources, *known):
            if res.kind == "CustomResourceDefinition" and dig(res.body, "spec", "scope") == "Cluster":
                kind = dig(res.body, "spec", "names", "kind")
                if isinstance(kind, str):
                    cluster_scoped.add(kind)
        for res in resources:
            self._place(res, cluster_scoped, self._by_key, self._by_kind, self.resources, record=True)
        for res in known:
            self._place(res, cluster_scoped, self._known_by_key, self._known_by_kind, self.known)

        self.namespaces: dict[str, Resource] = {r.name: r for r in self.all_of("", "Namespace")}
        self.certificates: list[Resource] = list(self.of(CERT_MANAGER_GROUP, "Certificate"))
        # What ingress-shim and gateway-shim will create (issue 3); see gate/domain/shims.py for precedence
        self.certificates += derived_certificates(self.certificates, self.of(None, "Ingress"),
                                                  self.of(GATEWAY_GROUP, "Gateway"))
        self.certificates_by_secret: dict[tuple[str, str], list[Resource]] = defaultdict(list)
        for cert in self.certificates:
            secret = cert.spec.get("secretName")
            if isinstance(secret, str):
                self.certificates_by_secret[(cert.namespace, secret)].append(cert)
        self._grants: dict[str, list[Resource]] = defaultdict(list)
        for grant in self.all_of(GATEWAY_GROUP, "ReferenceGrant"):
            self._grants[grant.namespace].append(grant)

        self.listeners: list[Listener] = []
        self.listeners_by_gateway: dict[Key, list[Listener]] = {}
        for gateway in self.all_of(GATEWAY_GROUP, "Gateway"):
            if gateway.key in self.listeners_by_gateway:
                continue  # the rendered version (listed first) replaces the one in the cluster
            listeners = [self._listener(gateway, i, raw)
                         for i, raw in enumerate(as_list(gateway.spec.get("listeners")))
                         if isinstance(raw, dict)]
            self.listeners_by_gateway[gateway.key] = listeners
            if gateway.origin == "render":
                self.listeners.extend(listeners)

        self.routes: list[Route] = [self._route(r) for kind in ROUTE_KINDS for r in self.of(GATEWAY_GROUP, kind)]
        self._workloads_by_ns: dict[str, list[tuple[Resource, dict[str, Any]]]] = defaultdict(list)
        for kind in sorted(WORKLOAD_KINDS):
            for res in self.all_of(None, kind):
                template = pod_template(res)
                if template is not None:
                    self._workloads_by_ns[res.namespace].append((res, template))
        self._selected: dict[Key, list[tuple[Resource, dict[str, Any]]]] = {}

    # -- placing and finding objects ------------------------------------------------------------

    def _place(self, res: Resource, cluster_scoped: set[str], by_key: dict, by_kind: dict, out: list,
               record: bool = False) -> None:
        if res.kind in cluster_scoped:
            res.namespace = ""
        elif not res.namespace:
            res.namespace = self.default_namespace  # as `kubectl apply` does
        first = by_key.get(res.key)
        if first is not None:
            if record:
                self.duplicates.append((first, res))
            return
        by_key[res.key] = res
        by_kind[(res.group, res.kind)].append(res)
        out.append(res)

    def of(self, group: str | None, kind: str) -> list[Resource]:
        """Rendered objects of one kind; group None means any group."""
        if group is not None:
            return self._by_kind.get((group, kind), [])
        return [r for (g, k), items in self._by_kind.items() if k == kind for r in items]

    def all_of(self, group: str | None, kind: str) -> list[Resource]:
        """Rendered and known objects of one kind (rendered first)."""
        if group is not None:
            return [*self._by_kind.get((group, kind), []), *self._known_by_kind.get((group, kind), [])]
        return [r for source in (self._by_kind, self._known_by_kind)
                for (g, k), items in source.items() if k == kind for r in items]

    def get(self, group: str, kind: str, namespace: str, name: str) -> Resource | None:
        """The rendered object, else the one known to exist, else None."""
        key = (group, kind, namespace, name)
        return self._by_key.get(key) or self._known_by_key.get(key)

    def secret_exists(self, namespace: str, name: str) -> Resource | None:
        return self.get("", "Secret", namespace, name)

    def namespace_known(self, name: str) -> bool:
        return name in self.namespaces

    # -- ReferenceGrants ----------------------------------------------------------------------------

    def reference_permitted(self, from_group: str, from_kind: str, from_namespace: str,
                            to_group: str, to_kind: str, to_namespace: str, to_name: str) -> bool:
        return from_namespace == to_namespace or self.permitting_grant(
            from_group, from_kind, from_namespace, to_group, to_kind, to_namespace, to_name) is not None

    def permitting_grant(self, from_group: str, from_kind: str, from_namespace: str,
                         to_group: str, to_kind: str, to_namespace: str, to_name: str) -> Resource | None:
        """The ReferenceGrant in the target namespace that allows this cross-namespace reference."""
        for grant in self._grants.get(to_namespace, ()):
            froms = as_list(grant.spec.get("from"))
            tos = as_list(grant.spec.get("to"))
            if not any(isinstance(f, dict) and f.get("group", "") == from_group and f.get("kind") == from_kind
                       and f.get("namespace") == from_namespace for f in froms):
                continue
            if any(isinstance(t, dict) and t.get("group", "") == to_group and t.get("kind") == to_kind
                   and t.get("name") in (None, "", to_name) for t in tos):
                return grant
        return None

    # -- Gateways and routes -------------------------------------------------------------------------

    def _listener(self, gateway: Resource, position: int, raw: dict[str, Any]) -> Listener:
        protocol = str(raw.get("protocol", ""))
        tls = as_dict(raw.get("tls"))
        allowed = as_dict(raw.get("allowedRoutes"))
        namespaces = as_dict(allowed.get("namespaces"))
        kinds = {k.get("kind") for k in as_list(allowed.get("kinds")) if isinstance(k, dict)}
        listener = Listener(
            gateway=gateway, position=position, name=str(raw.get("name", "")), port=raw.get("port"),
            protocol=protocol, hostname=raw.get("hostname") if isinstance(raw.get("hostname"), str) else None,
            tls_mode=tls.get("mode") if "mode" in tls else None,
            allowed_from=str(namespaces.get("from", "Same")), allowed_selector=namespaces.get("selector"),
            allowed_kinds=kinds or set(DEFAULT_ROUTE_KINDS.get(protocol, ())),
        )
        for j, ref in enumerate(as_list(tls.get("certificateRefs"))):
            if not isinstance(ref, dict):
                continue
            group, kind = str(ref.get("group", "")), str(ref.get("kind", "Secret"))
            namespace = str(ref.get("namespace") or gateway.namespace)
            name = str(ref.get("name", ""))
            listener.certificate_refs.append(ObjectRef(
                group=group, kind=kind, namespace=namespace, name=name,
                target=self.get(group, kind, namespace, name),
                permitted=self.reference_permitted(GATEWAY_GROUP, "Gateway", gateway.namespace,
                                                   group, kind, namespace, name),
                path=f"{listener.path}.tls.certificateRefs[{j}]",
            ))
        return listener

    def _route(self, resource: Resource) -> Route:
        spec = resource.spec
        route = Route(resource=resource,
                      hostnames=[h for h in as_list(spec.get("hostnames")) if isinstance(h, str)])
        for i, raw in enumerate(as_list(spec.get("parentRefs"))):
            if not isinstance(raw, dict):
                continue
            parent = ParentRef(
                group=str(raw.get("group", GATEWAY_GROUP)), kind=str(raw.get("kind", "Gateway")),
                namespace=str(raw.get("namespace") or resource.namespace), name=str(raw.get("name", "")),
                section_name=raw.get("sectionName"), port=raw.get("port"), position=i,
            )
            if parent.group == GATEWAY_GROUP and parent.kind == "Gateway":
                parent.gateway = self.get(GATEWAY_GROUP, "Gateway", parent.namespace, parent.name)
                if parent.gateway is not None:
                    parent.listeners = [
                        lst for lst in self.listeners_by_gateway.get(parent.gateway.key, [])
                        if (parent.section_name is None or lst.name == parent.section_name)
                        and (parent.port is None or lst.port == parent.port)
                    ]
            route.parents.append(parent)
        for i, rule in enumerate(as_list(spec.get("rules"))):
            for j, raw in enumerate(as_list(as_dict(rule).get("backendRefs"))):
                if isinstance(raw, dict):
                    route.backends.append(self._backend(resource, raw, f"spec.rules[{i}].backendRefs[{j}]"))
        return route

    def _backend(self, referrer: Resource, raw: dict[str, Any], path: str) -> BackendRef:
        group, kind = str(raw.get("group", "")), str(raw.get("kind", "Service"))
        namespace = str(raw.get("namespace") or referrer.namespace)
        name = str(raw.get("name", ""))
        ref = BackendRef(group=group, kind=kind, namespace=namespace, name=name, path=path,
                         port=raw.get("port"), target=self.get(group, kind, namespace, name),
                         permitted=self.reference_permitted(referrer.group, referrer.kind, referrer.namespace,
                                                            group, kind, namespace, name))
        if ref.target is not None and (group, kind) == ("", "Service"):
            ref.service_port = next((p for p in as_list(ref.target.spec.get("ports"))
                                     if isinstance(p, dict) and p.get("port") == ref.port), None)
        return ref

    def routes_for_gateway(self, gateway: Resource) -> list[tuple[Route, ParentRef]]:
        return [(route, parent) for route in self.routes for parent in route.parents
                if parent.gateway is gateway]

    # -- Services and workloads ------------------------------------------------------------------------

    def workloads_for(self, service: Resource) -> list[tuple[Resource, dict[str, Any]]]:
        """Workloads (with their pod template) whose pod labels the Service's selector selects."""
        cached = self._selected.get(service.key)
        if cached is None:
            selector = service.spec.get("selector")
            cached = [
                (res, template) for res, template in self._workloads_by_ns.get(service.namespace, ())
                if selector_matches(selector, as_dict(dig(template, "metadata", "labels")))
            ]
            self._selected[service.key] = cached
        return cached

    def workloads(self) -> list[Resource]:
        return [res for items in self._workloads_by_ns.values() for res, _ in items if res.origin == "render"]
