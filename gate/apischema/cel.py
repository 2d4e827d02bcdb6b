"""CEL rules (``x-kubernetes-validations``) of a CRD, evaluated as the API server would.

The library is ``cel-expr-python`` (``cel_expr_python``), the CEL project's own Python binding of
cel-cpp. Chosen over ``cel-python`` (``celpy``) and ``common-expression-language`` by running
every CEL rule of the shipped Gateway API (standard and experimental) and cert-manager CRDs over
every matching object of ../shared/corpus (21,537 evaluations, 78 distinct rules):

==========================  ========  ==================================================
library                     time      correctness on the real rules
==========================  ========  ==================================================
cel-expr-python 0.1.3       0.15 s    all agree; string extensions (``split``,
                                      ``substring``, ``lowerAscii``...) available; checks
                                      the expression like cel-go; errors absorbed by
                                      ``&&``/``||``/``all()`` as the CEL spec says
common-expression-language  0.34 s    no ``split``/``substring`` (9 wrong results); an
0.10.0 (Rust)                         error inside ``all()`` is not absorbed by a false
                                      element (1 wrong result); pulls rich, typer,
                                      prompt-toolkit, pygments
cel-python 0.5.0            15.4 s    no ``split``/``substring`` (9 wrong results); 100x
                                      slower; pulls lark, pendulum, google-re2, jmespath
==========================  ========  ==================================================

The Kubernetes CEL environment adds libraries to standard CEL; what the shipped CRDs use is
provided: the strings extension, ``isIP`` (Kubernetes ip library), ``isCIDR``, ``isURL`` and
``isSorted``. Anything else (``format.dns1123Label()``, ``quantity()``, ``url()``...) fails to
compile here and the rule is reported once per object as ``unevaluable``: never a pass, never
a crash. Transition rules (those reading ``oldSelf``) compare with the stored object and do
not apply to a create: they are skipped, except ``optionalOldSelf`` rules, which run with
``oldSelf`` unset.

Property names are escaped as the API server escapes them (``namespace`` is reachable only as
``__namespace__``; ``-`` as ``__dash__``, ...), and strings with ``format: byte``,
``date-time`` or ``duration`` become CEL bytes, timestamps and durations.
"""
from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

from . import cel_accept
from .cel_reads import Reads, project, reads_of
from .schema import Node, Violation, format_path

try:  # The dependency is declared; a platform without a wheel still gets every other check.
    from cel_expr_python import cel as _cel
    from cel_expr_python.ext import ext_strings as _ext_strings
except ImportError:  # pragma: no cover - exercised only where the wheel is missing
    _cel = None
    _ext_strings = None

# CEL reserved words, reachable only escaped as __word__ (k8s.io/apiserver pkg/cel escaping).
_RESERVED = frozenset({
    "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function",
    "if", "import", "let", "loop", "package", "namespace", "return", "var", "void", "while",
})
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OLDSELF = re.compile(r"\boldSelf\b")


_ESCAPED: dict[str, str | None] = {}


def escape(name: str) -> str | None:
    """A property name as CEL sees it; None when it cannot be reached at all."""
    try:
        return _ESCAPED[name]
    except KeyError:
        pass
    out = _escape(name)
    if len(_ESCAPED) < 10_000:
        _ESCAPED[name] = out
    return out


def _escape(name: str) -> str | None:
    if name in _RESERVED:
        return f"__{name}__"
    if _IDENT.fullmatch(name) and "__" not in name:
        return name
    if not re.fullmatch(r"[A-Za-z_./\-][A-Za-z0-9_./\-]*", name):
        return None
    out = name.replace("__", "__underscores__").replace(".", "__dot__")
    return out.replace("-", "__dash__").replace("/", "__slash__")


def available() -> bool:
    return _cel is not None


# --- Kubernetes library functions used by CRD rules --------------------------------------------

