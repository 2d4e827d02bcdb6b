"""gate.apischema.cel_reads: a CEL rule gives the same verdict on a value and on what it reads of it.

The verdict memo keys values by their projection, so the projection must keep everything a rule can
observe. Checked on hand-picked rules that observe values in every way CEL allows, and on every rule
node of the shipped Gateway API (every channel shipped) and cert-manager CRDs with values drawn from its
own schema (strings include every literal the rules compare with).
"""
from __future__ import annotations


import pytest

from gate.apischema import cel as apicel
from gate.apischema.cel_reads import Reads, project, reads_of
from gate.apischema.schema import Node

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import shipped_rules

pytestmark = pytest.mark.skipif(not apicel.available(), reason="cel-expr-python not installed")


def reads(*texts: str) -> Reads:
    return reads_of([apicel._env().compile(t) for t in texts])


def verdict(text: str, value) -> str:
    """What evaluating the rule gives, as text (an error's own wording included)."""
    try:
        return repr(apicel._env().compile(text).eval(data={"self": value}).value())
    except Exception as exc:  # noqa: BLE001 - an evaluation error is a verdict too
        return f"error: {exc}"


# Each rule observes its value in one of the ways CEL allows; the projection of each value keeps it.
OBSERVING = [
    ("self.items.filter(x, x.a > 0)[0].name == 'n'",
     [{"items": [{"a": 1, "name": "n"}, {"a": 0, "name": "m"}]}, {"items": [{"a": 1, "name": "m"}]}]),
    ("self.items.map(x, x.b).exists(y, y == 2)", [{"items": [{"b": 2, "c": 1}]}, {"items": [{"b": 3}]}]),
    ("self.all(k, k.startsWith('a'))", [{"ab": 1, "b": 2}, {"ab": 1}]),
    ("size(self) == 2", [{"a": 1, "b": 2}, {"a": 1}]),
    ("self.size() == 1", [[{"a": 1}], [{"a": 1}, {"a": 2}]]),
    ("self.a == self.b", [{"a": {"x": 1}, "b": {"x": 1}}, {"a": {"x": 1}, "b": {"x": 2}}]),
    ("self.a in self.b", [{"a": {"x": 1}, "b": [{"x": 1}]}, {"a": {"x": 1}, "b": [{"x": 2}]}]),
    ("has(self.a) && !has(self.b)", [{"a": None}, {"a": 1, "b": None}, {}]),
    ("self.l[self.i] == 1", [{"l": [0, 1], "i": 1}, {"l": [0, 1], "i": 0}, {"l": [1], "i": 3}]),
    ("self.l[1].x == 1", [{"l": [{"x": 0}, {"x": 1}]}, {"l": [{"x": 1}]}]),
    ("self.m['k'] == 1", [{"m": {"k": 1, "j": 2}}, {"m": {"j": 1}}]),
    ("self.exists_one(p, p.port == 80)", [[{"port": 80, "name": "a"}, {"port": 81}], [{"port": 80}] * 2]),
    ("self.all(a, self.exists_one(b, a.n == b.n))", [[{"n": 1}, {"n": 2}], [{"n": 1}, {"n": 1}]]),
    ("self.x.y.startsWith('/')", [{"x": {"y": "/a", "z": 1}}, {"x": {"y": "a"}}, {"x": 1}, {"x": [1]}]),
    ("self.items.all(i, i.v.size() < 3)", [{"items": [{"v": "ab"}, {"v": [1, 2, 3]}]}, {"items": [{"v": {}}]}]),
    ("string(self.n) == '1'", [{"n": 1, "o": 2}, {"n": "1"}]),
    ("self.list.isSorted()", [{"list": [1, 2]}, {"list": [2, 1]}]),
]


@pytest.mark.parametrize("text,values", OBSERVING)
def test_the_projection_keeps_what_a_rule_observes(text, values):
    seen = reads(text)
    for value in values:
        assert verdict(text, project(value, seen)) == verdict(text, value), value


def test_what_a_rule_never_reads_is_left_out():
    rule = "(has(self.backendRefs) && size(self.backendRefs) > 0) ? !has(self.filters) : true"
    a = {"backendRefs": [{"name": "cm-acme-http-solver-abcde", "port": 8089}],
         "matches": [{"path": {"type": "Exact", "value": "/.well-known/acme-challenge/token-a"}}]}
    b = {"backendRefs": [{"name": "cm-acme-http-solver-fghij", "port": 8089}],
         "matches": [{"path": {"type": "Exact", "value": "/.well-known/acme-challenge/token-b"}}]}
    assert project(a, reads(rule)) == project(b, reads(rule)) == {"backendRefs": [None]}
    counting = "(self.size() > 0 ? self[0].matches.size() : 0) <= 128"
    assert project([a], reads(counting)) == [{"matches": [None]}]


def test_a_message_expression_reads_too():
    both = reads("self.a == 1", "'name ' + self.name + ' is wrong'")
    assert project({"a": 2, "name": "x", "other": 3}, both) == {"a": 2, "name": "x"}


def test_what_the_decoder_does_not_know_reads_everything():
    class Garbled:
        def serialize(self) -> bytes:
            return b"\x0a\x05bogus"

    assert reads_of([Garbled()]).whole
    value = {"a": 1}
    assert project(value, reads_of([Garbled()])) is value


# --- every shipped rule ------------------------------------------------------------------------

def test_the_shipped_rules_are_all_analysed():
    # Every shipped rule node is read through its syntax tree; most read less than their whole value.
    assert len(shipped_rules.RULE_NODES) > 30
    partial = [where for where, node in shipped_rules.RULE_NODES if not apicel._reads(node, apicel.rules_of(node)).whole]
    assert len(partial) > len(shipped_rules.RULE_NODES) * 0.8


def _violations(node: Node, value) -> list[tuple]:
    out: list = []
    apicel._evaluate(node, apicel.rules_of(node), apicel.to_cel(node, value), out)
    return [(v.path, v.message, v.kind) for v in out]


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_shipped_rule_gives_the_same_verdict_on_its_projection(data):
    where, node = data.draw(st.sampled_from(shipped_rules.RULE_NODES), label="rule node")
    value = data.draw(st.one_of(shipped_rules.values(node), shipped_rules.ANY), label="value")
    seen = apicel._reads(node, apicel.rules_of(node))
    assert _violations(node, project(value, seen)) == _violations(node, value), where
