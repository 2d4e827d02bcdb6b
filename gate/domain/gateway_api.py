"""Gateway API semantics: listeners, route attachment, and what one listener's failure costs the others.

Facts from the Gateway API v1 spec and CRDs (kubernetes-sigs/gateway-api) and from the controllers'
source, as ../shared/docs/domain.md lists them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from gate.domain.kube import hostnames_intersect, selector_matches
from gate.model import Resource

TLS_PROTOCOLS = ("HTTPS", "TLS")
NO_TLS_PROTOCOLS = ("HTTP", "TCP", "UDP")
MAX_LISTENERS = 64  # Gateway API v1 CRD: listeners maxItems
MAX_ROUTE_HOSTNAMES = 16  # HTTPRoute/GRPCRoute/TLSRoute hostnames maxItems
ROUTE_KINDS = ("HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute")
# Protocols whose routes a listener admits when allowedRoutes.kinds is not set (Gateway API spec).
DEFAULT_ROUTE_KINDS = {"HTTP": {"HTTPRoute", "GRPCRoute"}, "HTTPS": {"HTTPRoute", "GRPCRoute"},
                       "TLS": {"TLSRoute"}, "TCP": {"TCPRoute"}, "UDP": {"UDPRoute"}}

@dataclass(eq=False, slots=True)
class ObjectRef:
    """A reference from one object to another, resolved against the render and what is known."""

    group: str
    kind: str
    namespace: str
    name: str
    target: Resource | None = None  # the object, when rendered or known to exist
    permitted: bool = True  # False: cross-namespace with no ReferenceGrant allowing it
    path: str = ""  # where the reference sits in its object, e.g. spec.listeners[2].tls.certificateRefs[0]


@dataclass(eq=False, slots=True)
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


@dataclass(eq=False, slots=True)
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


@dataclass(eq=False, slots=True)
class BackendRef(ObjectRef):
    port: Any = None
    service_port: dict[str, Any] | None = None  # the Service port the backendRef's port names


@dataclass(eq=False, slots=True)
class Route:
    resource: Resource
    hostnames: list[str]
    parents: list[ParentRef] = field(default_factory=list)
    backends: list[BackendRef] = field(default_factory=list)


def terminating_listeners(listeners: Iterable[Listener]) -> Iterator[Listener]:
    """Listeners that terminate TLS with certificateRefs (Passthrough needs none)."""
    for listener in listeners:
        if listener.protocol in TLS_PROTOCOLS and listener.tls_mode in (None, "Terminate"):
            yield listener


def attachable(listeners: list[Listener], namespace: str, kind: str, hostnames: list[str],
               namespaces: dict[str, Resource]) -> tuple[list[Listener], str]:
    """The listeners a route of `kind` in `namespace` with `hostnames` attaches to, and if none, why."""
    if not listeners:
        return [], "no such listener"
    admitted = [lst for lst in listeners if lst.admits_namespace(namespace, namespaces)]
    if not admitted:
        names = ", ".join(f"'{lst.name}' (from: {lst.allowed_from})" for lst in listeners[:3])
        return [], f"no listener admits routes from namespace '{namespace}' ({names})"
    admitted = [lst for lst in admitted if lst.admits_kind(kind)]
    if not admitted:
        return [], f"no listener admits kind {kind}"
    matching = [lst for lst in admitted
                if not hostnames or any(hostnames_intersect(lst.hostname, h) for h in hostnames)]
    if not matching:
        hosts = ", ".join(sorted({lst.hostname or "*" for lst in admitted}))
        return [], (f"no listener hostname ({hosts}) intersects {', '.join(hostnames)} "
                    f"(NoMatchingListenerHostname)")
    return matching, ""


def hostname_problem(hostname: str) -> str | None:
    try:
        ipaddress.ip_address(hostname)
        return "is an IP address (listener hostnames must be DNS names)"
    except ValueError:
        pass
    body = hostname.removeprefix("*.")
    labels = body.split(".")
    if "*" in body or not all(labels) or any(not all(c.isalnum() or c == "-" for c in label)
                                             or label[0] == "-" or label[-1] == "-" for label in labels):
        return "is not a valid RFC 1123 hostname (with an optional leading '*.')"
    return None