def _is_ip(s: str) -> bool:
    # Kubernetes' ip library rejects IPv4-mapped IPv6 and zones; ipaddress rejects zones only
    # through the ScopeId check below.
    try:
        addr = ipaddress.ip_address(s)
    except ValueError:
        return False
    return not (isinstance(addr, ipaddress.IPv6Address) and (addr.ipv4_mapped or addr.scope_id))


def _is_cidr(s: str) -> bool:
    try:
        ipaddress.ip_network(s, strict=False)
    except ValueError:
        return False
    return "/" in s


def _is_url(s: str) -> bool:
    # Go's url.ParseRequestURI: an absolute URI or an absolute path.
    try:
        u = urllib.parse.urlsplit(s)
    except ValueError:
        return False
    return bool(u.scheme) or s.startswith("/")


def _functions() -> list:
    C = _cel
    B, S, L = C.Type.BOOL, C.Type.STRING, C.Type.List(C.Type.DYN)
    def fn(name, overload, ret, params, impl, member=False):
        return C.FunctionDecl(name, [C.Overload(overload, ret, params, is_member=member, impl=impl)])
    def is_sorted(xs):
        return all(xs[i] <= xs[i + 1] for i in range(len(xs) - 1))
    return [
        fn("isIP", "k8s_is_ip_string", B, [S], _is_ip),
        fn("isCIDR", "k8s_is_cidr_string", B, [S], _is_cidr),
        fn("isURL", "k8s_is_url_string", B, [S], _is_url),
        fn("isSorted", "k8s_list_is_sorted", B, [L], is_sorted, member=True),
    ]


_ENV = None


def _env():
    global _ENV
    if _ENV is None:
        C = _cel
        _ENV = C.NewEnv(variables={"self": C.Type.DYN, "oldSelf": C.Type.DYN},
                        extensions=[_ext_strings.ExtStrings()], functions=_functions())
    return _ENV


# --- rules -----------------------------------------------------------------------------------

@dataclass
class Rule:
    rule: str
    message: str | None
    message_expression: Any  # compiled expression, or None
    field_path: tuple
    program: Any  # compiled expression, or None when unevaluable
    error: str | None  # why it cannot be evaluated
    transition: bool


_RULE_CACHE: dict[tuple, Rule] = {}


def compile_rule(spec: dict) -> Rule:
    text = spec.get("rule")
    key = (text, spec.get("message"), spec.get("messageExpression"), spec.get("fieldPath"),
           bool(spec.get("optionalOldSelf")))
    cached = _RULE_CACHE.get(key)
    if cached is not None:
        return cached
    transition = isinstance(text, str) and bool(_OLDSELF.search(text)) \
        and not spec.get("optionalOldSelf")
    program = message_expr = None
    error = None
    if not isinstance(text, str):
        error = "rule is not a string"
    elif _cel is None:
        error = "no CEL library installed (pip install cel-expr-python)"
    elif not transition:
        try:
            program = _env().compile(text)
        except Exception as exc:  # the library raises its own status errors
            error = _first_line(exc)
        me = spec.get("messageExpression")
        if isinstance(me, str) and program is not None:
            try:
                message_expr = _env().compile(me)
            except Exception:
                message_expr = None
    message = spec.get("message") if isinstance(spec.get("message"), str) else None
    rule = Rule(text if isinstance(text, str) else repr(text), message, message_expr,
                _field_path(spec.get("fieldPath")), program, error, transition)
    _RULE_CACHE[key] = rule
    return rule


def _field_path(fp: Any) -> tuple:
    # fieldPath is a JSONPath-like ".spec.foo['bar'][0]" relative to the rule's node.
    if not isinstance(fp, str) or not fp:
        return ()
    out: list = []
    for m in re.finditer(r"\.([^.\[]+)|\[\s*'([^']*)'\s*\]|\[\s*(\d+)\s*\]", fp):
        if m.group(1) is not None:
            out.append(m.group(1))
        elif m.group(2) is not None:
            out.append(m.group(2))
        else:
            out.append(int(m.group(3)))
    return tuple(out)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def rules_of(node: Node) -> list[Rule]:
    if node.rules is None:
        node.rules = [compile_rule(r) for r in node.cel_rules or () if isinstance(r, dict)]
    return node.rules


