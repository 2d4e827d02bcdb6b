"""One in-memory index of the render (and of what is known to exist), references resolved once.

Checks read this; they never re-scan the documents. Everything here is linear in the number of
resources: lookups are dictionary hits, and each reference is resolved exactly once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Any

from gate.domain.gateway_api import (
    DEFAULT_ROUTE_KINDS,
    ROUTE_KINDS,
    BackendRef,
    Listener,
    ObjectRef,
    ParentRef,
    Route,
)
from gate.domain.kube import (
    CERT_MANAGER_GROUP,
    CLUSTER_SCOPED_KINDS,
    GATEWAY_GROUP,
    WORKLOAD_KINDS,
    as_dict,
    as_list,
    dig,
    hashable,
    pod_template,
    selector_matches,
)
from gate.domain.shims import derived_certificates
from gate.model import Resource

Key = tuple[str, str, str, str]  # group, kind, namespace, name


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
        slots: dict[Key, tuple[int, int]] = {}  # where each key's object sits in its kind's list and in out
        for res in resources:
            self._place(res, cluster_scoped, self._by_key, self._by_kind, self.resources, slots, record=True)
        slots = {}
        for res in known:
            self._place(res, cluster_scoped, self._known_by_key, self._known_by_kind, self.known, slots)

        self.namespaces: dict[str, Resource] = {r.name: r for r in self.all_of("", "Namespace")}
        self.certificates: list[Resource] = list(self.of(CERT_MANAGER_GROUP, "Certificate"))
        # What ingress-shim and gateway-shim will create; see gate/domain/shims.py for precedence
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

        self._picked: dict[tuple[Key, Any, Any], list[Listener]] = {}
        self.routes: list[Route] = [self._route(r) for kind in ROUTE_KINDS for r in self.of(GATEWAY_GROUP, kind)]
        self._workloads_by_ns: dict[str, list[tuple[Resource, dict[str, Any]]]] = defaultdict(list)
        # (namespace, label key, label value) -> workloads whose pod template has that label: a
        # Service's selector is then matched against the workloads that share one of its labels,
        # not against every workload of its namespace (Services x workloads in a big namespace).
        self._workloads_by_label: dict[tuple[str, Any, str], list[tuple[Resource, dict[str, Any]]]] = \
            defaultdict(list)
        for kind in sorted(WORKLOAD_KINDS):
            for res in self.all_of(None, kind):
                template = pod_template(res)
                if template is not None:
                    self._workloads_by_ns[res.namespace].append((res, template))
                    for key, value in as_dict(dig(template, "metadata", "labels")).items():
                        self._workloads_by_label[(res.namespace, hashable(key), str(value))].append((res, template))
        self._selected: dict[Key, list[tuple[Resource, dict[str, Any]]]] = {}

    # -- placing and finding objects ------------------------------------------------------------

    def _place(self, res: Resource, cluster_scoped: set[str], by_key: dict, by_kind: dict, out: list,
               slots: dict[Key, tuple[int, int]], record: bool = False) -> None:
        # The namespace the API server stores the object in: none for cluster-scoped kinds, the
        # default (`kubectl apply -n`) for namespaced objects that set none. A copy, not an edit:
        # the sources' Resources stay as read.
        namespace = "" if res.kind in cluster_scoped else (res.namespace or self.default_namespace)
        if namespace != res.namespace:
            res = replace(res, namespace=namespace)
        earlier = by_key.get(res.key)
        if earlier is not None:
            # One object to the API server: `kubectl apply` and Argo CD apply the copies in order, so
            # the last one is what runs, and what the checks judge (in the first copy's place).
            if record:
                self.duplicates.append((earlier, res))
            by_key[res.key] = res
            in_kind, in_out = slots[res.key]
            by_kind[(res.group, res.kind)][in_kind] = res
            out[in_out] = res
            return
        by_key[res.key] = res
        same_kind = by_kind[(res.group, res.kind)]
        slots[res.key] = (len(same_kind), len(out))
        same_kind.append(res)
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
        kinds = {k.get("kind") for k in as_list(allowed.get("kinds"))
                 if isinstance(k, dict) and isinstance(k.get("kind"), str)}
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
                    parent.listeners = self._parent_listeners(parent.gateway, parent.section_name, parent.port)
            route.parents.append(parent)
        for i, rule in enumerate(as_list(spec.get("rules"))):
            for j, raw in enumerate(as_list(as_dict(rule).get("backendRefs"))):
                if isinstance(raw, dict):
                    route.backends.append(self._backend(resource, raw, f"spec.rules[{i}].backendRefs[{j}]"))
        return route

    def _parent_listeners(self, gateway: Resource, section_name: Any, port: Any) -> list[Listener]:
        """The listeners a parentRef's sectionName and port pick: the same few answers for thousands
        of routes on one shared Gateway, so each is worked out once (a fresh list each time)."""
        try:
            key = (gateway.key, section_name, port)
            picked = self._picked.get(key)
        except TypeError:  # an unhashable sectionName or port (a mapping in the YAML): not cached
            key, picked = None, None
        if picked is None:
            picked = [lst for lst in self.listeners_by_gateway.get(gateway.key, [])
                      if (section_name is None or lst.name == section_name) and (port is None or lst.port == port)]
            if key is not None:
                self._picked[key] = picked
        return list(picked)

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

    def other_listeners(self, listener: Listener) -> int:
        """How many listeners share the listener's Gateway (its fate, on some controllers)."""
        return len(self.listeners_by_gateway.get(listener.gateway.key, ())) - 1

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
                (res, template) for res, template in self._candidates(service.namespace, selector)
                if selector_matches(selector, as_dict(dig(template, "metadata", "labels")))
            ]
            self._selected[service.key] = cached
        return cached

    def all_workloads(self) -> list[Resource]:
        """Rendered and known workloads (rendered first)."""
        return [res for items in self._workloads_by_ns.values() for res, _ in items]

    def _candidates(self, namespace: str, selector: Any) -> list[tuple[Resource, dict[str, Any]]]:
        """A superset of what `selector` selects in `namespace`, in index order: the workloads that
        carry the selector's rarest required label, or all of the namespace's when none is required."""
        required: dict[Any, Any] = {}
        if isinstance(selector, dict):
            required = as_dict(selector.get("matchLabels")) \
                if "matchLabels" in selector or "matchExpressions" in selector else selector
        if not required:
            return self._workloads_by_ns.get(namespace, [])
        return min((self._workloads_by_label.get((namespace, hashable(key), str(value)), [])
                    for key, value in required.items()), key=len)

    def workloads(self) -> list[Resource]:
        return [res for items in self._workloads_by_ns.values() for res, _ in items if res.origin == "render"]
