"""Every finding about what serves a hostname lands on that service's checklist, never only in
"findings outside any HTTPS service" while the service shows `[x]`."""

from __future__ import annotations

import os

import pytest
from conftest import CORPUS, EXAMPLES, FIXTURES, check_text, needs_corpus

from gate.checklist.builder import HostLookup
from gate.config import ClusterOptions
from gate.domain.kube import normalize_host
from gate.index import Index
from gate.run import RunConfig, run
from gate.sources import read_known, read_render

CASES = [*sorted(p for p in EXAMPLES.iterdir() if p.is_dir() and p.name != "cluster-state"),
         *sorted(p for p in FIXTURES.glob("*/*/*.yaml") if not p.name.startswith("."))]


def misplaced(config: RunConfig) -> list[str]:
    report = run(config)
    loaded = read_render(config)
    state = read_known(config, loaded.resources)
    index = Index(loaded.resources, state.loaded.resources, default_namespace=config.namespace)
    lookup = HostLookup(index)
    wrong = []
    for service in report.services:
        on_it = {id(f) for item in service.items for f in item.findings}
        behind = {(r.kind, r.namespace, r.name) for r in lookup.subjects(service.hostname)["order"]}
        for finding in report.findings:
            if not finding.kind:
                continue
            about = normalize_host(finding.hostname) == service.hostname if finding.hostname is not None \
                else (finding.kind, finding.namespace, finding.name) in behind
            if about and id(finding) not in on_it:
                wrong.append(f"{service.hostname}: {finding.check} {finding.resource_ref}: {finding.message[:80]}")
    return wrong


@pytest.mark.parametrize("path", CASES, ids=lambda p: str(p.relative_to(p.parents[2 if p.is_file() else 0])))
def test_a_finding_about_a_served_resource_is_on_its_service(path, monkeypatch):
    monkeypatch.chdir(path.parent)
    state = path.parent / f".{path.stem}.cluster-state.yaml"
    config = RunConfig(paths=[path.name], offline=True,
                       cluster=ClusterOptions(state_paths=(state.name,) if state.exists() else ()))
    assert misplaced(config) == []


CROSS_NAMESPACE = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: x
  listeners:
  - {name: shop, protocol: HTTPS, port: 443, hostname: shop.example.com,
     tls: {certificateRefs: [{name: shop-tls}]}, allowedRoutes: {namespaces: {from: All}}}
---
apiVersion: v1
kind: Secret
metadata: {name: shop-tls, namespace: infra}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: app}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  hostnames: [shop.example.com]
  rules:
  - backendRefs: [{name: web, namespace: backend, port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: backend}
spec:
  ports: [{port: 80}]
"""


def test_reference_not_permitted_on_a_route_backend_fails_the_backend_line(tmp_path):
    """The route's cross-namespace backendRef without a ReferenceGrant: `[ ] Backend Service exists`."""
    report = check_text(tmp_path, CROSS_NAMESPACE)
    service = next(s for s in report.services if s.hostname == "shop.example.com")
    lines = {i.label: i for i in service.items}
    backend = lines["Backend Service exists"]
    assert backend.status == "fail" and [f.check for f in backend.findings] == ["reference-not-permitted"]
    assert lines["Gateway listener has its TLS Secret"].status == "pass"
    assert report.unassigned == []


def test_too_many_route_hostnames_fail_the_route_line(tmp_path):
    """The API server's rejection of a route (17 hostnames) lands on `Route attaches to the Gateway`."""
    names = ", ".join(["shop.example.com", *(f"h{i}.example.com" for i in range(16))])
    text = CROSS_NAMESPACE.replace("hostnames: [shop.example.com]", f"hostnames: [{names}]").replace(
        "namespace: backend, ", "")
    report = check_text(tmp_path, text.replace("namespace: backend}", "namespace: app}"))
    service = next(s for s in report.services if s.hostname == "shop.example.com")
    route = next(i for i in service.items if i.label == "Route attaches to the Gateway")
    assert route.status == "fail" and [f.check for f in route.findings] == ["schema-invalid"]


@needs_corpus
def test_placement_holds_on_the_big_corpus():
    assert misplaced(RunConfig(paths=[str(CORPUS / "big" / "shared-corpus-all.yaml")], offline=True)) == []
