"""The Gateway controller behind a render, by name and version, and what one broken listener costs.

One table (`BLAST_RADIUS`) says, per controller and version range, what happens to the other
listeners of a Gateway while one listener's TLS Secret is missing, and what the Gateway's status
shows; every message that states a blast radius comes from it. Sources, as ../shared/docs/domain.md
lists them: traefik pkg/provider/kubernetes/gateway (v2.x-v3.0.x drop the whole Gateway; commit
e9bd2b45ac in v3.1.0 detaches only the listener), traefik #9158 (a route to a missing Service),
envoyproxy/gateway #9463 #9473 #9225 (1.7.4-1.8.2: a present but bad Secret), cilium #34982
(released versions stop updating the whole Gateway), Contour's and Kong's status code, NGINX
Gateway Fabric and Istio (ListenersNotValid with Accepted=True).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from gate.domain.kube import as_dict, containers
from gate.model import Resource

NAMES = ("traefik", "envoy-gateway", "nginx", "istio", "contour", "kong", "cilium", "generic")
AUTO = "auto"

# GatewayClass spec.controllerName -> controller (by the domain that prefixes it).
CONTROLLER_NAMES = (
    ("traefik.io/", "traefik"),
    ("gateway.envoyproxy.io/", "envoy-gateway"),
    ("gateway.nginx.org/", "nginx"),
    ("istio.io/", "istio"),
    ("projectcontour.io/", "contour"),
    ("konghq.com/", "kong"),
    ("io.cilium/", "cilium"),
)
# The controller's own image (repository without registry, last path elements) -> controller.
IMAGES = (
    ("traefik", "traefik"),
    ("envoyproxy/gateway", "envoy-gateway"),
    ("nginx/nginx-gateway-fabric", "nginx"),
    ("nginxinc/nginx-gateway-fabric", "nginx"),
    ("istio/pilot", "istio"),
    ("projectcontour/contour", "contour"),
    ("kong/kubernetes-ingress-controller", "kong"),
    ("cilium/operator-generic", "cilium"),
    ("cilium/operator", "cilium"),
)
_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")

Version = tuple[int, int, int]


def parse_version(text: object) -> Version | None:
    """`v3.6.6`, `3.6`, `1.15.1-rc.0` -> (3, 6, 6), (3, 6, 0), (1, 15, 1); anything else None."""
    match = _VERSION.match(str(text).strip()) if isinstance(text, (str, int, float)) else None
    if match is None:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def show_version(version: Version) -> str:
    return ".".join(map(str, version))


@dataclass(frozen=True)
class Controller:
    """The Gateway controller, as far as it is known: name None when it is not."""

    name: str | None
    version: Version | None = None
    source: str = ""  # where it was learnt ("policy gatewayController", "GatewayClass traefik", ...)

    def describe(self) -> str:
        if self.name is None:
            return "an unknown controller"
        if self.name == "generic":
            return "a spec-conformant controller"
        label = {"envoy-gateway": "Envoy Gateway", "nginx": "NGINX Gateway Fabric", "kong": "Kong"}.get(
            self.name, self.name.capitalize())
        return f"{label} {show_version(self.version)}" if self.version else label


@dataclass(frozen=True)
class Radius:
    """What one listener with a missing TLS Secret does to the Gateway, on one controller range."""

    controller: str
    since: Version | None  # inclusive
    until: Version | None  # exclusive
    whole_gateway: bool  # the other listeners stop serving too
    status: str  # what the Gateway's status shows
    label: str  # the range, for messages: "Traefik < 3.1"

    def covers(self, version: Version | None) -> bool:
        if version is None:
            return self.since is None and self.until is None
        return (self.since is None or version >= self.since) and (self.until is None or version < self.until)


BLAST_RADIUS = (
    Radius("traefik", None, (3, 1, 0), True, "Accepted=False; the whole Gateway's configuration is dropped",
           "Traefik < 3.1"),
    Radius("traefik", (3, 1, 0), None, False, "Accepted=False (ListenersNotValid), no Programmed condition; only "
           "the listener is detached", "Traefik >= 3.1"),
    Radius("envoy-gateway", None, None, False, "the listener is not Programmed; the others keep serving",
           "Envoy Gateway"),
    Radius("nginx", None, None, False, "Accepted=True with ListenersNotValid; the others keep serving",
           "NGINX Gateway Fabric"),
    Radius("istio", None, None, False, "Accepted=True with ListenersNotValid; the others keep serving", "Istio"),
    Radius("contour", None, None, False, "Programmed=False on the whole Gateway, while the other listeners keep "
           "serving", "Contour"),
    Radius("kong", None, None, False, "the listener is not Programmed; the others keep serving (Kong serves every "
           "HTTP route on every HTTP port)", "Kong"),
    Radius("cilium", None, None, True, "the Gateway stops receiving configuration updates for all its listeners "
           "(cilium #34982)", "Cilium (released versions)"),
    Radius("generic", None, None, False, "ResolvedRefs=False (InvalidCertificateRef) on the listener only, per "
           "the Gateway API spec", "a spec-conformant controller"),
)
# Envoy Gateway 1.7.4-1.8.2 rejects the whole update on a present but broken Secret (key mismatch,
# expired leaf): unrelated listeners lose TLS (envoyproxy/gateway #9463, #9473, #9225; fixed in 1.8.3).
ENVOY_BAD_SECRET = ((1, 7, 4), (1, 8, 3))


def radius_for(controller: Controller) -> list[Radius]:
    """The rows that may apply: one when name and version pin it, several when the version is unknown."""
    name = controller.name or ""
    rows = [r for r in BLAST_RADIUS if r.controller == name]
    if not rows:
        return []
    if controller.version is not None:
        pinned = [r for r in rows if r.covers(controller.version)]
        return pinned or rows
    return rows


def takes_gateway_down(controller: Controller) -> bool | None:
    """True when a missing Secret takes the other listeners down, False when not, None when unknown."""
    rows = radius_for(controller)
    if not rows:
        return None
    answers = {r.whole_gateway for r in rows}
    return answers.pop() if len(answers) == 1 else None


def bad_secret_takes_tls_down(controller: Controller) -> bool | None:
    """Envoy Gateway 1.7.4-1.8.2: a present but broken Secret makes unrelated listeners lose TLS."""
    if controller.name != "envoy-gateway":
        return False if controller.name else None
    if controller.version is None:
        return None
    return ENVOY_BAD_SECRET[0] <= controller.version < ENVOY_BAD_SECRET[1]


def blast_radius(gateway: str, others: int, controller: Controller) -> str:
    """How many other listeners of `gateway` go down with a listener whose Secret is missing."""
    if others <= 0:
        return f"Gateway {gateway} has no other listener"
    rows = radius_for(controller)
    if len(rows) == 1:
        row = rows[0]
        who = controller.describe() + (f" ({controller.source})" if controller.source else "")
        if row.whole_gateway:
            them = "its other listener" if others == 1 else f"its {others} other listeners"
            verb = "stops" if others == 1 else "stop"
            return f"on {who} {them} of Gateway {gateway} {verb} serving with it: {row.status}"
        them = "the other listener" if others == 1 else f"the {others} other listeners"
        verb = "keeps" if others == 1 else "keep"
        return f"on {who} only this listener stops; {them} of Gateway {gateway} {verb} serving ({row.status})"
    if rows:  # the controller is known, its version is not
        down = [r.label for r in rows if r.whole_gateway]
        up = [r.label for r in rows if not r.whole_gateway]
        them = "the other listener" if others == 1 else f"all {others} other listeners"
        return (f"only this listener on {', '.join(up)}; {them} of Gateway {gateway} too on {', '.join(down)} "
                f"(set gatewayController.version in the policy to know which)")
    return (f"1 listener on a spec-conformant controller; all {others + 1} listeners of Gateway {gateway} on "
            f"Traefik < 3.1 or Cilium (set gatewayController in the policy, or include the GatewayClass, to know "
            f"which)")


def from_policy(value: object) -> Controller | None:
    """Policy `gatewayController`: a bare name, or {name, version}; `auto` (the default) detects it."""
    if isinstance(value, str):
        return None if value == AUTO else Controller(value, None, "policy gatewayController")
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        if value["name"] == AUTO:
            return None
        return Controller(value["name"], parse_version(value.get("version")), "policy gatewayController")
    return None


def detect(gateway_classes: Iterable[Resource], workloads: Iterable[Resource]) -> Controller:
    """The controller of the GatewayClasses in view (one name only), versioned by its Deployment's image."""
    names = {}
    for gc in gateway_classes:
        controller_name = as_dict(gc.spec).get("controllerName")
        for prefix, name in CONTROLLER_NAMES:
            if isinstance(controller_name, str) and controller_name.startswith(prefix):
                names.setdefault(name, gc)
    images: dict[str, list[tuple[Version | None, Resource]]] = {}
    for workload in workloads:
        for _, container in containers(workload):
            found = image_controller(container.get("image"))
            if found is not None:
                images.setdefault(found[0], []).append((found[1], workload))
    if len(names) == 1:
        name, gc = next(iter(names.items()))
        versions = {v for v, _ in images.get(name, ()) if v is not None}
        if len(versions) == 1:
            version = versions.pop()
            workload = next(w for v, w in images[name] if v == version)
            return Controller(name, version, f"GatewayClass {gc.name}, image of {workload.ref}")
        return Controller(name, None, f"GatewayClass {gc.name}")
    if not names and len(images) == 1:
        name, found = next(iter(images.items()))
        versions = {v for v, _ in found if v is not None}
        if len(versions) == 1:
            return Controller(name, versions.pop(), f"image of {found[0][1].ref}")
        return Controller(name, None, f"image of {found[0][1].ref}")
    return Controller(None)


def image_controller(image: object) -> tuple[str, Version | None] | None:
    """(controller, version from the tag) when `image` is a known Gateway controller's image."""
    if not isinstance(image, str) or not image:
        return None
    name = image.partition("@")[0]
    repository, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "")
    for suffix, controller in IMAGES:
        parts = repository.split("/")
        if "/".join(parts[-len(suffix.split("/")):]) == suffix:
            return controller, parse_version(tag) if tag else None
    return None


def gateway_classes_of(resources: Iterable[Resource]) -> list[Resource]:
    return [r for r in resources if r.kind == "GatewayClass" and r.group == "gateway.networking.k8s.io"]
