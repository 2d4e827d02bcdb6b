"""The controller table: every row's blast radius, version ranges, and detection from what is in view."""

from __future__ import annotations

import pytest

from gate.domain.controllers import (
    BLAST_RADIUS,
    Controller,
    bad_secret_takes_tls_down,
    blast_radius,
    detect,
    image_controller,
    parse_version,
    takes_gateway_down,
)
from gate.model import Resource


def _res(kind: str, body: dict, name: str = "x", namespace: str = "") -> Resource:
    api = "gateway.networking.k8s.io/v1" if kind == "GatewayClass" else "apps/v1"
    return Resource(api, kind, name, namespace, {"apiVersion": api, "kind": kind, "metadata": {"name": name}, **body},
                    "f.yaml", 1)


@pytest.mark.parametrize("name, version, whole", [
    ("traefik", "2.11.0", True), ("traefik", "3.0.4", True), ("traefik", "3.1.0", False), ("traefik", "3.6.6", False),
    ("cilium", "1.17.0", True), ("cilium", None, True),
    ("envoy-gateway", "1.8.1", False), ("nginx", "2.0.0", False), ("istio", "1.26.0", False),
    ("contour", "1.31.0", False), ("kong", "3.4.0", False), ("generic", None, False),
])
def test_every_row_of_the_table(name, version, whole):
    """A missing Secret takes the whole Gateway down exactly on Traefik < 3.1 and on released Cilium."""
    controller = Controller(name, parse_version(version) if version else None, "test")
    assert takes_gateway_down(controller) is whole
    message = blast_radius("ns/gw", 23, controller)
    assert ("23 other listeners" in message) and (("keep serving" in message) is not whole), message


def test_traefik_without_a_version_states_the_range():
    """Traefik with no version: the message says what happens below and above 3.1, and how to know."""
    controller = Controller("traefik", None, "policy")
    assert takes_gateway_down(controller) is None
    message = blast_radius("traefik/gw", 23, controller)
    assert "Traefik < 3.1" in message and "Traefik >= 3.1" in message and "version" in message


def test_unknown_controller_states_the_range():
    """No controller known: one listener on a spec-conformant controller, all on Traefik < 3.1 or Cilium."""
    message = blast_radius("traefik/gw", 23, Controller(None))
    assert message.startswith("1 listener on a spec-conformant controller; all 24 listeners")
    assert "Traefik < 3.1 or Cilium" in message


def test_grammar_for_one_and_no_other_listener():
    """Never "its 0 other listeners" nor "1 other listeners"."""
    assert blast_radius("a/b", 0, Controller("traefik", (3, 0, 4))) == "Gateway a/b has no other listener"
    one = blast_radius("a/b", 1, Controller("traefik", (3, 0, 4)))
    assert "its other listener of Gateway a/b stops serving" in one and "1 other" not in one


def test_envoy_gateway_bad_secret_range():
    """Envoy Gateway 1.7.4 to 1.8.2 drops every listener's TLS on a broken Secret; 1.8.3 fixed it."""
    assert bad_secret_takes_tls_down(Controller("envoy-gateway", (1, 7, 4))) is True
    assert bad_secret_takes_tls_down(Controller("envoy-gateway", (1, 8, 2))) is True
    assert bad_secret_takes_tls_down(Controller("envoy-gateway", (1, 8, 3))) is False
    assert bad_secret_takes_tls_down(Controller("envoy-gateway", None)) is None
    assert bad_secret_takes_tls_down(Controller("traefik", (3, 6, 6))) is False


def test_table_rows_do_not_overlap():
    """For each controller, a version falls in exactly one row."""
    for version in [(2, 10, 0), (3, 0, 9), (3, 1, 0), (3, 7, 9)]:
        rows = [r for r in BLAST_RADIUS if r.controller == "traefik" and r.covers(version)]
        assert len(rows) == 1, version


def test_detect_from_gateway_class_and_image():
    """The GatewayClass names the controller; its Deployment's image tag names the version."""
    gc = _res("GatewayClass", {"spec": {"controllerName": "traefik.io/gateway-controller"}}, "traefik")
    deployment = _res("Deployment", {"spec": {"template": {"spec": {"containers": [
        {"name": "traefik", "image": "docker.io/traefik:v3.6.6"}]}}}}, "traefik", "traefik")
    found = detect([gc], [deployment])
    assert (found.name, found.version) == ("traefik", (3, 6, 6))
    assert "GatewayClass traefik" in found.source and "Deployment traefik/traefik" in found.source
    assert detect([gc], []).version is None
    assert detect([], []).name is None


def test_detect_refuses_to_guess_between_two_controllers():
    """Two GatewayClasses of different controllers: unknown, not the first one."""
    a = _res("GatewayClass", {"spec": {"controllerName": "traefik.io/gateway-controller"}}, "a")
    b = _res("GatewayClass", {"spec": {"controllerName": "gateway.nginx.org/nginx-gateway-controller"}}, "b")
    assert detect([a, b], []).name is None


@pytest.mark.parametrize("image, expected", [
    ("traefik:v3.0.4", ("traefik", (3, 0, 4))),
    ("ghcr.io/nginx/nginx-gateway-fabric:1.6.0", ("nginx", (1, 6, 0))),
    ("docker.io/envoyproxy/gateway:v1.8.1", ("envoy-gateway", (1, 8, 1))),
    ("quay.io/cilium/operator-generic:v1.17.2@sha256:" + "0" * 64, ("cilium", (1, 17, 2))),
    ("registry.example.com/acme/web:1.0", None),
    (42, None),
])
def test_image_controller(image, expected):
    """Known controller images are recognised with their version; anything else is not a controller."""
    assert image_controller(image) == expected
