"""What of ``self`` a CEL rule can observe, read off the rule's own checked syntax tree.

A render repeats its rule inputs almost exactly: 22,514 solver routes differ only in a name and a
path token, and a rule on a route's `rules[]` entry reads the entry's `backendRefs[].filters` and
`filters`, never the token. The verdict memo (gate.apischema.cel) keys a value by what its rules can
see of it, so those routes share one evaluation instead of each paying one.

The tree comes from the library itself: ``Expression.serialize()`` gives the checked expression as
a ``google.protobuf.Any`` holding a ``cel.expr.CheckedExpr`` (cel-spec proto/cel/expr), decoded here
from the wire format (a dozen fields, not worth a protobuf runtime). The analysis is conservative:
`self` and the paths below it are followed only through field selection, `has()`, indexing, `size()`
and comprehensions; any other use (a comparison, a function argument, a map's keys or size) reads the
whole value there. What a rule cannot see is dropped by `project`; anything the decoder does not know
makes the rule read everything. So a rule gives the same result on a value and on its projection, and
two values with equal projections get the same verdict (tests/apischema/test_cel_reads.py checks this
on every shipped rule).
"""

from __future__ import annotations

from typing import Any


class Reads:
    """The part of a value a rule can observe: all of it (`whole`), a list's length or a map's size
    and keys (`length`), some keys of a map (`fields`), and what of each list element (`items`)."""

    __slots__ = ("fields", "items", "length", "whole")

    def __init__(self) -> None:
        self.whole = False
        self.length = False
        self.fields: dict[str, Reads] = {}
        self.items: Reads | None = None

    def field(self, name: str) -> Reads:
        child = self.fields.get(name)
        if child is None:
            child = self.fields[name] = Reads()
        return child

    def item(self) -> Reads:
        if self.items is None:
            self.items = Reads()
        return self.items

    def observed(self) -> bool:
        """More than the presence of the value (`has()`) is read."""
        return self.whole or self.length or bool(self.fields) or self.items is not None


def whole() -> Reads:
    reads = Reads()
    reads.whole = True
    return reads


def project(value: Any, reads: Reads) -> Any:
    """The value with what `reads` does not observe left out: unread map keys dropped, list elements
    and map values read only for their presence replaced by None."""
    if reads.whole:
        return value
    kind = type(value)
    if kind is dict:
        if reads.length or reads.items is not None:
            return value  # its size or keys are read: every key counts
        return {name: project(value[name], child) if child.observed() else None
                for name, child in reads.fields.items() if name in value}
    if kind is list:
        if reads.fields:
            return value  # a field of a list: an error, worded from the whole value
        items = reads.items
        if items is None or not items.observed():
            return [None] * len(value)
        return [project(element, items) for element in value]
    return value


def reads_of(programs: list[Any]) -> Reads:
    """What the compiled expressions, together, can observe of `self`."""
    root = Reads()
    try:
        for program in programs:
            _value(_checked_expr(program.serialize()), {"self": root})
    except UNREADABLE:
        return whole()
    return root


# --- the analysis ------------------------------------------------------------------------------
# An expression is a path into `self` (an identifier bound to a part of it, a selection or an index
# below one) or a computed value. A path used as a value (a function's argument, an operand) is read
# whole; a computed value can hold parts of `self` only through such uses, so it needs no tracking.

class _Opaque(Exception):
    """A syntax tree node this module does not know: the rule reads everything."""


UNREADABLE = (_Opaque, ValueError, IndexError, UnicodeDecodeError, RecursionError, AttributeError)


Env = dict[str, "Reads | None"]


def _value(expr: tuple, env: Env) -> None:
    path = _path(expr, env)
    if path is not None:
        path.whole = True


def _path(expr: tuple, env: Env) -> Reads | None:
    """The part of `self` the expression is, or None for a computed value (its own reads recorded)."""
    kind = expr[0]
    if kind == "ident":
        return env.get(expr[1])
    if kind == "select":
        _, operand, name, test_only = expr
        base = _path(operand, env)
        if base is None:
            return None
        child = base.field(name)
        return None if test_only else child  # has(x.f): the key's presence
    if kind == "call":
        _, target, function, args = expr
        operands = ([target] if target is not None else []) + args
        if function == "size" and len(operands) == 1:
            base = _path(operands[0], env)
            if base is not None:
                base.length = True
            return None
        if function == "_[_]" and target is None and len(args) == 2:
            base = _path(args[0], env)
            key = args[1]
            if key[0] == "const" and type(key[1]) is str:
                return base.field(key[1]) if base is not None else None
            _value(key, env)
            if base is None:
                return None
            base.length = True  # out of range is an error
            return base.item()
        for operand in operands:
            _value(operand, env)
        return None
    if kind in ("list", "struct"):
        for part in expr[1]:
            _value(part, env)
        return None
    if kind == "comprehension":
        _, var, var2, over, accu, init, condition, step, result = expr
        base = _path(over, env)
        inner = dict(env)
        inner[var] = None
        if var2:
            inner[var2] = None
        if base is not None:
            if var2:
                base.whole = True  # index and element, or key and value
            else:
                base.length = True  # a list's elements, or a map's keys (then project keeps it whole)
                inner[var] = base.item()
        _value(init, env)
        inner[accu] = None
        _value(condition, inner)
        _value(step, inner)
        _value(result, {**env, accu: None})
        return None
    if kind == "const":
        return None
    raise _Opaque(kind)


