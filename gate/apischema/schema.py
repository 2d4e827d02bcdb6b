"""Compiled structural schemas: defaulting, then validation, as the API server does it.

A schema is compiled once into a tree of :class:`Node` (shared sub-schemas are shared nodes);
``Checker.run`` walks one object against it in a single pass that

1. applies ``default:`` values to absent fields (and to non-nullable nulls), copy-on-write, so the
   caller's object is never changed and CEL sees the defaulted object, as in the API server
   (apiextensions-apiserver ``schema/defaulting``: defaults are applied while decoding, before
   validation);
2. drops non-nullable nulls without a default, as the API server prunes them
   (``PruneNonNullableNullsWithoutDefaults``): they are no error;
3. validates types, required, enums, patterns, formats, bounds, list-type uniqueness and
   unknown fields (the API server prunes unknown fields of a custom resource silently, but
   kubectl's strict field validation, the default since 1.27, rejects them);
4. collects the nodes that carry CEL rules, evaluated afterwards by :mod:`gate.apischema.cel`.

Messages follow the API server's wording (``k8s.io/kube-openapi`` validation errors wrapped in
``field.Error``), with the field path kept apart in ``Violation.path``.
"""
from __future__ import annotations

import base64
import binascii
import datetime
import ipaddress
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Literal

ViolationKind = Literal["schema", "cel", "unevaluable"]
Path = tuple["str | int", ...]


@dataclass(frozen=True, slots=True)
class Violation:
    """One reason the API server (or kubectl's strict validation) would reject the object."""

    path: Path
    message: str
    kind: ViolationKind = "schema"

    def field(self) -> str:
        """The path as Kubernetes prints it: ``spec.listeners[3].tls.mode``."""
        return format_path(self.path)


def format_path(path: Path) -> str:
    out = ""
    for p in path:
        if isinstance(p, bool) or not isinstance(p, (str, int)):
            p = str(p)  # YAML allows null, boolean and float keys; the API server names them as text
        if isinstance(p, int):
            out += f"[{p}]"
        elif out == "":
            out = p
        elif _PLAIN_KEY.fullmatch(p):
            out += "." + p
        else:
            out += f"[{json.dumps(p)}]"
    return out


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")

_JSON_TYPE = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
              dict: "object", type(None): "null"}


def json_type(value: Any) -> str:
    t = _JSON_TYPE.get(type(value))
    if t is not None:
        return t
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    # A YAML timestamp or binary, or anything else a loader may produce: not JSON.
    return type(value).__name__