_COMBINED: dict[tuple[str, ...], Any] = {}  # by rule texts: versions of one CRD share their rules


def _combined(node: Node, rules: list[Rule]) -> Any:
    """All evaluable rules of a node as one program returning a list: one call when all pass.

    Only a shortcut: any other outcome (a false, an error) re-runs the rules one by one, so the
    semantics are the single rules' own. Kept on the node: it is asked for on every evaluation.
    """
    if node.combined is not None:
        return node.combined or None
    texts = tuple(r.rule for r in rules if r.program is not None and not r.transition)
    program = None
    if len(texts) >= 2:
        if texts not in _COMBINED:
            try:
                _COMBINED[texts] = _env().compile("[" + ", ".join(f"({t})" for t in texts) + "]")
            except Exception:
                _COMBINED[texts] = None
        program = _COMBINED[texts]
    node.combined = program if program is not None else False
    return program


def to_cel(node: Node | None, value: Any) -> Any:
    """The value as the API server's CEL sees it: escaped names, typed formats.

    Walks the value with its schema; only what changes is copied (the same object otherwise).
    """
    if node is None:
        return value
    conv = _conversion(node)
    if conv is False:
        return value
    if isinstance(value, dict):
        if conv is not True and conv.isdisjoint(value):
            return value
        props = node.props or {}
        out = None
        for k, v in value.items():
            child = props.get(k)
            if child is not None:
                name = escape(k)
                nv = to_cel(child, v) if name is not None else None
            else:
                name, nv = k, to_cel(node.additional, v)
            if out is None and (name != k or nv is not v):
                out = {}
                for k2, v2 in value.items():
                    if k2 == k:
                        break
                    out[k2] = v2
            if out is not None and name is not None:
                out[name] = nv
        return value if out is None else out
    if isinstance(value, list):
        items = node.items
        if items is None:
            return value
        new = [to_cel(items, v) for v in value]
        return value if all(a is b for a, b in zip(new, value)) else new
    if isinstance(value, str) and node.format:
        try:
            if node.format == "byte":
                return base64.b64decode(value.replace("\n", "").replace("\r", ""))
            if node.format == "date-time":
                return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
            if node.format == "duration":
                return _duration(value)
        except (ValueError, TypeError):
            return value
    return value


_CONVERTED_FORMATS = ("byte", "date-time", "duration")


def needs_conversion(node: Node) -> bool:
    """Whether some value under the node may reach CEL other than as it is (an escaped or unreachable
    property name, a typed format). Most subtrees need nothing, and to_cel then returns at once
    instead of walking the value again for every node with rules above it."""
    return _conversion(node) is not False


def _conversion(node: Node) -> bool | frozenset:
    """False: nothing under the node converts. A set of property names: only values under these keys
    (escaped names such as `namespace`, or subtrees that convert) can. True: any value may."""
    conv = node.conv
    if conv is not None:
        return conv
    node.conv = True  # provisional: a schema that refers back to itself is walked in full
    node.ensure()
    if node.format in _CONVERTED_FORMATS or (node.items is not None and needs_conversion(node.items)) \
            or (node.additional is not None and needs_conversion(node.additional)):
        conv = True
    else:
        keys = frozenset(name for name, child in (node.props or {}).items()
                         if escape(name) != name or needs_conversion(child))
        conv = keys or False
    node.conv = conv
    return conv