# --- the wire format ---------------------------------------------------------------------------

def _varint(buf: bytes, at: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        byte = buf[at]
        at += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, at
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf: bytes) -> list[tuple[int, Any]]:
    """(field number, value) of one message: an int for varints, bytes for length-delimited fields."""
    out: list[tuple[int, Any]] = []
    at, end = 0, len(buf)
    while at < end:
        key, at = _varint(buf, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(buf, at)
        elif wire == 2:
            length, at = _varint(buf, at)
            if at + length > end:
                raise ValueError("truncated field")
            value, at = buf[at:at + length], at + length
        elif wire in (1, 5):
            value, at = None, at + (8 if wire == 1 else 4)
        else:
            raise ValueError(f"wire type {wire}")
        out.append((number, value))
    if at != end:
        raise ValueError("truncated message")
    return out


_ANY_TYPES = {"type.googleapis.com/cel.expr.CheckedExpr": 4, "type.googleapis.com/cel.expr.ParsedExpr": 2}


def _checked_expr(serialized: bytes) -> tuple:
    fields = dict(_fields(serialized))
    expr_field = _ANY_TYPES.get(bytes(fields.get(1, b"")).decode())
    if expr_field is None:
        raise _Opaque("not a CEL expression")
    for number, value in _fields(fields.get(2, b"")):
        if number == expr_field:
            return _expr(value)
    raise _Opaque("no expression")


def _text(value: bytes) -> str:
    return bytes(value).decode("utf-8")


def _expr(buf: bytes) -> tuple:
    # cel.expr.Expr: id 2; const_expr 3, ident_expr 4, select_expr 5, call_expr 6, list_expr 7,
    # struct_expr 8, comprehension_expr 9.
    for number, value in _fields(buf):
        if number == 3:
            return ("const", _constant(value))
        if number == 4:
            return ("ident", _text(dict(_fields(value)).get(1, b"")))
        if number == 5:
            select = dict(_fields(value))
            return ("select", _expr(select.get(1, b"")), _text(select.get(2, b"")), bool(select.get(3, 0)))
        if number == 6:
            target, function, args = None, "", []
            for n, v in _fields(value):
                if n == 1:
                    target = _expr(v)
                elif n == 2:
                    function = _text(v)
                elif n == 3:
                    args.append(_expr(v))
            return ("call", target, function, args)
        if number == 7:
            return ("list", [_expr(v) for n, v in _fields(value) if n == 1])
        if number == 8:
            parts = []
            for n, entry in _fields(value):
                if n == 2:
                    parts.extend(_expr(v) for k, v in _fields(entry) if k in (3, 4))
            return ("struct", parts)
        if number == 9:
            c = {n: v for n, v in _fields(value)}
            return ("comprehension", _text(c.get(1, b"")), _text(c.get(8, b"")), _expr(c.get(2, b"")),
                    _text(c.get(3, b"")), _expr(c.get(4, b"")), _expr(c.get(5, b"")), _expr(c.get(6, b"")),
                    _expr(c.get(7, b"")))
    raise _Opaque("empty expression")


# A constant this module does not decode (uint, double, bytes, a duration): never a key, never a value
# gate.apischema.cel_accept evaluates.
OTHER_CONSTANT = object()


def _constant(buf: bytes) -> Any:
    """A constant's value: None for null, a bool, an int64, a string's text; OTHER_CONSTANT else."""
    for number, value in _fields(buf):
        if number == 1:
            return None
        if number == 2:
            return bool(value)
        if number == 3:
            return value - (1 << 64) if value >= 1 << 63 else value
        if number == 6:
            return _text(value)
    return OTHER_CONSTANT


def syntax_tree(program: Any) -> tuple:
    """The checked expression of a compiled program, as this module's tuples; one of UNREADABLE when
    the serialized form is not one this module reads."""
    return _checked_expr(program.serialize())
