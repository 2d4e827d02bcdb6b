"""Every node of the shipped CRDs (every Gateway API channel, cert-manager) that has CEL rules, and
hypothesis strategies for values shaped by a node's schema, for the tests that hold a CEL shortcut
(the verdict memo's projection, the Python evaluator) to cel-cpp's own verdicts."""
from __future__ import annotations

import re

from hypothesis import strategies as st

from gate.apischema import Validator
from gate.apischema import cel as apicel
from gate.apischema.schema import Node
from gate.apischema.validator import gateway_api_channels

_LITERAL = re.compile(r"'([^'\\]{0,40})'|\"([^\"\\]{0,40})\"")


def _rule_nodes() -> list[tuple[str, Node]]:
    found: dict[int, tuple[str, Node]] = {}
    if not apicel.available():
        return []
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

SCALARS = (st.sampled_from(LITERALS or [""]) | st.text(max_size=4) | st.integers(-3, 70_000)
           | st.booleans() | st.none() | st.floats(allow_nan=False, allow_infinity=False))
# Map keys without NUL or a lone surrogate: cel-expr-python cuts a key at NUL, so {"": 1, "\0": 2}
# fails to convert with a duplicate key, and cannot convert a surrogate at all. An unread key like that
# then fails the whole value and not its projection, which is what the API server (whose JSON keys keep
# their NUL, and never hold a surrogate) evaluates.
KEYS = st.sampled_from(LITERALS or ["a"]) | st.text(
    st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), max_size=3)
ANY = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
                   max_leaves=8)


def values(node: Node | None, depth: int = 0, scalars: st.SearchStrategy = SCALARS) -> st.SearchStrategy:
    """Values shaped by the schema (mostly), with any JSON value anywhere now and then; `scalars`:
    what a leaf without an enum is drawn from."""
    anything = ANY if scalars is SCALARS else st.recursive(
        scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3), max_leaves=8)
    if node is None or depth > 5:
        return anything
    node.ensure()
    shaped: list[st.SearchStrategy] = []
    if node.enum:
        shaped.append(st.sampled_from(list(node.enum)))
    if node.props:
        optional = {k: st.deferred(lambda c=c: values(c, depth + 1, scalars)) for k, c in node.props.items()}
        shaped.append(st.fixed_dictionaries({}, optional=optional))
    if node.items is not None:
        shaped.append(st.lists(st.deferred(lambda: values(node.items, depth + 1, scalars)), max_size=3))
    if node.additional is not None:
        shaped.append(st.dictionaries(KEYS, st.deferred(lambda: values(node.additional, depth + 1, scalars)),
                                      max_size=3))
    if not shaped:
        shaped.append(scalars)
    return st.one_of(*shaped, anything) if depth else st.one_of(*shaped)
