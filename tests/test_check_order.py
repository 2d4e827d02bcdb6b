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
from gate.apischema import batch
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


def _crd(name: str, required: str) -> str:
    return (f"---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: {name}\n"
            "spec:\n  group: example.com\n  scope: Namespaced\n  names: {kind: Widget, plural: widgets}\n"
            "  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n"
            "        type: object\n        properties:\n          spec:\n            type: object\n"
            f"            required: [{required}]\n            properties:\n              size: {{type: integer}}\n"
            "              colour: {type: string}\n")


WIDGETS = "".join(f"---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w{i}\n  namespace: shop\n"
                  f"spec:\n  {'size: 3' if i % 2 else 'colour: red'}\n" for i in range(3))


@pytest.mark.parametrize("crds,required", [
    ([_crd("widgets.example.com", "size")], "size"),
    # Two copies of one CRD that disagree: the index keeps the later one.
    ([_crd("widgets.example.com", "size"), _crd("widgets.example.com", "colour")], "colour"),
    # A copy again after another CRD of the kind: the index keeps it in the first copy's place, so the
    # other one is added later and defines the kind.
    ([_crd("widgets.example.com", "size"), _crd("other-widgets.example.com", "colour"),
      _crd("widgets.example.com", "size")], "colour"),
])
def test_crds_in_view_decide_in_the_background_as_in_order(crds, required, render, tmp_path_factory, monkeypatch):
    monkeypatch.setattr(parallel, "can_fork", lambda: True)
    crd_file = tmp_path_factory.mktemp("crds") / "crds.yaml"
    crd_file.write_text("".join(crds) + WIDGETS)
    paths = [*render, str(crd_file)]
    alongside = _report(paths)
    monkeypatch.setattr(gate_run, "VALIDATING", frozenset())
    assert alongside == _report(paths)
    widgets = [f for f in alongside[0] if f["kind"] == "Widget" and f["check"] == "schema-invalid"]
    assert widgets and all(required in f["message"] for f in widgets), widgets


def test_field_lines_are_the_same_from_forks_and_from_here(render, monkeypatch):
    monkeypatch.setattr(parallel, "can_fork", lambda: True)
    forked = _report(render)
    monkeypatch.setattr(gate_run, "FIELD_LINES_PARALLEL", 10**9)
    assert _report(render) == forked


def _route(name: str, namespace: str | None, path: str) -> str:
    ns = f"  namespace: {namespace}\n" if namespace else ""
    return (f"---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: {name}\n{ns}"
            f"spec:\n  parentRefs:\n  - name: edge\n    namespace: edge\n  rules:\n  - matches:\n    - path:\n"
            f"        type: PathPrefix\n        value: {path}\n")


def test_validation_begun_before_the_index_reports_what_the_index_holds(render, tmp_path_factory, monkeypatch):
    """Begun on the objects as read, before the index: the index's objects are judged, so a duplicate's
    earlier copy (invalid, then replaced by a valid one, and the other way round) and an object given
    the default namespace are reported as the catalogue order reports them."""
    monkeypatch.setattr(parallel, "can_fork", lambda: True)
    begun, cancelled = [], []
    real_begin = gate_run.begin_validation
    monkeypatch.setattr(gate_run, "begin_validation", lambda *a: begun.append(real_begin(*a)) or begun[-1])
    monkeypatch.setattr(batch.Pending, "cancel", lambda self: cancelled.append(self))
    extra = tmp_path_factory.mktemp("dups") / "dups.yaml"
    extra.write_text(_route("twice", "shop", "//bad") + _route("twice", "shop", "/good")
                     + _route("again", "shop", "/good") + _route("again", "shop", "//bad")
                     + _route("nameless-ns", None, "//bad"))
    paths = [*render, str(extra)]
    alongside = _report(paths)
    assert begun and begun[0] is not None and not cancelled
    monkeypatch.setattr(gate_run, "VALIDATING", frozenset())
    assert alongside == _report(paths)
    invalid = {(f["namespace"], f["name"]) for f in alongside[0] if f["check"] == "schema-invalid"}
    assert ("shop", "again") in invalid and ("default", "nameless-ns") in invalid
    assert ("shop", "twice") not in invalid


def test_a_crd_read_anywhere_keeps_validation_for_the_index(tmp_path):
    """A CRD in the render or among the objects known to exist may change a schema: nothing begins
    before the index then."""
    from gate.checks.api import begin_validation
    from gate.model import Resource

    crd = Resource(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition", name="w.example.com",
                   namespace="", body={}, file="f", line=1)
    route = Resource(api_version="gateway.networking.k8s.io/v1", kind="HTTPRoute", name="r", namespace="shop",
                     body={}, file="f", line=1)
    config = RunConfig(paths=[], offline=True)
    settings = {"kubernetesVersion": "1.33"}
    assert begin_validation(config, settings, [route], [crd]) is None
    assert begin_validation(config, settings, [route, crd]) is None
    assert begin_validation(dataclasses.replace(config, kube_version="1.2"), settings, [route]) is None
    assert begin_validation(config, settings, [route]) is not None
