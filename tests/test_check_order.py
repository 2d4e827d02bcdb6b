"""The API validation runs in forked children beside the other checks, and its checks run last: the
report must be the one the catalogue order gives (findings, suppressions, and which findings get a
field line when an object has more than its share of lookups)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from conftest import ROOT

import gate.run as gate_run
from gate import parallel
from gate.run import FIELD_LINES_PER_OBJECT, RunConfig, run


def _report(paths: list[str]) -> tuple[list[dict], list[dict]]:
    report = run(RunConfig(paths=paths, offline=True))
    return ([dataclasses.asdict(f) for f in report.findings],
            [{**dataclasses.asdict(s.finding), "reason": s.reason, "by": s.by} for s in report.suppressed])


def _gateway_with_many_listeners(count: int) -> str:
    listeners = "".join(
        f"  - name: l{i}\n    protocol: HTTPS\n    port: 443\n    hostname: h{i}.example.com\n"
        f"    tls:\n      mode: Terminate\n      certificateRefs:\n      - name: missing-{i}\n"
        for i in range(count))
    return ("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  name: edge\n"
            "  namespace: edge\nspec:\n  gatewayClassName: traefik\n  listeners:\n" + listeners)


def _many_routes(count: int) -> str:
    return "".join(
        f"---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: r{i}\n"
        f"  namespace: shop\nspec:\n  parentRefs:\n  - name: edge\n    namespace: edge\n  rules:\n"
        f"  - matches:\n    - path:\n        type: PathPrefix\n        value: {'//' if i % 97 == 0 else '/'}p{i}\n"
        f"    backendRefs:\n    - name: svc-{i}\n      port: 80\n"
        for i in range(count))


@pytest.fixture
def render(tmp_path: Path) -> list[str]:
    # An object with more findings than lookups it may have (schema-invalid, which runs last, and the
    # listener checks, which run first, share them), and routes enough to validate in forks.
    (tmp_path / "gateway.yaml").write_text(_gateway_with_many_listeners(FIELD_LINES_PER_OBJECT + 20))
    (tmp_path / "routes.yaml").write_text(_many_routes(2_500))
    return [str(tmp_path), str(ROOT / "examples" / "incident")]


def test_the_report_is_the_catalogue_orders_whichever_order_the_checks_ran_in(render, monkeypatch):
    monkeypatch.setattr(parallel, "can_fork", lambda: True)  # other tests' server threads may be running
    alongside = _report(render)
    monkeypatch.setattr(gate_run, "VALIDATING", frozenset())  # no background validation, catalogue order
    in_order = _report(render)
    assert alongside == in_order
    findings = alongside[0]
    assert {f["check"] for f in findings} >= {"schema-invalid", "listener-secret-missing", "route-backend-missing"}
    edge = [f for f in findings if f["name"] == "edge" and f["kind"] == "Gateway"]
    assert len(edge) > FIELD_LINES_PER_OBJECT  # some of them keep the object's own line


def test_field_lines_are_the_same_from_forks_and_from_here(render, monkeypatch):
    monkeypatch.setattr(parallel, "can_fork", lambda: True)
    forked = _report(render)
    monkeypatch.setattr(gate_run, "FIELD_LINES_PARALLEL", 10**9)
    assert _report(render) == forked
