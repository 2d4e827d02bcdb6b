"""Ingress semantics: the one place that reads an Ingress's hosts and Service backends.

networking.k8s.io/v1 (`service: {name, port: {number|name}}`) and the old extensions/v1beta1 shape
(`serviceName`, `servicePort`) are both read, so every check and the checklist see the same backends.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gate.domain.kube import as_dict, as_list, dig
from gate.model import Resource


def ingress_hosts(ingress: Resource) -> tuple[list[str], list[str]]:
    """(TLS hosts, rule hosts) of an Ingress."""
    tls = [h for entry in as_list(ingress.spec.get("tls")) for h in as_list(as_dict(entry).get("hosts"))
           if isinstance(h, str)]
    rules = [r.get("host") for r in as_list(ingress.spec.get("rules")) if isinstance(r, dict)
             and isinstance(r.get("host"), str)]
    return tls, rules


def ingress_backends(ingress: Resource) -> Iterator[tuple[str, str, Any]]:
    """(path in the Ingress, Service name, port: int number, str name or None) of every Service backend.

    networking.k8s.io/v1 (`service: {name, port: {number|name}}`) and the old extensions/v1beta1 shape
    (`serviceName`, `servicePort`) are both read.
    """
    spec = ingress.spec
    backends = [("spec.defaultBackend", spec.get("defaultBackend")), ("spec.backend", spec.get("backend"))]
    for i, rule in enumerate(as_list(spec.get("rules"))):
        for j, path in enumerate(as_list(dig(rule, "http", "paths"))):
            backends.append((f"spec.rules[{i}].http.paths[{j}].backend", as_dict(path).get("backend")))
    for where, backend in backends:
        backend = as_dict(backend)
        service = as_dict(backend.get("service"))
        if isinstance(service.get("name"), str):
            port = as_dict(service.get("port"))
            yield where, service["name"], port.get("number", port.get("name"))
        elif isinstance(backend.get("serviceName"), str):
            yield where, backend["serviceName"], backend.get("servicePort")


def backend_service_names(ingress: Resource) -> list[str]:
    """The distinct Service names an Ingress sends traffic to, in the order written."""
    return list(dict.fromkeys(name for _, name, _ in ingress_backends(ingress)))
