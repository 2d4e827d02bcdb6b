"""CEL rules seen to pass without the CEL library: a node's rules as Python, where that is certain.

At the incident's scale a route's path match holds a token no other route has, so the verdict memo
(gate.apischema.cel) never knows it, and cel-cpp compiles the `matches()` pattern of the path rule
again on every call: about 30 µs a route, most of the API validation's time. Here the rules of a node
are turned into Python once, for a small part of CEL whose meaning in Python is certain: `self` and its
fields, `has()`, constants, `&&`, `||`, `!`, `?:`, `==`, `!=` and `in` on values of one type, integer
and string order, `size()`, `startsWith`, `endsWith`, `contains` and `matches` with a constant pattern.

It only ever accepts. When every rule of a node evaluates to true here, cel-cpp would say true for
each; anything else (a false, an error, a value or an expression outside that part of CEL) goes to
cel-cpp, which decides and words the violations. So a rule's verdict never depends on this module,
only the time it takes (tests/domain/test_cel_accept.py checks it against cel-cpp on every shipped
rule it takes).

`matches()` runs on Python's `re`, with the pattern written so that what it finds is a match in RE2
too, and in time linear in the text: every group atomic and every repetition possessive, which
only gives up matches (a pattern that then finds none goes to cel-cpp), never adds one, and never
backtracks. Patterns outside the syntax both engines read alike (flags, Unicode classes, word
boundaries, back references) are not taken.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

from .cel_reads import OTHER_CONSTANT, UNREADABLE, Reads, syntax_tree

Check = Callable[[Any], bool]


class _Unsure(Exception):
    """At run time: this value is not one whose verdict is certain here."""


class _Outside(Exception):
    """At compile time: the expression is not in the part of CEL this module evaluates."""


_INT64 = (-(1 << 63), (1 << 63) - 1)


# A check that is seldom true costs its time for nothing: after this many tries, one that passed
# fewer than a quarter of them is no longer tried (a pattern that atomic groups make fail, say).
_TRIES = 64


def node_check(programs: list[Any], reads: Reads, scalar: bool) -> Check | None:
    """A check that is true only when each program is true on the value as cel-cpp would see it, or
    None when some program is outside what this module evaluates (or reads what it cannot vouch for).
    `reads`: what the programs can observe of the value, by its own keys; `scalar`: the value is
    never a map or a list (a rule then reads it whole)."""
    leaves = _leaves(reads)
    if leaves is None or (leaves is True and not scalar):
        return None
    try:
        rules = _compile_all([syntax_tree(program) for program in programs])
    except (_Outside, *UNREADABLE):
        return None
    except (SyntaxError, MemoryError):  # a syntax tree nested deeper than Python compiles
        return None
    tried = passed = 0

    def check(value: Any) -> bool:
        nonlocal tried, passed
        if tried >= _TRIES and passed * 4 < tried:
            return False
        tried += 1
        try:
            _convertible(value, leaves)
            if rules(value) is not True:
                return False
        except Exception:  # noqa: BLE001 - _Unsure, or anything unforeseen: cel-cpp decides
            return False
        passed += 1
        return True

    return check


# --- what cel-cpp is given -----------------------------------------------------------------------
# The rules see the value projected on what they can read (cel_reads.project), and cel-cpp converts
# all of it, also the parts a rule reads in a branch not taken: a string that is not UTF-8 (a lone
# surrogate from a JSON escape) or an integer beyond int64 makes the evaluation an error there. So
# every scalar of the projection is looked at, not only the ones the rules reach.

Leaves = dict[str, Any]  # field -> its leaves, or True: the value is read as a whole (a scalar)


def _leaves(reads: Reads) -> Leaves | bool | None:
    """What of the value the projection keeps, as fields down to scalars; None where it keeps a
    list's items or a map's keys (this module evaluates no comprehension)."""
    if reads.items is not None:
        return None
    if reads.whole or reads.length:
        return True if not reads.fields else None
    out: Leaves = {}
    for name, child in reads.fields.items():
        if child.observed():
            sub = _leaves(child)
            if sub is None:
                return None
            out[name] = sub
    return out


def _convertible(value: Any, leaves: Leaves | bool) -> None:
    if leaves is True or type(value) is not dict:
        _scalar(value)
        return
    for name, sub in leaves.items():
        if name in value:
            _convertible(value[name], sub)


def _scalar(value: Any) -> None:
    kind = type(value)
    if kind is str:
        if "\0" in value:
            raise _Unsure  # cel-expr-python cuts a string at NUL: cel-cpp judges another string
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise _Unsure from None
    elif kind is int:
        if not _INT64[0] <= value <= _INT64[1]:
            raise _Unsure
    elif value is not None and kind is not bool and kind is not float:
        raise _Unsure  # a map or list whole, bytes, a timestamp: not evaluated here


# --- expressions -----------------------------------------------------------------------------------
# Each rule becomes one Python expression over `s` (self), and a node's rules one function: a tree of
# closures cost 13 µs for the path rules, the generated function 4. What an expression is known to give
# (bool, int, str) is tracked, so that a type is checked only where it is not known. A helper raises
# _Unsure where CEL would give an error or a value this module does not handle.

def _compile_all(trees: list[tuple]) -> Callable[[Any], bool]:
    names: dict[str, Any] = {"_get": _get, "_get_b": _get_b, "_get_s": _get_s, "_get_i": _get_i,
                             "_has": _has, "_b": _b, "_s": _s, "_i": _i, "_eq": _eq, "_order": _order,
                             "_has_match": _has_match}
    codes = []
    for tree in trees:
        code, kind = _code(tree, names)
        codes.append(code if kind is bool else f"_b({code})")
    source = "def check(s):\n    return " + " and ".join(f"({code})" for code in codes) + "\n"
    exec(compile(source, "<cel rules>", "exec"), names)  # noqa: S102 - text built here from the rules' syntax trees
    return names["check"]


def _constant_name(value: Any, names: dict[str, Any]) -> str:
    name = f"_k{len(names)}"
    names[name] = value
    return name


def _code(expr: tuple, names: dict[str, Any]) -> tuple[str, type | None]:
    """(Python expression, the type it is known to give or None)."""
    kind = expr[0]
    if kind == "const":
        value = expr[1]
        if value is OTHER_CONSTANT or (value is not None and type(value) not in (bool, int, str)):
            raise _Outside
        return repr(value), type(value) if value is not None else None  # Python reads it back exact
    if kind == "ident":
        if expr[1] != "self":
            raise _Outside
        return "s", None
    if kind == "select":
        _, operand, name, test_only = expr
        base, _ = _code(operand, names)
        return (f"_has({base}, {name!r})", bool) if test_only else (f"_get({base}, {name!r})", None)
    if kind == "call":
        _, target, function, args = expr
        operands = ([target] if target is not None else []) + args
        return _call(function, operands, names)
    raise _Outside  # a list outside `in`, a comprehension (all, exists...), a message


def _call(function: str, operands: list[tuple], names: dict[str, Any]) -> tuple[str, type | None]:
    arity = len(operands)
    if function == "@in" and arity == 2:
        return _member(operands, names), bool
    if function == "matches" and arity == 2:
        pattern = operands[1]
        if pattern[0] != "const" or type(pattern[1]) is not str:
            raise _Outside
        text = _typed(operands[0], str, names)
        return f"_has_match({text}, {_constant_name(_pattern(pattern[1]), names)})", bool
    if (function, arity) not in _CALLS and (function not in _ORDERS or arity != 2):
        raise _Outside
    parts = [_code(operand, names) for operand in operands]
    if function in ("_&&_", "_||_"):
        # CEL's && and || are commutative over errors (false && error is false): a decisive left side
        # decides here; an error on the left, which the right side might absorb, goes to cel-cpp.
        a, b = (_typed_code(part, bool) for part in parts)
        return f"({a} {'and' if function == '_&&_' else 'or'} {b})", bool
    if function == "!_":
        return f"(not {_typed_code(parts[0], bool)})", bool
    if function == "_?_:_":
        (then, then_kind), (other, other_kind) = parts[1], parts[2]
        kind = then_kind if then_kind is other_kind else None
        return f"({then} if {_typed_code(parts[0], bool)} else {other})", kind
    if function in ("_==_", "_!=_"):
        (a, a_kind), (b, b_kind) = parts
        if a_kind is not None and a_kind is b_kind:
            return f"({a} {'==' if function == '_==_' else '!='} {b})", bool
        return f"({'' if function == '_==_' else 'not '}_eq({a}, {b}))", bool
    if function == "size":
        return f"len({_typed_code(parts[0], str)})", int  # a string's code points, as CEL counts
    if function in ("startsWith", "endsWith", "contains"):
        text, part = (_typed_code(p, str) for p in parts)
        if function == "contains":
            return f"({part} in {text})", bool
        return f"{text}.{'startswith' if function == 'startsWith' else 'endswith'}({part})", bool
    (a, _), (b, _) = parts
    return f"_order({a}, {b}, {_constant_name(_ORDERS[function], names)})", bool


# The functions taken besides `in` and `matches`, by name and number of operands, and the orderings.
_CALLS = frozenset({("_&&_", 2), ("_||_", 2), ("!_", 1), ("_?_:_", 3), ("_==_", 2), ("_!=_", 2), ("size", 1),
                    ("startsWith", 2), ("endsWith", 2), ("contains", 2)})
_ORDERS = {"_<_": operator.lt, "_<=_": operator.le, "_>_": operator.gt, "_>=_": operator.ge}


def _typed_code(part: tuple[str, type | None], kind: type) -> str:
    code, known = part
    if known is kind:
        return code
    if known is not None:
        raise _Outside  # a type error CEL's checker would have let through as dyn: not taken
    suffix = "b" if kind is bool else "s" if kind is str else "i"
    if code.startswith("_get("):  # a field, read and checked in one call
        return f"_get_{suffix}({code[5:]}"
    return f"_{suffix}({code})"


def _typed(expr: tuple, kind: type, names: dict[str, Any]) -> str:
    return _typed_code(_code(expr, names), kind)


def _member(operands: list[tuple], names: dict[str, Any]) -> str:
    """`x in [constants]`, the constants of one type: x must be of that type too."""
    items = operands[1]
    if items[0] != "list" or not items[1] or any(part[0] != "const" for part in items[1]):
        raise _Outside
    values = tuple(part[1] for part in items[1])
    kind = type(values[0])
    if kind not in (str, int, bool) or any(type(v) is not kind for v in values):
        raise _Outside
    code, known = _code(operands[0], names)
    if known is not None and known is not kind:
        raise _Outside
    if known is not kind:
        code = _typed_code((code, None), kind)
    return f"({code} in {_constant_name(frozenset(values), names)})"


def _get(value: Any, name: str) -> Any:
    if type(value) is not dict or name not in value:
        raise _Unsure  # "no such key", or a field of something not a map: an error
    return value[name]


def _get_b(value: Any, name: str) -> bool:
    return _b(_get(value, name))


def _get_s(value: Any, name: str) -> str:
    if type(value) is dict:
        field = value.get(name, _MISSING)
        if type(field) is str:
            return field
    raise _Unsure


def _get_i(value: Any, name: str) -> int:
    return _i(_get(value, name))


_MISSING = object()


def _has(value: Any, name: str) -> bool:
    if type(value) is not dict:
        raise _Unsure
    return name in value


def _b(value: Any) -> bool:
    if type(value) is not bool:
        raise _Unsure
    return value


def _s(value: Any) -> str:
    if type(value) is not str:
        raise _Unsure
    return value


def _i(value: Any) -> int:
    if type(value) is not int:
        raise _Unsure
    return value


def _eq(a: Any, b: Any) -> bool:
    # CEL's equality across types, and between lists or maps, is left to cel-cpp.
    if type(a) is not type(b) or type(a) not in (str, int, bool):
        raise _Unsure
    return a == b


def _order(a: Any, b: Any, compare: Callable[[Any, Any], bool]) -> bool:
    if type(a) is not type(b) or type(a) not in (int, str):
        raise _Unsure
    return compare(a, b)  # strings by code point, as cel-cpp compares their UTF-8 bytes


def _has_match(text: str, pattern: re.Pattern[str]) -> bool:
    if pattern.search(text) is None:
        raise _Unsure  # no match found here is not "no match" in RE2
    return True


# --- RE2 patterns as Python patterns ----------------------------------------------------------------

_PATTERNS: dict[str, re.Pattern[str]] = {}
_META = set("\\.+*?()|[]{}^$")
# RE2's Perl classes are ASCII; Python's str classes are Unicode: spelled out.
_CLASS_ESCAPES = {"d": "0-9", "s": "\\t\\n\\f\\r ", "w": "0-9A-Za-z_"}
_CHAR_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}
# RE2 refuses a count above 1000, also as the product of nested counts (its RepetitionWalker).
_MAX_REPEAT = 1000
# Far below what RE2 compiles in its default memory, so that a pattern taken here is one RE2 takes.
_MAX_SIZE = 5000


def _pattern(source: str) -> re.Pattern[str]:
    compiled = _PATTERNS.get(source)
    if compiled is None:
        try:
            compiled = re.compile(translate(source))
        except re.error:
            raise _Outside from None
        if len(_PATTERNS) < 1000:
            _PATTERNS[source] = compiled
    return compiled


def translate(source: str, atomic: bool = True) -> str:
    """The RE2 pattern as a Python pattern; `atomic=False`: without atomic groups and possessive
    repetition, the same language (tests draw texts from it)."""
    parser = _PatternParser(source, atomic)
    branches, _, size = parser.alternation()
    if parser.at < len(source) or size > _MAX_SIZE:
        raise _Outside  # an unmatched `)`, or a pattern too big to vouch for
    if not all(branch.startswith("\\A") for branch in branches):
        # Unanchored, a search tries every position: quadratic in the text. Left to cel-cpp.
        raise _Outside
    return "|".join(branches)


class _PatternParser:
    """RE2 syntax, in the part Python reads alike, written for Python with atomic groups and
    possessive repetition. Each part gives its text, the largest product of nested counts in it,
    and its size with counts expanded."""

    def __init__(self, source: str, atomic: bool) -> None:
        self.source = source
        self.at = 0
        self.atomic = atomic

    def peek(self) -> str:
        return self.source[self.at] if self.at < len(self.source) else ""

    def take(self) -> str:
        char = self.peek()
        if not char:
            raise _Outside
        self.at += 1
        return char

    def alternation(self) -> tuple[list[str], int, int]:
        branches, product, size = [], 1, 0
        while True:
            text, inner, length = self.sequence()
            branches.append(text)
            product, size = max(product, inner), size + length
            if self.peek() != "|":
                return branches, product, size
            self.at += 1

    def sequence(self) -> tuple[str, int, int]:
        out, product, size = [], 1, 0
        while self.peek() not in ("", "|", ")"):
            text, inner, length = self.atom()
            if text not in ("\\A", "\\Z"):
                quantifier, count = self.repetition()
                text += quantifier
                inner, length = inner * count, length * count
                if inner > _MAX_REPEAT:
                    raise _Outside
            out.append(text)
            product, size = max(product, inner), size + length
        return "".join(out), product, size

    def atom(self) -> tuple[str, int, int]:
        char = self.take()
        if char == "(":
            if self.source.startswith("?:", self.at):
                self.at += 2
            elif self.source.startswith("?P<", self.at):
                end = self.source.find(">", self.at)
                if end < 0 or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.source[self.at + 3:end]):
                    raise _Outside
                self.at = end + 1
            elif self.peek() == "?":
                raise _Outside  # flags, and anything else RE2 has after `(?`
            branches, product, size = self.alternation()
            if self.take() != ")":
                raise _Outside
            return f"({'?>' if self.atomic else '?:'}{'|'.join(branches)})", product, size
        if char == "[":
            return self.char_class(), 1, 1
        if char == ".":
            return ".", 1, 1  # any character but a line break, in both
        if char == "^":
            return "\\A", 1, 1  # without the m flag RE2's ^ and $ are the text's ends; Python's $ is not
        if char == "$":
            return "\\Z", 1, 1
        if char == "\\":
            return self.escape(in_class=False), 1, 1
        if char in _META:
            raise _Outside  # a repetition with nothing before it, a stray `]` or `{`
        return re.escape(char), 1, 1

    def escape(self, in_class: bool) -> str:
        char = self.take()
        if char in _CLASS_ESCAPES:
            spelled = _CLASS_ESCAPES[char]
            return spelled if in_class else f"[{spelled}]"
        if char.lower() in _CLASS_ESCAPES and not in_class:
            return f"[^{_CLASS_ESCAPES[char.lower()]}]"
        if char in _CHAR_ESCAPES:
            return re.escape(_CHAR_ESCAPES[char])
        if char == "x":
            digits = self.source[self.at:self.at + 2]
            if not re.fullmatch(r"[0-9A-Fa-f]{2}", digits):
                raise _Outside
            self.at += 2
            return re.escape(chr(int(digits, 16)))
        if char.isascii() and not char.isalnum() and char != "_":
            return re.escape(char)  # punctuation stands for itself in both (RE2 refuses `\_`)
        raise _Outside  # \b, \A, \z, \p{...}, \Q, back references, octal...

    def char_class(self) -> str:
        out = ["[^" if self.peek() == "^" else "["]
        if self.peek() == "^":
            self.at += 1
        if self.peek() == "]":
            raise _Outside  # a leading `]` is a member in RE2: rare, not taken
        members = 0
        while True:
            char = self.take()
            if char == "]":
                break
            if char == "[":
                raise _Outside  # [:alpha:] and the like
            if char == "\\":
                member = self.escape(in_class=True)
                single = len(member) == 1 or (len(member) == 2 and member[0] == "\\")
                low = member[-1] if single else None
            else:
                member, low = re.escape(char), char
            if self.peek() == "-" and self.source[self.at + 1:self.at + 2] not in ("]", ""):
                self.at += 1
                end = self.take()
                if low is None or end in "\\[" or ord(low) > ord(end):
                    raise _Outside  # a class as a range's end, an escaped end, a reversed range
                member = f"{member}-{re.escape(end)}"
            out.append(member)
            members += 1
        if not members:
            raise _Outside
        return "".join(out) + "]"

    def repetition(self) -> tuple[str, int]:
        """The possessive form of the repetition that follows, and the count RE2 multiplies by."""
        char = self.peek()
        count = 1
        if char in ("*", "+", "?"):
            self.at += 1
            quantifier = char
        elif char == "{":
            match = re.match(r"\{(\d+)(,(\d*))?\}", self.source[self.at:])
            if match is None:
                raise _Outside  # RE2 reads a `{` that starts no count as itself; not taken
            low, high = int(match.group(1)), match.group(3)
            top = int(high) if high else low
            if low > _MAX_REPEAT or top > _MAX_REPEAT or top < low:
                raise _Outside
            self.at += match.end()
            quantifier = match.group(0)
            count = max(top, 1)
        else:
            return "", 1
        if self.peek() == "?":
            self.at += 1  # lazy or greedy, whether there is a match is the same
        if self.peek() in ("*", "+", "?", "{"):
            raise _Outside  # a repeated repetition: RE2 refuses it
        return quantifier + ("+" if self.atomic else ""), count  # possessive: never gives back what it took