_DUR = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def _duration(s: str) -> datetime.timedelta:
    sign = -1 if s.startswith("-") else 1
    body = s.lstrip("+-")
    parts = _DUR.findall(body)
    if not parts or "".join(a + b for a, b in parts) != body:
        raise ValueError(s)
    return datetime.timedelta(seconds=sign * sum(float(a) * _UNIT[b] for a, b in parts))


def _json_safe(value: Any) -> Any:
    """Only JSON values reach the CEL library; anything else would make it raise."""
    if value is None or isinstance(value, (bool, int, float, str, bytes,
                                           datetime.datetime, datetime.timedelta)):
        if isinstance(value, int) and not isinstance(value, bool) and not -2**63 <= value < 2**63:
            return float(value)
        return value
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return str(value)


# Results per (node, what its rules can see of the value): a render repeats nearly the same values
# (22,514 solver routes share their parentRefs and filters, and differ in a name and a path token that
# most rules never read: gate.apischema.cel_reads), and a rule's verdict depends on what it reads
# alone. The key is the node's id with the repr of the value's projection: the repr is exact for JSON
# values (1, True and "1" differ) and cheaper than a CEL call. A short repr (most projections: a
# route's rules read a few fields each) is the key itself; a longer one is replaced by its 128-bit
# BLAKE2 digest, so that an entry stays small whatever the value's size. An entry is the node itself
# when its rules pass (the usual case: no allocation), else the node and the violations; the node is
# kept so that its id cannot be reused by another node. The memo is bounded: most values that rules
# read are met once (a route's path token), so a memo holding every one of them would cost a
# 50,000-route run 60 MB to speed up nothing; the values that do repeat are learnt again within a few
# objects after it is emptied.
_RESULTS: dict[tuple[int, str] | bytes, Any] = {}
_RESULTS_MAX = 20_000
_KEY_TEXT_MAX = 160  # characters of repr kept as they are (beyond: a digest of 16 bytes)


def _memo_key(node: Node, value: Any) -> tuple[int, str] | bytes | None:
    try:
        text = repr(value)
    except Exception:  # a hostile __repr__ cannot come from a YAML or JSON loader, but still
        return None
    if len(text) <= _KEY_TEXT_MAX:
        return id(node), text
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16)
    digest.update(id(node).to_bytes(8, "little"))
    return digest.digest()


def _reads(node: Node, rules: list[Rule]) -> Reads:
    """What the node's evaluated rules and their message expressions can observe, once per node, by
    the value's own property names (CEL sees `namespace` as `__namespace__`): the value is projected
    before to_cel, which then runs only when the memo does not know the answer."""
    reads = node.reads
    if reads is None:
        programs = [program for rule in rules if rule.program is not None and not rule.transition
                    for program in (rule.program, rule.message_expression) if program is not None]
        reads = node.reads = _by_property_names(reads_of(programs), node)
    return reads


def _by_property_names(reads: Reads, node: Node | None) -> Reads:
    if reads.whole or node is None:
        return reads
    node.ensure()
    out = Reads()
    out.length = reads.length
    if reads.items is not None:
        out.items = _by_property_names(reads.items, node.items)
    names = {escape(name): (name, child) for name, child in (node.props or {}).items()}
    for seen, child in reads.fields.items():
        # A declared property by its escaped name; any other key (a map's) as CEL sees it unescaped.
        name, schema = names.get(seen, (seen, node.additional))
        out.fields[name] = _by_property_names(child, schema)
    return out


