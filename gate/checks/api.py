"""What the API server would reject before any controller sees it: kinds and versions it does not
serve, and objects its schema (defaults, structural schema, CRD CEL rules) refuses.

The schemas are the official ones, shipped as data (`gate.apischema`): the Kubernetes OpenAPI
schemas of the built-in kinds the gate reads, the Gateway API and cert-manager CRDs, and any CRD in
the render or the cluster state. A rejected object is not applied at all: in an Argo CD sync the
whole sync fails on it.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any

from gate.apischema import NOT_SERVED_BY_CRD, Result, Status, Validator, batch
from gate.checks.base import Check, Context, Hit, collector
from gate.config import RunConfig, UsageError
from gate.domain.kube import WORKLOAD_KINDS
from gate.index import Index
from gate.model import Resource

CHECKS: list[Check] = []
check = collector(CHECKS)

CRD_GROUP = "apiextensions.k8s.io"
GATEWAY_GROUPS = ("gateway.networking.k8s.io", "gateway.networking.x-k8s.io")
CHANNEL_ANNOTATION = "gateway.networking.k8s.io/channel"
# Per index: (the bodies being validated, the validation under way), then the results once collected.
_RESULTS: weakref.WeakKeyDictionary[Index, tuple[list[Any], batch.Pending] | list[tuple[Resource, Result]]] = \
    weakref.WeakKeyDictionary()


# The checklist line a rejected object's finding belongs on: the line of what the object is for.
ITEM_OF_KIND = {
    "HTTPRoute": "route", "GRPCRoute": "route", "TLSRoute": "route", "TCPRoute": "route", "UDPRoute": "route",
    "Ingress": "route", "Gateway": "listener", "ListenerSet": "listener", "Certificate": "certificate",
    "Issuer": "issuer", "ClusterIssuer": "issuer", "Service": "backend", "Secret": "listener",
    **{kind: "workload" for kind in WORKLOAD_KINDS},
}


def experimental_channel(ctx: Context) -> bool:
    """Whether the cluster runs the Gateway API experimental channel, whose CRDs the gate does not ship:
    the policy says so, or (auto) experimental CRDs or x-k8s.io objects are in view, or the controller
    is Envoy Gateway, whose Helm chart installs the experimental channel."""
    channel = str(ctx.option("gatewayAPIChannel"))
    if channel != "auto":
        return channel == "experimental"
    if any(crd.annotations.get(CHANNEL_ANNOTATION) == "experimental"
           for crd in ctx.index.all_of(CRD_GROUP, "CustomResourceDefinition")):
        return True
    if any(r.group == "gateway.networking.x-k8s.io" for r in ctx.index.resources):
        return True
    return ctx.gateway_controller().name == "envoy-gateway"


def _beyond_standard(resource: Resource, result: Result, message: str = "") -> bool:
    """A Gateway API version or field the shipped standard channel lacks (it may be experimental)."""
    if resource.group not in GATEWAY_GROUPS:
        return False
    if result.status == Status.REMOVED_API_VERSION:
        return result.removal is not None and result.removal.removed_in == NOT_SERVED_BY_CRD
    return message.startswith("unknown field")


# The checks that read `results`: a run without them validates nothing.
VALIDATING = frozenset({"api-version-unknown", "api-version-removed", "schema-invalid"})


class Begun:
    """A validation started before the index exists, of the rendered objects as read (see
    begin_validation)."""

    def __init__(self, release: str, bodies: list[Any], pending: batch.Pending) -> None:
        self.release, self.bodies, self.pending = release, bodies, pending


def _release(config: RunConfig, settings: dict[str, Any]) -> str:
    return config.kube_version or str(settings["kubernetesVersion"])


def _validator(config: RunConfig, release: str) -> Validator:
    try:
        return Validator(kubernetes_version=release.removeprefix("v"))
    except ValueError as exc:
        given = "--kube-version" if config.kube_version else "policy kubernetesVersion"
        raise UsageError(f"{given} {release}: {exc}") from None


def begin_validation(config: RunConfig, settings: dict[str, Any], rendered: list[Resource],
                     *known: list[Resource]) -> Begun | None:
    """Start validating the rendered objects in forked children while the index is built, when nothing
    read can change their schemas: no CustomResourceDefinition among the rendered or known objects.
    None otherwise, or for a Kubernetes version the gate does not ship (start_validation says so)."""
    if any(r.kind == "CustomResourceDefinition" for group in (rendered, *known) for r in group):
        return None
    release = _release(config, settings)
    try:
        validator = _validator(config, release)
    except UsageError:
        return None
    bodies = [r.body for r in rendered]
    return Begun(release, bodies, batch.start(validator, bodies))


def start_validation(ctx: Context, alongside: bool = True, begun: Begun | None = None) -> None:
    """Begin validating the render in forked children (gate.apischema.batch.start), so that the other
    checks run meanwhile (`alongside`); `results` collects it. The Kubernetes version is judged here.
    A validation `begun` before the index is taken over when it is the one this would start: the same
    release, no CRD in view, and every object of the index among those it validates."""
    if ctx.index in _RESULTS:
        return
    release = _release(ctx.config, ctx.settings)
    crds = ctx.index.all_of(CRD_GROUP, "CustomResourceDefinition")
    resources = ctx.index.resources
    if begun is not None:
        validated = {id(body) for body in begun.bodies}
        if begun.release == release and not crds and all(id(res.body) in validated for res in resources):
            _RESULTS[ctx.index] = (begun.bodies, begun.pending)
            return
        begun.pending.cancel()
    validator = _validator(ctx.config, release)
    # CRDs in view define their kinds (and override a shipped definition of the same kind).
    for crd in crds:
        validator.add_crd(crd.body, source=crd.origin)
    bodies = [res.body for res in resources]
    _RESULTS[ctx.index] = (bodies, batch.start(validator, bodies, alongside=alongside))


def results(ctx: Context) -> list[tuple[Resource, Result]]:
    """(rendered object, what the API server makes of it), once per run and Kubernetes version."""
    if ctx.index not in _RESULTS:
        start_validation(ctx, alongside=False)  # nothing runs beside it now: this process takes a share
    cached = _RESULTS[ctx.index]
    if isinstance(cached, tuple):
        # Only what a check reports is kept (the batch drops the defaulted copies).
        # Each object of the index by its body: a validation begun before the index had the objects as
        # read (the index holds the last of duplicate copies, and its own copy of an object given the
        # default namespace, with the same body).
        bodies, pending = cached
        by_body = {id(bodies[i]): result for i, result in pending.results()}
        cached = _RESULTS[ctx.index] = [(res, by_body[id(res.body)]) for res in ctx.index.resources
                                        if id(res.body) in by_body]
    return cached


@check("api-version-unknown", "error", options=("kubernetesVersion", "unknownKinds"),
       why="kubectl and Argo CD refuse an object whose apiVersion/kind the API server does not serve (\"no "
           "matches for kind\"), and the sync fails with it; an object of a CRD that is neither shipped with the "
           "gate nor in view cannot be judged (policy unknownKinds).",
       title="The API server does not serve this apiVersion and kind",
       remediation="Use an apiVersion the cluster serves for the kind (the message lists them), or add the "
                   "CustomResourceDefinition that defines it to the render or the cluster state.")
def api_version_unknown(ctx: Context) -> Iterator[Hit]:
    unknown_kinds = str(ctx.option("unknownKinds"))
    seen_kinds: set[tuple[str, str]] = set()
    for resource, result in results(ctx):
        if result.status == Status.UNKNOWN_API_VERSION:
            served = f"; served as: {', '.join(result.served)}" if result.served else ""
            yield Hit(resource, item=ITEM_OF_KIND.get(resource.kind), message=f"{result.message}{served}", path=("apiVersion",))
        elif result.status == Status.UNKNOWN_KIND and unknown_kinds != "ignore":
            key = (resource.api_version, resource.kind)
            if key not in seen_kinds:
                seen_kinds.add(key)
                yield Hit(resource, item=ITEM_OF_KIND.get(resource.kind), message=f"{resource.kind} ({resource.api_version}) is defined by no CRD the gate ships "
                                    f"nor one in view: not validated (policy unknownKinds: {unknown_kinds})",
                          path=("kind",), severity=unknown_kinds, points_at_nothing=False)


@check("api-version-removed", "error", options=("kubernetesVersion", "gatewayAPIChannel", "gatewayController"),
       why="An API version removed from the target release is refused by the API server; kubectl cannot apply "
           "the object and Argo CD's sync fails (Kubernetes deprecation guide; cert-manager 1.7 and Gateway API "
           "release notes).",
       title="The apiVersion was removed in the target release",
       remediation="Move the object to the version the message names (kubectl convert, or the project's upgrade "
                   "notes), and set kubernetesVersion in the policy (or --kube-version) to the cluster's release.")
def api_version_removed(ctx: Context) -> Iterator[Hit]:
    experimental = None
    for resource, result in results(ctx):
        if result.status != Status.REMOVED_API_VERSION:
            continue
        if _beyond_standard(resource, result):
            experimental = experimental_channel(ctx) if experimental is None else experimental
            if experimental:
                yield Hit(resource, item=ITEM_OF_KIND.get(resource.kind), message=f"{result.message}, in the standard channel the gate ships; the experimental "
                                    f"channel may serve it: not validated", path=("apiVersion",), unverified=True,
                          severity="info", points_at_nothing=False)
                continue
            yield Hit(resource, item=ITEM_OF_KIND.get(resource.kind), message=f"{result.message} (an experimental-channel version? set gatewayAPIChannel: "
                                f"experimental in the policy)", path=("apiVersion",))
            continue
        yield Hit(resource, item=ITEM_OF_KIND.get(resource.kind), message=result.message, path=("apiVersion",))


@check("schema-invalid", "error", options=("kubernetesVersion", "gatewayAPIChannel", "gatewayController"),
       why="The API server defaults, validates against the structural schema (types, required, enums, patterns, "
           "bounds; kubectl's strict field validation refuses unknown fields) and evaluates the CRD's "
           "x-kubernetes-validations CEL rules on every create; a violation rejects the whole object "
           "(Kubernetes CRD validation docs; the Gateway API and cert-manager CRDs).",
       title="The API server's schema or a CRD validation rule rejects the object",
       remediation="Fix the field the message names as the API server says (a typo in a field name, a string "
                   "where a number belongs, a rule's condition); `kubectl apply --dry-run=server` shows the same.")
def schema_invalid(ctx: Context) -> Iterator[Hit]:
    unevaluable: set[str] = set()
    experimental = None
    for resource, result in results(ctx):
        for violation in result.violations:
            if violation.kind == "schema" and _beyond_standard(resource, result, violation.message):
                experimental = experimental_channel(ctx) if experimental is None else experimental
                if experimental:
                    # An experimental-channel field, or a typo: without that channel's CRDs the gate cannot tell.
                    yield Hit(resource, item=ITEM_OF_KIND.get(resource.kind), message=f"{violation.message}: not in the standard channel the gate ships, and the "
                                        f"experimental channel is in use: not validated", path=_clean_path(violation.path) or None,
                              unverified=True, severity="info", points_at_nothing=False)
                    continue
                yield Hit(resource, item=ITEM_OF_KIND.get(resource.kind), message=f"{violation.message} (if it is an experimental-channel field, set "
                                    f"gatewayAPIChannel: experimental in the policy)", path=_clean_path(violation.path) or None)
                continue
            if violation.kind == "unevaluable":
                # A rule the CEL library cannot evaluate offline: said once, never a pass.
                if violation.message not in unevaluable:
                    unevaluable.add(violation.message)
                    yield Hit(resource, item=ITEM_OF_KIND.get(resource.kind), message=f"{_where(violation.path, violation.message)}could not evaluate: "
                                        f"{violation.message}",
                              path=_clean_path(violation.path) or None, unverified=True, severity="info",
                              points_at_nothing=False)
                continue
            yield Hit(resource, item=ITEM_OF_KIND.get(resource.kind), message=f"{_where(violation.path, violation.message)}{violation.message}",
                      path=_clean_path(violation.path) or None)


def _clean_path(path: tuple) -> tuple[str | int, ...]:
    """A violation's path with non-text keys (null, true, 1.5: YAML allows them) as text."""
    return tuple(p if isinstance(p, str) or (isinstance(p, int) and not isinstance(p, bool)) else str(p) for p in path)


def _where(path: tuple[str | int, ...], message: str = "") -> str:
    """`spec.rules[0]: ` before a message that does not name its field already."""
    if not path:
        return ""
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in _clean_path(path)).lstrip(".")
    return "" if text in message else f"{text}: "