def show(value: Any) -> str:
    """A value as the API server quotes it in ``Invalid value: ...``."""
    if isinstance(value, (dict, list)):
        return '"object"' if isinstance(value, dict) else '"array"'
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = json.dumps(str(value), ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + '..."'


# --- formats ---------------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def _date_time(v: str) -> bool:
    if not _RFC3339.fullmatch(v):
        return False
    try:
        datetime.datetime.fromisoformat(v.replace("z", "Z").replace("Z", "+00:00").replace("t", "T"))
    except ValueError:
        return False
    return True


def _byte(v: str) -> bool:
    # Go's base64 decoder (encoding/json for []byte, kube-openapi's "byte" format) skips \r and
    # \n, so wrapped base64 is valid.
    try:
        base64.b64decode(v.replace("\n", "").replace("\r", ""), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _ipv4(v: str) -> bool:
    try:
        ipaddress.IPv4Address(v)
    except ValueError:
        return False
    return True


def _ipv6(v: str) -> bool:
    try:
        ipaddress.IPv6Address(v)
    except ValueError:
        return False
    return True


# kube-openapi checks only the string formats it knows; int32/int64/double are informational
# for a custom resource. A built-in field is decoded into a Go integer, so there int32/int64
# must fit.
STRING_FORMATS = {"date-time": _date_time, "byte": _byte, "ipv4": _ipv4, "ipv6": _ipv6}
_INT_RANGE = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


# --- nodes -----------------------------------------------------------------------------------

class Node:
    __slots__ = ("types", "nullable", "props", "required", "additional", "free", "closed",
                 "items", "enum", "pattern", "pattern_src", "format", "minimum", "maximum",
                 "xmin", "xmax", "min_len", "max_len", "min_items", "max_items", "min_props",
                 "max_props", "default", "has_default", "list_type", "map_keys", "int_or_string",
                 "embedded", "any_of", "one_of", "all_of", "not_", "rules", "builtin",
                 "defaults", "cel_escape", "cel_rules", "conv", "combined", "reads", "accept", "pytypes", "checks_string",
                 "checks_number", "extra", "plain", "passed", "pending")

    def __init__(self) -> None:
        self.types: tuple[str, ...] | None = None
        self.nullable = False
        self.props: dict[str, Node] | None = None
        self.required: tuple[str, ...] = ()
        self.additional: Node | None = None
        self.free = False
        self.closed = False
        self.items: Node | None = None
        self.enum: tuple | None = None
        self.pattern: re.Pattern | None = None
        self.pattern_src: str | None = None
        self.format: str | None = None
        self.minimum = self.maximum = None
        self.xmin = self.xmax = False
        self.min_len = self.max_len = self.min_items = self.max_items = None
        self.min_props = self.max_props = None
        self.default: Any = None
        self.has_default = False
        self.list_type: str | None = None
        self.map_keys: tuple[str, ...] = ()
        self.int_or_string = False
        self.embedded = False
        self.any_of = self.one_of = self.all_of = None
        self.not_ = None
        self.rules: list | None = None  # compiled CEL rules (gate.apischema.cel.Rule)
        self.builtin = False
        self.defaults: tuple[tuple[str, Node], ...] = ()
        self.cel_escape = False
        self.cel_rules: list | None = None  # the raw x-kubernetes-validations entries
        self.conv: bool | frozenset | None = None  # what CEL needs converted (cel._conversion)
        self.combined: Any = None  # the rules as one CEL program, False when there is none (cel._combined)
        self.reads: Any = None  # what the rules can observe of the value (gate.apischema.cel_reads)
        self.accept: Any = None  # the rules as Python, False when they cannot be (gate.apischema.cel_accept)
        # Precomputed for the hot path: accepted Python types (None: any), what to check.
        self.pytypes: frozenset | None = None
        self.checks_string = self.checks_number = self.extra = False
        # The scalar types whose values the walk only accepts here (nothing to check): the walk skips
        # them without a call. Empty until the node is finished (a malformed schema never is).
        self.plain: frozenset = frozenset()
        # Strings that met every check of a node whose checks are on the value alone (length, pattern,
        # format, enum): a render repeats them (a parentRef's group, kind and name on every route), and
        # the walk skips them as it skips plain values. None where a string is never worth it.
        self.passed: set[str] | None = None
        self.pending: tuple | None = None

    def ensure(self) -> "Node":
        """Fill the node from its data on first use (see Compiler)."""
        pending = self.pending
        if pending is not None:
            self.pending = None
            try:
                pending[0].fill(self, pending[1])
            except (TypeError, ValueError, AttributeError, KeyError):
                # A malformed schema (a CRD in the render): what was read stays, the rest is
                # unchecked rather than a crash.
                pass
        return self

    def peek_default(self) -> bool:
        """Whether the node has a default, without filling it."""
        if self.pending is None:
            return self.has_default
        comp, data = self.pending
        try:
            return "d" in comp.level(data) if not comp.raw else "default" in data
        except (KeyError, TypeError):
            return False

    def finish(self) -> None:
        if self.int_or_string:
            self.pytypes = frozenset((str, int))
        elif self.types is not None:
            self.pytypes = frozenset(t for name in self.types for t in _PYTYPES.get(name, ()))
        self.checks_string = (self.max_len is not None or self.min_len is not None
                              or self.pattern is not None
                              or (self.format is not None and self.format in STRING_FORMATS))
        self.checks_number = (self.minimum is not None or self.maximum is not None
                              or (self.builtin and self.format in _INT_RANGE))
        beyond_value = (bool(self.any_of or self.one_of or self.all_of) or self.not_ is not None
                        or self.cel_rules is not None)  # checks that need more than the value's own tests
        self.extra = self.enum is not None or beyond_value
        scalars = _SCALARS if self.pytypes is None else self.pytypes & _SCALARS
        self.plain = frozenset() if self.extra else frozenset(
            t for t in scalars if t is bool or (not self.checks_string if t is str else not self.checks_number))
        self.passed = set() if str in scalars and str not in self.plain and not beyond_value else None


_SCALARS = frozenset((str, int, float, bool))
_PYTYPES = {"string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
            "object": (dict,), "array": (list,)}


class Compiler:
    """Turns schema data into nodes, lazily: a node is filled the first time a value meets it.

    ``raw=False``: the compact data of generate.py, where ``{"$": key}`` names a shared def
    (compiled once). ``raw=True``: a CRD's own openAPIV3Schema (Validator.add_crd), compacted
    level by level as it is reached: a large CRD costs only the part objects use.
    """

    def __init__(self, defs: dict[str, Any], builtin: bool, raw: bool = False) -> None:
        self.defs = defs
        self.builtin = builtin
        self.raw = raw
        self.memo: dict[str, Node] = {}

    def node(self, data: Any) -> Node:
        if not self.raw and isinstance(data, dict) and len(data) == 1 and "$" in data:
            key = data["$"]
            n = self.memo.get(key)
            if n is None:
                n = self.memo[key] = Node()
                n.pending = (self, self.defs[key])
            return n
        n = Node()
        n.pending = (self, data if isinstance(data, dict) else {})
        return n

    def level(self, data: dict) -> dict:
        if self.raw:
            from .generate import compact_level

            return compact_level(data, self.builtin)
        if len(data) == 1 and "$" in data:
            return self.defs[data["$"]]
        return data

    def fill(self, n: Node, data: dict) -> None:
        d = self.level(data)
        n.builtin = self.builtin
        t = d.get("t")
        if isinstance(t, str):
            n.types = (t,)
        elif isinstance(t, list):
            n.types = tuple(t)
        n.nullable = bool(d.get("n"))
        if "p" in d:
            n.props = {k: self.node(v) for k, v in d["p"].items()}
            n.defaults = tuple((k, c) for k, c in n.props.items() if c.peek_default())
        n.required = tuple(d.get("r", ()))
        if "ap" in d:
            n.additional = self.node(d["ap"])
        n.free = bool(d.get("pu"))
        n.closed = bool(d.get("c"))
        if "i" in d:
            n.items = self.node(d["i"])
        if "e" in d:
            n.enum = tuple(d["e"])
        if "pt" in d:
            n.pattern_src = d["pt"]
            n.pattern = compile_pattern(d["pt"])
        n.format = d.get("f")
        n.minimum, n.maximum = d.get("mn"), d.get("mx")
        n.xmin, n.xmax = bool(d.get("xmn")), bool(d.get("xmx"))
        n.min_len, n.max_len = d.get("mnl"), d.get("mxl")
        n.min_items, n.max_items = d.get("mni"), d.get("mxi")
        n.min_props, n.max_props = d.get("mnp"), d.get("mxp")
        if "d" in d:
            n.default, n.has_default = d["d"], True
        n.list_type = d.get("lt")
        n.map_keys = tuple(d.get("lk", ()))
        n.int_or_string = bool(d.get("ios"))
        n.embedded = bool(d.get("emb"))
        for key, attr in (("any", "any_of"), ("one", "one_of"), ("all", "all_of")):
            if key in d:
                setattr(n, attr, tuple(self.node(x) for x in d[key]))
        if "not" in d:
            n.not_ = self.node(d["not"])
        if "x" in d:
            n.cel_rules = d["x"]
        n.finish()


_PATTERN_CACHE: dict[str, re.Pattern | None] = {}


def compile_pattern(src: str) -> re.Pattern | None:
    """An ECMA/RE2 pattern as a Python regex; None when Python cannot read it (then unchecked)."""
    if src in _PATTERN_CACHE:
        return _PATTERN_CACHE[src]
    try:
        p: re.Pattern | None = re.compile(src)
    except re.error:
        p = None
    _PATTERN_CACHE[src] = p
    return p


_MISSING = object()


# Strings remembered per node as passing its checks (Node.passed).
PASSED_MAX = 1024
# Violations listed per object, enough for every real mistake in one; validation stops at the next.
MAX_VIOLATIONS = 100


class TooManyViolations(Exception):
    """Raised by Checker.add past MAX_VIOLATIONS."""


class Checker:
    """One validation run over one object: violations, defaulted value, CEL work list."""

    __slots__ = ("violations", "path", "cel_work", "blocking", "value_only")

    def __init__(self, value_only: bool = False) -> None:
        # value_only: inside anyOf/oneOf/allOf/not, where a structural schema holds value
        # validations only (no unknown fields, defaults or CEL).
        self.value_only = value_only
        self.violations: list[Violation] = []
        self.path: list[str | int] = []
        # (node, defaulted value, path) for every node with CEL rules, post-order.
        self.cel_work: list[tuple[Node, Any, Path]] = []
        # A type error makes CEL unsafe to run; the API server skips CEL then too.
        self.blocking = False

    def add(self, message: str, extra: tuple = ()) -> None:
        if len(self.violations) >= MAX_VIOLATIONS:
            # A list of a million wrong items is one mistake, not a million findings: the walk stops
            # here (the object is refused either way) instead of formatting and holding them all.
            raise TooManyViolations
        self.violations.append(Violation(tuple(self.path) + extra, message, "schema"))

    def here(self, extra: tuple = ()) -> str:
        return format_path(tuple(self.path) + extra)

    # The walk returns the value with defaults applied (the same object when nothing changed).
    def run(self, node: Node, value: Any) -> Any:
        if node.pending is not None:
            node.ensure()
        t = type(value)
        if value is None:
            if node.nullable or node.pytypes is None:
                return value
            self.add(f"{self.here()} in body must be of type {self._want(node)}: \"null\"")
            self.blocking = True
            return value
        accepted = node.pytypes
        if accepted is not None and t not in accepted and not self._type_ok(node, value):
            self.add(f"{self.here()} in body must be of type {self._want(node)}: "
                     f"\"{json_type(value)}\"")
            self.blocking = True
            return value
        if t is dict or (t is not str and isinstance(value, dict)):
            value = self._object(node, value)
        elif t is str:
            if node.checks_string:
                self._string(node, value)
        elif t is list or isinstance(value, list):
            value = self._array(node, value)
        elif t is int or t is float:
            if node.checks_number:
                self._number(node, value)
        elif t is not bool and not isinstance(value, (str, int, float)):
            # A YAML timestamp, binary or set: not JSON, the API server never sees such a value.
            self.add(f"{self.here()} in body must be a JSON value: \"{json_type(value)}\"")
            self.blocking = True
            return value
        if node.extra:
            if node.enum is not None and not _in_enum(value, node.enum):
                self.add(f"Unsupported value: {show(value)}: supported values: "
                         + ", ".join(show(e) for e in node.enum))
            if node.any_of or node.one_of or node.all_of or node.not_ is not None:
                self._combinators(node, value)
            if node.cel_rules is not None and not self.value_only:
                self.cel_work.append((node, value, tuple(self.path)))
        return value

    @staticmethod
    def _want(node: Node) -> str:
        if node.int_or_string:
            return "integer-or-string"
        return "/".join(node.types or ("any",))

    @staticmethod
    def _type_ok(node: Node, value: Any) -> bool:
        # The slow path: subclasses of the JSON types (a loader's own str or dict).
        t = json_type(value)
        if node.int_or_string:
            return t in ("string", "integer")
        for want in node.types or ():
            if t == want or (want == "number" and t == "integer"):
                return True
        return False

    def _object(self, node: Node, value: dict) -> dict:
        props = node.props
        out = value
        if node.defaults and not self.value_only:
            for k, child in node.defaults:
                cur = value.get(k, _MISSING)
                child.ensure()
                if child.has_default and (cur is _MISSING or (cur is None and not child.nullable)):
                    if out is value:
                        out = dict(value)
                    out[k] = _deepcopy(child.default)
        path = self.path
        # A snapshot: the loop replaces or deletes only the entry it is at.
        for k, v in list(out.items()):
            child = props.get(k) if props is not None else None
            if child is None:
                if node.additional is not None:
                    child = node.additional
                elif node.embedded and k in ("apiVersion", "kind", "metadata"):
                    continue
                elif not isinstance(k, str):
                    path.append(str(k))
                    self.add(f"{self.here()}: object keys must be strings")
                    path.pop()
                    continue
                elif node.free or not node.closed or self.value_only:
                    continue
                else:
                    path.append(k)
                    self.add(f"unknown field \"{self.here()}\"")
                    path.pop()
                    continue
            if child.pending is not None:
                child.ensure()
            if v is None and not child.nullable and not child.has_default and not node.builtin \
                    and child is not node.additional:
                # Pruned by the API server before validation: absent, not invalid.
                if out is value:
                    out = dict(value)
                del out[k]
                continue
            if type(v) in child.plain:
                continue  # what run() would accept unchanged
            passed = child.passed
            if passed is not None and type(v) is str:
                if v not in passed:
                    self._string_once(child, v, k, passed)
                continue
            path.append(k)
            nv = self.run(child, v)
            path.pop()
            if nv is not v:
                if out is value:
                    out = dict(value)
                out[k] = nv
        for r in node.required:
            if out.get(r, _MISSING) is _MISSING or (node.builtin and out.get(r) is None):
                path.append(r)
                self.add("Required value")
                path.pop()
        n = len(out)
        if node.max_props is not None and n > node.max_props:
            self.add(f"Too many: {n}: must have at most {node.max_props} items")
        if node.min_props is not None and n < node.min_props:
            self.add(f"Invalid value: {n}: {self.here()} in body should have at least "
                     f"{node.min_props} properties")
        return out

    def _array(self, node: Node, value: list) -> list:
        out = value
        n = len(value)
        if node.max_items is not None and n > node.max_items:
            self.add(f"Too many: {n}: must have at most {node.max_items} items")
        if node.min_items is not None and n < node.min_items:
            self.add(f"Invalid value: {n}: {self.here()} in body should have at least "
                     f"{node.min_items} items")
        items = node.items
        if items is not None:
            if items.pending is not None:
                items.ensure()
            plain, passed = items.plain, items.passed
            path = self.path
            for i, v in enumerate(value):
                if type(v) in plain:
                    continue  # what run() would accept unchanged
                if passed is not None and type(v) is str:
                    if v not in passed:
                        self._string_once(items, v, i, passed)
                    continue
                path.append(i)
                nv = self.run(items, v)
                path.pop()
                if nv is not v:
                    if out is value:
                        out = list(value)
                    out[i] = nv
        # The API server checks list-type uniqueness of custom resources in schema validation
        # (apiextensions-apiserver schema/listtype). For built-in kinds only some lists are
        # checked, by Go code, so their list types are not checked here.
        if node.list_type and not node.builtin and n > 1:
            self._unique(node, out)
        return out

    def _string_once(self, node: Node, value: str, step: str | int, passed: set[str]) -> None:
        """run() of a string at a node with value checks only, remembered when it passes them all."""
        before = len(self.violations)
        self.path.append(step)
        self.run(node, value)
        self.path.pop()
        if len(self.violations) == before:
            if len(passed) >= PASSED_MAX:
                passed.clear()  # most strings that fill it were met once (a route's name)
            passed.add(value)

    def _unique(self, node: Node, value: list) -> None:
        seen: set = set()
        if node.list_type == "set":
            for i, v in enumerate(value):
                key = _freeze(v)
                if key in seen:
                    self.add(f"Duplicate value: {show(v)}", (i,))
                seen.add(key)
        elif node.list_type == "map" and node.map_keys:
            for i, v in enumerate(value):
                if not isinstance(v, dict):
                    continue
                key = tuple(_freeze(v.get(k)) for k in node.map_keys)
                if key in seen:
                    shown = ",".join(f"\"{k}\":{show(v.get(k))}" for k in node.map_keys)
                    self.add(f"Duplicate value: map[{shown}]", (i,))
                seen.add(key)

    def _string(self, node: Node, value: str) -> None:
        if node.max_len is not None or node.min_len is not None:
            # kube-openapi counts characters (runes), not bytes.
            n = len(value)
            if node.max_len is not None and n > node.max_len:
                self.add(f"Too long: may not be more than {node.max_len} bytes")
            if node.min_len is not None and n < node.min_len:
                self.add(f"Invalid value: {show(value)}: {self.here()} in body should be at "
                         f"least {node.min_len} chars long")
        if node.pattern is not None and node.pattern.search(value) is None:
            self.add(f"Invalid value: {show(value)}: {self.here()} in body should match "
                     f"'{node.pattern_src}'")
        f = node.format
        if f is not None:
            check = STRING_FORMATS.get(f)
            if check is not None and not check(value):
                self.add(f"Invalid value: {show(value)}: {self.here()} in body must be of type "
                         f"{f}: {show(value)}")

    def _number(self, node: Node, value: int | float) -> None:
        if node.minimum is not None:
            if value < node.minimum or (node.xmin and value == node.minimum):
                rel = "greater than" if node.xmin else "greater than or equal to"
                self.add(f"Invalid value: {show(value)}: {self.here()} in body should be {rel} "
                         f"{node.minimum}")
        if node.maximum is not None:
            if value > node.maximum or (node.xmax and value == node.maximum):
                rel = "less than" if node.xmax else "less than or equal to"
                self.add(f"Invalid value: {show(value)}: {self.here()} in body should be {rel} "
                         f"{node.maximum}")
        if node.builtin and node.format in _INT_RANGE:
            lo, hi = _INT_RANGE[node.format]
            if isinstance(value, int) and not lo <= value <= hi:
                self.add(f"Invalid value: {show(value)}: {self.here()} must fit in {node.format}")
                self.blocking = True
            elif isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
                self.add(f"Invalid value: {show(value)}: {self.here()} in body must be of type "
                         f"integer: \"number\"")
                self.blocking = True

    def _combinators(self, node: Node, value: Any) -> None:
        # Inside anyOf/oneOf/allOf/not a structural schema holds value validations only.
        if node.all_of:
            for sub in node.all_of:
                for msg in _value_errors(sub, value):
                    self.add(msg)
        if node.any_of and not any(not _value_errors(s, value) for s in node.any_of):
            self.add(f"Invalid value: {show(value)}: {self.here()} in body must validate at "
                     f"least one schema (anyOf)")
        if node.one_of:
            ok = sum(1 for s in node.one_of if not _value_errors(s, value))
            if ok != 1:
                self.add(f"Invalid value: {show(value)}: {self.here()} in body must validate one "
                         f"and only one schema (oneOf)")
        if node.not_ is not None and not _value_errors(node.not_, value):
            self.add(f"Invalid value: {show(value)}: {self.here()} in body must not validate "
                     f"the schema (not)")


def _value_errors(node: Node, value: Any) -> list[str]:
    """Value validations of a combinator branch (no unknown fields, no defaults, no CEL)."""
    c = Checker(value_only=True)
    try:
        c.run(node, value)
    except TooManyViolations:
        pass  # the branch fails either way
    return [v.message for v in c.violations]


def _in_enum(value: Any, enum: tuple) -> bool:
    for e in enum:
        if type(e) is type(value) and e == value:
            return True
        if isinstance(e, (int, float)) and isinstance(value, (int, float)) \
                and not isinstance(e, bool) and not isinstance(value, bool) and e == value:
            return True
    return False


def _freeze(v: Any) -> Any:
    if isinstance(v, dict):
        return ("d", tuple(sorted(((str(k), _freeze(x)) for k, x in v.items()))))
    if isinstance(v, list):
        return ("l", tuple(_freeze(x) for x in v))
    if isinstance(v, bool):
        return ("b", v)
    try:
        hash(v)
    except TypeError:
        return ("r", repr(v))
    return v


def _deepcopy(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _deepcopy(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_deepcopy(x) for x in v]
    return v
