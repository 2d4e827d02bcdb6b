"""JSON text exactly as `json.dumps` writes it, for reports of tens of thousands of findings.

json's C encoder runs only without `indent`, and its Python encoder, which `indent=2` uses, costs
more than the checks at 45,000 findings. The C encoder is fast, but a reporter that first builds
ten dicts per finding for it pays for them twice: building them, and the cyclic garbage collector
passing over the whole Report each time those allocations trigger it (a SARIF render of the
solver benchmark took 1.7 s with collection on, 0.9 s with it off; benchmarks/report_formats.py).
So a reporter writes each finding's text itself with `string` (json's own C escaper: ASCII only,
every control character, quote, backslash and surrogate escaped), and places it in the rest of
the document, built as plain values, in a `Written` array that `indented` / `compact` copy as it is.

`indented(v)` is `json.dumps(v, indent=2)` and `compact(v)` is `json.dumps(v, separators=(",", ":"))`
for every JSON-shaped value (str, int, float, bool, None, list, tuple, dict; the same key rules),
`Written` arrays aside; tests/report/test_jsontext.py holds them to it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from json.encoder import encode_basestring_ascii
from typing import Any

string = encode_basestring_ascii  # "..." as json.dumps (ensure_ascii=True) writes a str


class Written(list):
    """A JSON array whose items are JSON text already written (as `indented` writes at level 0, or
    compact), placed as they are, re-indented to where the array lands. One object per array, not
    a str subclass per item: instances of a Python class are tracked by the garbage collector."""


class WrittenLater:
    """A Written array whose items are made as it is written: `make()` yields `count` texts. The texts
    of a report's findings (360 MiB of JSON at 200,000 objects) then never exist all at once."""

    __slots__ = ("count", "make")

    def __init__(self, count: int, make: Callable[[], Iterable[str]]) -> None:
        self.count = count
        self.make = make

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[str]:
        return iter(self.make())


class ValuesLater(WrittenLater):
    """A JSON array of plain values (not text) made as it is written: `make()` yields `count` values, each
    written where it lands and dropped (a report's services, each holding its findings)."""

    __slots__ = ()


def boolean(value: bool) -> str:
    return "true" if value else "false"


Sink = Callable[[str], object]


def indented(value: Any, sink: Sink | None = None) -> str:
    """`json.dumps(value, indent=2)`; with a sink, that text handed to it in pieces (and "" returned)."""
    return _write(value, "\n", "  ", ": ", sink)


def compact(value: Any, sink: Sink | None = None) -> str:
    """`json.dumps(value, separators=(",", ":"))`; with a sink, in pieces as `indented`."""
    return _write(value, "", "", ":", sink)


# With a sink, the text goes out every this many items of a Written array (about a MiB of findings): the
# JSON report of 121,000 objects is 228 MiB, which one str (and its bytes again) would hold at the peak.
_FLUSH_ITEMS = 1024


def _write(value: Any, newline: str, space: str, colon: str, sink: Sink | None = None) -> str:
    parts: list[str] = []  # joined once: a report is tens of MiB, and a join per level copies all of it
    add = parts.append

    def flush() -> None:
        if sink is not None and parts:
            sink("".join(parts))
            parts.clear()

    def write(value: Any, margin: str) -> None:
        kind = type(value)
        if kind is Written or kind is WrittenLater:
            if not value:
                add("[]")
                return
            inner = margin + space
            separator = "," + inner
            add("[")
            add(inner)
            if newline:  # written at level 0: re-indented to here
                for n, item in enumerate(value):
                    if n:
                        add(separator)
                        if n % _FLUSH_ITEMS == 0:
                            flush()
                    add(item.replace("\n", inner))
            else:
                for n, item in enumerate(value):
                    if n:
                        add(separator)
                        if n % _FLUSH_ITEMS == 0:
                            flush()
                    add(item)
            add(margin)
            add("]")
            return
        if kind is str:
            add(string(value))
            return
        if kind is dict or kind is list or kind is ValuesLater:
            pass
        elif isinstance(value, str):
            add(string(value))
            return
        elif value is None:
            add("null")
            return
        elif value is True:
            add("true")
            return
        elif value is False:
            add("false")
            return
        elif isinstance(value, int):
            add(int.__repr__(value))
            return
        elif isinstance(value, float):
            add(_float(value))
            return
        if kind is ValuesLater or isinstance(value, (list, tuple)):
            if not value:
                add("[]")
                return
            inner = margin + space
            separator = "," + inner
            add("[")
            later = kind is ValuesLater
            for n, item in enumerate(value):
                add(separator if n else inner)
                if later and n % _FLUSH_ITEMS == 0:
                    flush()
                write(item, inner)
            add(margin)
            add("]")
            return
        if isinstance(value, dict):
            if not value:
                add("{}")
                return
            inner = margin + space
            separator = "," + inner
            add("{")
            for n, (key, item) in enumerate(value.items()):
                add(separator if n else inner)
                add(_key(key))
                add(colon)
                write(item, inner)
            add(margin)
            add("}")
            return
        raise TypeError(f"Object of type {kind.__name__} is not JSON serializable")

    write(value, newline)
    if sink is None:
        return "".join(parts)
    flush()
    return ""


def _float(value: float) -> str:
    # json's allow_nan=True spellings
    if math.isnan(value):
        return "NaN"
    if value == float("inf"):
        return "Infinity"
    if value == float("-inf"):
        return "-Infinity"
    return float.__repr__(value)


def _key(key: Any) -> str:
    # json's rules for keys (skipkeys=False), in its order: a bool is not written as an int
    if isinstance(key, str):
        return string(key)
    if isinstance(key, float):
        return string(_float(key))
    if key is True:
        return '"true"'
    if key is False:
        return '"false"'
    if key is None:
        return '"null"'
    if isinstance(key, int):
        return string(int.__repr__(key))
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")