def evaluate(node: Node, value: Any, path: tuple, out: list[Violation]) -> None:
    """Evaluate the node's rules with ``self`` = value; append violations to out."""
    rules = rules_of(node)
    if not rules:
        return
    accept = node.accept
    if accept is None:
        accept = node.accept = _acceptor(node, rules)
    if accept is not False and accept(value):
        return  # every rule true, as cel-cpp would find: no violation to word
    # The rules see the projection, not the value: a verdict is then a function of the memo's key by
    # construction, also where the value holds what CEL cannot take (a null map key, which kubectl
    # rejects and the schema walk reports) in a part no rule reads.
    value = project(value, _reads(node, rules))
    key = _memo_key(node, value)
    if key is not None:
        hit = _RESULTS.get(key)
        if hit is node:
            return
        if type(hit) is tuple and hit[0] is node:
            out.extend(Violation(path + rel, msg, kind) for rel, msg, kind in hit[1:])
            return
    found: list[Violation] = []
    _evaluate(node, rules, to_cel(node, value), found)
    out.extend(Violation(path + v.path, v.message, v.kind) for v in found)
    if key is not None:
        if len(_RESULTS) >= _RESULTS_MAX:
            _RESULTS.clear()
        _RESULTS[key] = (node, *((v.path, v.message, v.kind) for v in found)) if found else node


def _acceptor(node: Node, rules: list[Rule]) -> cel_accept.Check | bool:
    """The node's rules as Python (gate.apischema.cel_accept), or False: where a rule cannot be
    evaluated (it is reported), or where CEL sees the value otherwise than Python (escaped names,
    typed formats)."""
    live = [rule for rule in rules if not rule.transition]
    if not live or any(rule.program is None for rule in live) or needs_conversion(node):
        return False
    scalar = node.types is not None and not {"object", "array"} & set(node.types)
    return cel_accept.node_check([rule.program for rule in live], _reads(node, rules), scalar) or False


def _evaluate(node: Node, rules: list[Rule], self_value: Any, out: list[Violation]) -> None:
    """The rules' violations with ``self`` = self_value, the value as CEL sees it (to_cel)."""
    combined = _combined(node, rules)
    if combined is not None:
        try:
            result = combined.eval(data={"self": self_value}).plain_value()
        except Exception:
            result = None
        if isinstance(result, list) and all(x is True for x in result):
            rules = [r for r in rules if r.program is None and not r.transition]
    for rule in rules:
        if rule.transition:
            continue
        where = rule.field_path
        if rule.program is None:
            out.append(Violation(where, f"rule cannot be evaluated offline ({rule.error}): "
                                        f"{rule.rule}", "unevaluable"))
            continue
        try:
            result = rule.program.eval(data={"self": self_value}).value()
            if not isinstance(result, bool) and _NOT_JSON.match(str(result)):
                # A value no JSON decoder makes (a YAML timestamp, a set, a huge integer)
                # sits in a free-form field: the API server would have seen JSON.
                self_value = _json_safe(self_value)
                result = rule.program.eval(data={"self": self_value}).value()
        except Exception as exc:
            out.append(Violation(where, f"rule cannot be evaluated offline ({_first_line(exc)}): "
                                        f"{rule.rule}", "unevaluable"))
            continue
        if result is True:
            continue
        if isinstance(result, bool):
            out.append(Violation(where, _message(rule, self_value), "cel"))
        else:
# The API server says "<error> evaluating rule: <message, else the rule>".
            out.append(Violation(where, f"{_error_text(result)} evaluating rule: "
                                        f"{rule.message or rule.rule}", "cel"))


_NOT_JSON = re.compile(r"INVALID_ARGUMENT: (Non-CEL value type|Integer value)")
_NO_KEY = re.compile(r'NOT_FOUND: Key not found in map : "(.*)"')


def _error_text(result: Any) -> str:
    text = str(result).strip()
    text = text.splitlines()[0][:300] if text else "error"
    m = _NO_KEY.fullmatch(text)
    return f"no such key: {m.group(1)}" if m else text


def _message(rule: Rule, self_value: Any) -> str:
    if rule.message_expression is not None:
        try:
            m = rule.message_expression.eval(data={"self": self_value}).value()
            if isinstance(m, str) and m.strip():
                return m
        except Exception:
            pass
    if rule.message:
        return rule.message
    return f"failed rule: {rule.rule}"


__all__ = ["available", "compile_rule", "evaluate", "escape", "format_path", "to_cel"]
