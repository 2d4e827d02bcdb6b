"""Kubernetes semantics shared by the index and the checks: scopes, pod templates, selectors, hostnames."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gate.model import Resource

GATEWAY_GROUP = "gateway.networking.k8s.io"
CERT_MANAGER_GROUP = "cert-manager.io"

# Kinds the API server serves cluster-scoped. CRDs in the render add to this (see Index).
CLUSTER_SCOPED_KINDS = frozenset({
    "APIService", "CertificateSigningRequest", "ClusterIssuer", "ClusterRole", "ClusterRoleBinding",
    "ComponentStatus", "CSIDriver", "CSINode", "CustomResourceDefinition", "FlowSchema", "GatewayClass",
    "IngressClass", "MutatingWebhookConfiguration", "Namespace", "Node", "PersistentVolume",
    "PodSecurityPolicy", "PriorityClass", "PriorityLevelConfiguration", "RuntimeClass", "StorageClass",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration",
    "VolumeAttachment",
})

# Kinds whose pod template we read, with the path to the pod spec's parent (the template).
WORKLOAD_TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "Rollout": ("spec", "template"),  # Argo Rollouts
}
WORKLOAD_KINDS = frozenset(WORKLOAD_TEMPLATE_PATHS) | {"Pod"}
CONTAINER_FIELDS = ("initContainers", "containers", "ephemeralContainers")


def dig(obj: Any, *path: str) -> Any:
    """Follow `path` through nested mappings; None as soon as a step is missing or not a mapping."""
    for step in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(step)
    return obj


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def pod_template(resource: Resource) -> dict[str, Any] | None:
    """The pod template (`metadata` + `spec`) of a workload; a Pod is its own template."""
    if resource.kind == "Pod":
        return resource.body
    path = WORKLOAD_TEMPLATE_PATHS.get(resource.kind)
    if path is None:
        return None
    template = dig(resource.body, *path)
    return template if isinstance(template, dict) else None


def containers(resource: Resource) -> Iterator[tuple[str, dict[str, Any]]]:
    """(`field`, container) for every container of a workload's pod template."""
    spec = as_dict(dig(pod_template(resource), "spec"))
    for fieldname in CONTAINER_FIELDS:
        for container in as_list(spec.get(fieldname)):
            if isinstance(container, dict):
                yield fieldname, container


def selector_matches(selector: Any, labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels + matchExpressions) or a Service's plain map, against labels.

    An empty selector selects nothing here: a Service without a selector has hand-made Endpoints,
    and a workload's empty selector is rejected by the API server.
    """
    if not isinstance(selector, dict) or not selector:
        return False
    if "matchLabels" in selector or "matchExpressions" in selector:
        match_labels = as_dict(selector.get("matchLabels"))
        expressions = as_list(selector.get("matchExpressions"))
        if not match_labels and not expressions:
            return False
    else:
        match_labels, expressions = selector, []
    for key, value in match_labels.items():
        if not isinstance(key, str) or key not in labels or str(labels[key]) != str(value):
            return False
    for expr in expressions:
        if not isinstance(expr, dict):
            return False
        key, op = expr.get("key"), expr.get("operator")
        if not isinstance(key, str):
            return False  # the API server refuses a key that is not a string: the selector selects nothing
        values = {str(v) for v in as_list(expr.get("values"))}
        present = key in labels
        if op == "In" and not (present and str(labels[key]) in values):
            return False
        if op == "NotIn" and present and str(labels[key]) in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


def normalize_host(name: str) -> str:
    return name.strip().rstrip(".").lower()


def hostname_covers(pattern: str, name: str) -> bool:
    """Certificate / listener matching: exact, or `*.example.com` covering exactly one more label."""
    pattern, name = normalize_host(pattern), normalize_host(name)
    if pattern == name:
        return True
    if pattern.startswith("*."):
        head, _, rest = name.partition(".")
        return bool(head) and head != "*" and rest == pattern[2:]
    return False


def hostnames_intersect(listener: str | None, route: str | None) -> bool:
    """Gateway API listener/route hostname intersection.

    No hostname on either side matches anything. A wildcard listener `*.example.com` matches any
    deeper name (`a.b.example.com` too) but not `example.com` itself; both sides may be wildcards.
    """
    if not listener or not route:
        return True
    listener, route = normalize_host(listener), normalize_host(route)
    if listener == route:
        return True
    if listener.startswith("*.") and route.endswith(listener[1:]):
        return True
    if route.startswith("*.") and listener.endswith(route[1:]):
        return True
    return False


def hashable(value: Any) -> Any:
    """A value usable as a dictionary key or set member: scalars as they are, anything else (a list or a
    mapping where a scalar belongs) as its text, so that it is still reported rather than crashing."""
    return value if value is None or isinstance(value, str | int | float | bytes) else repr(value)


def as_port(value: Any) -> int | None:
    """A port number as YAML or JSON may write it (`8000`, `8000.0`), else None (`8000.5`, `"80"`, `[80]`,
    a bool). JSON Schema's `integer` counts 8000.0 as an integer, so the policy does too."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and 0 < value <= 65535 else None


def port_matches(service_port: dict[str, Any], port: Any) -> bool:
    return isinstance(service_port, dict) and service_port.get("port") == port
