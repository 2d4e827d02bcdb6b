"""gate.apischema.cel_reads: a CEL rule gives the same verdict on a value and on what it reads of it.

The verdict memo keys values by their projection, so the projection must keep everything a rule can
observe. Checked on hand-picked rules that observe values in every way CEL allows, and on every rule
node of the shipped Gateway API (every channel shipped) and cert-manager CRDs with values drawn from its
own schema (strings include every literal the rules compare with).
"""
from __future__ import annotations

import re

import pytest

from gate.apischema import Validator
from gate.apischema import cel as apicel
from gate.apischema.cel_reads import Reads, project, reads_of
from gate.apischema.schema import Node
from gate.apischema.validator import gateway_api_channels

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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

_LITERAL = re.compile(r"'([^'\\]{0,40})'|\"([^\"\\]{0,40})\"")


def _rule_nodes() -> list[tuple[str, Node]]:
    found: dict[int, tuple[str, Node]] = {}
    for channel in gateway_api_channels():
        v = Validator(gateway_api_channel=channel)
        for (group, kind), crd in v._shipped.items():
            for name, version in crd.versions.items():
                schema, compiler = version.compact()
                if not schema or compiler is None:
                    continue
                root = v._root((group, kind, name), schema, compiler, crd=True)
                stack, seen = [(f"{kind}.{name}", root)], set()
                while stack:
                    where, node = stack.pop()
                    if id(node) in seen:
                        continue
                    seen.add(id(node))
                    node.ensure()
                    if node.cel_rules and apicel.rules_of(node):
                        found.setdefault(id(node), (where, node))
                    children = [(f"{where}.{k}", c) for k, c in (node.props or {}).items()]
                    children += [(f"{where}[]", c) for c in (node.items, node.additional) if c is not None]
                    stack.extend(children)
    return sorted(found.values(), key=lambda pair: pair[0])


RULE_NODES = _rule_nodes()
LITERALS = sorted({text for _, node in RULE_NODES for rule in apicel.rules_of(node)
                   for m in _LITERAL.finditer(rule.rule) for text in m.groups() if text is not None})


def test_the_shipped_rules_are_all_analysed():
    # Every shipped rule node is read through its syntax tree; most read less than their whole value.
    assert len(RULE_NODES) > 30
    partial = [where for where, node in RULE_NODES if not apicel._reads(node, apicel.rules_of(node)).whole]
    assert len(partial) > len(RULE_NODES) * 0.8


_SCALARS = (st.sampled_from(LITERALS or [""]) | st.text(max_size=4) | st.integers(-3, 70_000)
            | st.booleans() | st.none() | st.floats(allow_nan=False, allow_infinity=False))
# Map keys without NUL: cel-expr-python cuts a key at NUL, so {"": 1, "\0": 2} fails to convert with a
# duplicate key. An unread key like that then fails the whole value and not its projection, which is
# what the API server (whose JSON keys keep their NUL) evaluates.
_KEYS = st.sampled_from(LITERALS or ["a"]) | st.text(st.characters(blacklist_characters="\0"), max_size=3)
_ANY = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
                    max_leaves=8)


def _values(node: Node | None, depth: int = 0) -> st.SearchStrategy:
    """Values shaped by the schema (mostly), with any JSON value anywhere now and then."""
    if node is None or depth > 5:
        return _ANY
    node.ensure()
    shaped: list[st.SearchStrategy] = []
    if node.enum:
        shaped.append(st.sampled_from(list(node.enum)))
    if node.props:
        optional = {k: st.deferred(lambda c=c: _values(c, depth + 1)) for k, c in node.props.items()}
        shaped.append(st.fixed_dictionaries({}, optional=optional))
    if node.items is not None:
        shaped.append(st.lists(st.deferred(lambda: _values(node.items, depth + 1)), max_size=3))
    if node.additional is not None:
        shaped.append(st.dictionaries(_KEYS, st.deferred(lambda: _values(node.additional, depth + 1)), max_size=3))
    if not shaped:
        shaped.append(_SCALARS)
    return st.one_of(*shaped, _ANY) if depth else st.one_of(*shaped)


def _violations(node: Node, value) -> list[tuple]:
    out: list = []
    apicel._evaluate(node, apicel.rules_of(node), apicel.to_cel(node, value), out)
    return [(v.path, v.message, v.kind) for v in out]


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_shipped_rule_gives_the_same_verdict_on_its_projection(data):
    where, node = data.draw(st.sampled_from(RULE_NODES), label="rule node")
    value = data.draw(st.one_of(_values(node), _ANY), label="value")
    seen = apicel._reads(node, apicel.rules_of(node))
    assert _violations(node, project(value, seen)) == _violations(node, value), where
