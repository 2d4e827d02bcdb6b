"""The per-service checklist finds what serves each hostname with the Gateway API's matching rules."""

from __future__ import annotations

from conftest import check_text

RENDER = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: x
  listeners:
  - name: wild
    protocol: HTTPS
    port: 443
    hostname: "*.example.com"
    tls: {certificateRefs: [{name: wild-tls}]}
    allowedRoutes: {namespaces: {from: All}}
  - name: exact
    protocol: HTTPS
    port: 443
    hostname: shop.example.com
    tls: {certificateRefs: [{name: shop-tls}]}
    allowedRoutes: {namespaces: {from: All}}
---
apiVersion: v1
kind: Secret
metadata: {name: wild-tls, namespace: infra}
---
apiVersion: v1
kind: Secret
metadata: {name: shop-tls, namespace: infra}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: exact-name, namespace: app}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  hostnames: [shop.example.com]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: wildcard-name, namespace: app}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  hostnames: ["*.example.com"]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: deep-name, namespace: app}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  hostnames: [a.b.example.com]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: no-name-on-exact, namespace: app}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: exact}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: other-domain, namespace: app}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  hostnames: [shop.example.org]
"""


def routes_of(report, host):
    service = next(s for s in report.services if s.hostname == host)
    line = next(i for i in service.items if i.label == "Route attaches to the Gateway")
    return line.resource


def test_exact_host_gets_exact_wildcard_and_attached_routes(tmp_path):
    """shop.example.com: its own route, the `*.example.com` route, and the hostname-less route on its listener."""
    about = routes_of(check_text(tmp_path, RENDER), "shop.example.com")
    assert about == ("HTTPRoute app/exact-name, HTTPRoute app/wildcard-name, HTTPRoute app/no-name-on-exact")


def test_wildcard_host_gets_every_route_below_it(tmp_path):
    """*.example.com: routes for names at any depth below it, not other domains, not the exact listener's."""
    about = routes_of(check_text(tmp_path, RENDER), "*.example.com")
    assert about == "HTTPRoute app/exact-name, HTTPRoute app/wildcard-name, HTTPRoute app/deep-name"


def test_listener_lines_cover_one_label(tmp_path):
    """The wildcard listener covers shop.example.com (one label), so both Gateways' lines name the Gateway."""
    report = check_text(tmp_path, RENDER)
    assert {s.hostname for s in report.services} == {"*.example.com", "shop.example.com"}
