"""gate.apischema.batch: one verdict per object, however the batch is split between processes."""
from __future__ import annotations

import os
import threading

import pytest

from gate.apischema import Status, Validator, batch
from gate.apischema import cel as apicel


def _route(i: int, *, bad: bool = False) -> dict:
    path = "no-leading-slash" if bad else f"/.well-known/acme-challenge/token-{i}"
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": f"route-{i}", "namespace": "shop"},
            "spec": {"parentRefs": [{"name": "gw", "namespace": "infra", "sectionName": "web"}],
                     "rules": [{"matches": [{"path": {"type": "Exact", "value": path}}],
                                "backendRefs": [{"name": f"solver-{i}", "port": 8089}]}]}}


def _objects(n: int) -> list:
    objects: list = []
    for i in range(n):
        if i % 97 == 0:
            objects.append(_route(i, bad=True))  # a CEL violation
        elif i % 89 == 0:
            objects.append({"apiVersion": "networking.k8s.io/v1beta1", "kind": "Ingress",
                            "metadata": {"name": f"old-{i}"}})  # removed version
        elif i % 83 == 0:
            objects.append("not an object")
        else:
            objects.append(_route(i))
    return objects


def _serial(validator: Validator, objects: list) -> list:
    out = []
    for i, obj in enumerate(objects):
        result = validator.validate(obj)
        if result.status not in (Status.VALID, Status.NOT_VALIDATED):
            out.append((i, result))
    return out


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forking needs a POSIX system")
def test_split_batches_give_exactly_the_results_of_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    # Threads other tests left (servers) make the real check refuse; the validation below takes no lock.
    monkeypatch.setattr(batch.parallel, "can_fork", lambda: True)
    forks = []
    real_fork = os.fork

    def counted() -> int:
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", counted)
    objects = _objects(700)
    expected = _serial(Validator(), objects)
    assert {r.status for _, r in expected} >= {Status.INVALID, Status.REMOVED_API_VERSION}
    for workers in (1, 2, 3):
        got = batch.validate_all(Validator(), objects, workers=workers)
        assert [(i, r.status, r.violations, r.message) for i, r in got] == \
               [(i, r.status, r.violations, r.message) for i, r in expected], workers
        assert all(r.defaulted is None for _, r in got)
    assert len(forks) == 1 + 2  # the splits were real: one child for 2 workers, two for 3


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forking needs a POSIX system")
def test_a_child_that_dies_costs_time_not_results(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch.parallel, "can_fork", lambda: True)
    parent = os.getpid()

    class DiesInChild(Validator):
        def validate(self, obj):  # type: ignore[no-untyped-def]
            if os.getpid() != parent:
                os._exit(3)
            return super().validate(obj)

    objects = _objects(400)
    got = batch.validate_all(DiesInChild(), objects, workers=2)
    assert [(i, r.status) for i, r in got] == [(i, r.status) for i, r in _serial(Validator(), objects)]


def test_no_fork_while_another_thread_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> int:
        raise AssertionError("forked while a thread was running")

    monkeypatch.setattr(os, "fork", refuse, raising=False)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        objects = _objects(300)
        got = batch.validate_all(Validator(), objects, workers=2)
    finally:
        stop.set()
        thread.join()
    assert [i for i, _ in got] == [i for i, _ in _serial(Validator(), objects)]


def test_small_batches_stay_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "fork", lambda: (_ for _ in ()).throw(AssertionError("forked")), raising=False)
    assert batch.validate_all(Validator(), _objects(batch.MIN_PARALLEL - 1)) != []


def test_to_cel_returns_values_with_nothing_to_convert_as_they_are() -> None:
    v = Validator()
    route = _route(1)
    assert v.validate(route).status == Status.VALID
    _, found = v._lookup("gateway.networking.k8s.io/v1", "HTTPRoute")
    crd, version = found[1], found[2]
    node = v._root((crd.group, crd.kind, version.name), *version.compact(), crd=True)
    spec = node.ensure().props["spec"].ensure()
    rules = spec.props["rules"]
    # Nothing under a rule converts for this route: the very same object reaches CEL.
    assert apicel.to_cel(rules, route["spec"]["rules"]) is route["spec"]["rules"]
    # `namespace` is a CEL reserved word: a parentRef that has one reaches CEL renamed.
    parents = apicel.to_cel(spec.props["parentRefs"], route["spec"]["parentRefs"])
    assert parents[0]["__namespace__"] == "infra" and "namespace" not in parents[0]
