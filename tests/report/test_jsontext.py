"""gate.report.jsontext writes what json.dumps writes, byte for byte, whatever the value holds."""

from __future__ import annotations

import enum
import json
from collections import OrderedDict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sample_reports import HOSTILE

from gate.report.jsontext import Written, boolean, compact, indented, string


class Colour(enum.StrEnum):
    RED = "red\u202e"


class Level(enum.IntEnum):
    HIGH = 3


class Ratio(float):
    pass


VALUES = [
    *HOSTILE, {}, [], (), {"a": []}, {"a": {}}, [[], [{}], {"b": [1, {"c": None}]}],
    [0, 1, -2, 10**30, -(10**300), 2.5, -0.0, 1e308, 5e-324, 1e16, 0.1, float("nan"), float("inf"),
     float("-inf"), True, False, None],
    {1: "int key", 2.5: "float key", None: "none key", float("nan"): "nan key", -(10**20): "big key"},
    {True: "bool key", False: "false key"},  # apart from 1 and 0, which are the same keys
    {s: s for s in HOSTILE},
    [Colour.RED, Level.HIGH, Ratio(1.5), {Colour.RED: Level.HIGH}, OrderedDict(b=1, a=2), (1, (2, [3]))],
    {"deep": [[[[[[{"x": [[["y"]]]}]]]]]]},
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_indented_and_compact_are_json_dumps(value):
    """Every JSON-shaped value, hostile strings, odd numbers, odd keys and subclasses included."""
    assert indented(value) == json.dumps(value, indent=2)
    assert compact(value) == json.dumps(value, separators=(",", ":"))


def test_string_and_boolean_are_json_scalars():
    for text in HOSTILE:
        assert string(text) == json.dumps(text)
        assert string(text).isascii()  # nothing raw: every control, bidi and surrogate is an escape
    assert (boolean(True), boolean(False)) == ("true", "false")


_text = st.text(st.one_of(st.characters(codec=None, categories=None), st.sampled_from("".join(HOSTILE))),
                max_size=12)
_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), _text)
_key = st.one_of(_text, st.integers(), st.floats(allow_nan=False), st.booleans(), st.none())
_json = st.recursive(_scalar, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.tuples(inner, inner),
                                                       st.dictionaries(_key, inner, max_size=4)), max_leaves=30)


@settings(max_examples=400, deadline=None)
@given(_json)
def test_any_value_comes_out_as_json_dumps_writes_it(value):
    """Property: for any nesting of any scalars (surrogates, NaN, huge ints, every key type)."""
    assert indented(value) == json.dumps(value, indent=2)
    assert compact(value) == json.dumps(value, separators=(",", ":"))


@settings(max_examples=200, deadline=None)
@given(st.lists(_json, max_size=5), st.integers(0, 4))
def test_a_written_array_is_the_array_json_dumps_writes(items, depth):
    """Items written ahead (at level 0) come out re-indented where the array lands, at any depth."""
    def nest(value, levels):
        for n in range(levels):
            value = {"k": [value]} if n % 2 else [value, 1]
        return value

    plain = nest(items, depth)
    assert indented(nest(Written(json.dumps(item, indent=2) for item in items), depth)) == \
        json.dumps(plain, indent=2)
    assert compact(nest(Written(json.dumps(item, separators=(",", ":")) for item in items), depth)) == \
        json.dumps(plain, separators=(",", ":"))


@pytest.mark.parametrize("value", [{"a": object()}, [b"bytes"], {1j: 1}, {(1, 2): "tuple key"}, {1, 2}])
def test_what_json_refuses_is_refused(value):
    """A value json cannot write is a TypeError here too, never written somehow."""
    with pytest.raises(TypeError):
        json.dumps(value, indent=2)
    with pytest.raises(TypeError):
        indented(value)
    with pytest.raises(TypeError):
        compact(value)


def test_an_int_too_long_for_str_is_refused_as_json_refuses_it():
    """Python's int-to-str digit limit applies alike (ValueError), not a truncated number."""
    huge = 10**5000
    with pytest.raises(ValueError):
        json.dumps(huge)
    with pytest.raises(ValueError):
        indented([huge])
    with pytest.raises(ValueError):
        compact({"n": huge})


@settings(max_examples=100, deadline=None)
@given(st.lists(_json, max_size=12), st.integers(1, 4))
def test_text_handed_to_a_sink_in_pieces_is_the_same_text(items, every):
    """With a sink, a written array goes out in pieces every few items; the pieces join to the same text."""
    import gate.report.jsontext as jsontext

    saved, jsontext._FLUSH_ITEMS = jsontext._FLUSH_ITEMS, every
    try:
        value = {"findings": Written(json.dumps(item, indent=2) for item in items), "n": [1, {"k": "v"}]}
        pieces: list[str] = []
        assert indented(value, pieces.append) == ""
        assert "".join(pieces) == indented(value)
        assert len(pieces) >= len(items) // every
        flat = {"findings": Written(json.dumps(item, separators=(",", ":")) for item in items)}
        pieces = []
        compact(flat, pieces.append)
        assert "".join(pieces) == compact(flat)
    finally:
        jsontext._FLUSH_ITEMS = saved


def test_an_array_written_later_is_made_while_it_is_written(monkeypatch):
    """WrittenLater gives the same text as Written; its items are made as they go out (a report's findings
    never all exist as text at once), so the sink has pieces before the last item is made."""
    import gate.report.jsontext as jsontext
    from gate.report.jsontext import ValuesLater, WrittenLater

    monkeypatch.setattr(jsontext, "_FLUSH_ITEMS", 2)
    items = [{"n": n, "s": "x\u2028" * n} for n in range(9)]
    texts = [json.dumps(item, indent=2) for item in items]
    pieces: list[str] = []
    made_before_output: list[int] = []

    def make():
        for n, text in enumerate(texts):
            if pieces and not made_before_output:
                made_before_output.append(n)
            yield text

    value = {"a": [WrittenLater(len(texts), make), WrittenLater(0, list)]}
    indented(value, pieces.append)
    assert "".join(pieces) == json.dumps({"a": [items, []]}, indent=2) == indented(value)
    assert made_before_output and made_before_output[0] < len(texts)
    assert compact({"a": WrittenLater(2, lambda: ["1", "[]"])}) == '{"a":[1,[]]}'
    plain = [{"k": [n, {"deep": "\u2028"}]} for n in range(5)]
    later = ValuesLater(len(plain), lambda: iter(plain))
    assert indented({"v": later, "e": ValuesLater(0, list)}) == json.dumps({"v": plain, "e": []}, indent=2)
    assert compact([later]) == json.dumps([plain], separators=(",", ":"))
