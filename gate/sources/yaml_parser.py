"""One YAML document's text -> Python objects, read as Kubernetes reads YAML, within bounds.

kubectl and Argo CD parse with sigs.k8s.io/yaml (go-yaml, close to YAML 1.1). libyaml (PyYAML's C
loader) is the reference here; yaml-rs (the `fast` extra) takes the documents where YAML 1.1 and 1.2
cannot differ. Depth, size and alias expansion are bounded before anything walks the result, and
mapping keys become the text sigs.k8s.io/yaml makes of them on its way to JSON.
"""

from __future__ import annotations

import functools
import math
import re
import struct
import types
from collections.abc import Iterator
from typing import Any

import yaml

from gate.sources.documents import Document, InputError, Problem, ProblemKind, chunk_start_line

# etcd refuses requests over 1.5 MiB by default; 8 MiB leaves room for huge CRDs and still bounds
# what one document can cost to parse.
MAX_DOCUMENT_BYTES = 8 * 1024 * 1024
# Bound what an alias-heavy document may expand to when walked ("billion laughs"): in nodes, and in
# the characters of its strings, which is what turning a value into text (a message, JSON) costs.
MIN_NODE_BUDGET = 200_000
MIN_EXPANSION_BYTES = 2 * 1024 * 1024
EXPANSION_FACTOR = 4  # the budget is the larger of the minimum and this many times the document's size
# PyYAML composes a whole document into nodes (with their marks) before building objects: about 1.8 KB
# per node while it parses, some 300 times the text of a dense document. A rendered document that libyaml
# reads is counted first when it is big, and refused past this many nodes (an 8 MiB CRD has about a
# quarter of that); cluster-state Lists, as big as the cluster, are bounded by the file size alone.
NODE_COUNT_ABOVE = 1024 * 1024
MAX_LIBYAML_NODES = 300_000
# libyaml's composer and yaml-rs recurse in C and Rust: tens of thousands of nested `[` or `- ` crash
# the process (yaml-rs near 11,000 block levels). No Kubernetes object comes near this depth.
MAX_DEPTH = 512
MAX_FLOW_DEPTH = MAX_DEPTH
_FLOW = re.compile(r"[\[\]{}]")
# Where a line's innermost block node can start: its indentation plus the `- `, `? ` and `: ` indicators
# that open nested collections on the same line. Each block level needs at least one more column every
# two levels, so this bounds the block depth from above; only a line this long is looked at closely.
_DEEP_LINE = re.compile(rf"\n[ \t?:-]{{{MAX_DEPTH // 2}}}")  # searched in "\n" + text: a literal first is fast
# What libyaml refuses or reads differently from yaml-rs: characters outside YAML's printable set (C0
# controls, DEL, C1 controls), NEL and the Unicode line separators (libyaml folds them as line breaks),
# a BOM inside the text, and tabs (libyaml refuses a tab as indentation, before a block collection and on
# an otherwise empty line). Documents holding any of these go to libyaml, which decides as kubectl does.
# Kubernetes numbers are 64-bit; Python refuses to convert integers of more than 4,300 digits to text (and
# yaml-rs builds some of them anyway). A longer run of digits goes to libyaml, which refuses the number.
MAX_NUMBER_DIGITS = 1000
_LONG_DIGITS = re.compile(rf"(?<![0-9])[0-9]{{{MAX_NUMBER_DIGITS}}}")  # starts at a run's start only: linear
_FAST_UNSAFE_CLASS = "[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"


@functools.cache
def _fast_unsafe() -> re.Pattern[str]:
    # Compiled when first needed: the class's ranges take ~6 ms to compile, a tenth of a one-file
    # run's start-up, and only a document with a character str.isprintable() refuses needs it.
    return re.compile(_FAST_UNSAFE_CLASS)

_UNQUOTED_TEMPLATE = re.compile(r"(?:^|:[ \t]|-[ \t])[ \t]*\{\{", re.MULTILINE)  # `key: {{ .Values.x }}`

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
USING_LIBYAML = _BaseLoader is not yaml.SafeLoader

try:  # optional accelerator: `pip install ingress-gate[fast]`
    import yaml_rs
except ImportError:  # pragma: no cover - depends on the install
    yaml_rs = None

# yaml-rs reads YAML 1.2; kubectl and Argo CD read (close to) YAML 1.1. A document goes to yaml-rs
# only when no plain scalar in it can be read differently by the two: 1.1 booleans (yes/on/off...),
# leading-zero, underscore, 0b/0o/0x, sexagesimal and exponent-without-dot numbers, `=`, merge keys;
# nor anchors, aliases, tags, directives, explicit keys or Helm `{{`. tests/sources/test_yaml_parser.py checks
# that the two parsers agree on every document of the shared corpus that passes this guard.
_YAML11_TOKEN = r"""(?:
    [Yy]es|YES|[Nn]o|NO|[Oo]n|ON|[Oo]ff|OFF
  | [-+]?(?:0[0-9_]+(?:\.[0-9_]*)?
          | [0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?
          | 0[box][0-9a-fA-F_]*
          | [0-9.][0-9_.]*_[0-9_.]*
          | (?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][-+]?[0-9]+)
  | [-+]\.[0-9][0-9_.]*(?:[eE][-+]?[0-9]+)?
  | [-+]?_[0-9_.]+(?:[eE][-+]?[0-9]+)?
  | = | <<
)"""
# Anywhere in the text (quoted strings and comments too, so it errs towards libyaml); slow, so
# only for documents with flow collections or the rare indicator characters.
_YAML11_ANYWHERE = re.compile(r"(?<![\w.\-])" + _YAML11_TOKEN + r"""(?![\w.\-])
    | (?:^|[\s\[{,])[&*!%][^\s] | (?:^|\s)\?\s | \{\{""", re.VERBOSE | re.MULTILINE)
# Block style has plain scalars in three places only: after `key: `, after `- `, and alone at the
# start of a line (keys, and values on their own line). Each pattern starts with a literal and
# checks the token's first character before trying the alternatives: the regex engine is fast then.
# The blanks before the token are taken possessively (`*+`, `++`): no token starts with a blank, so
# giving one back could never match, and trying it at every line of an indented document tripled
# the cost of the line-start pattern.
_FIRST = r"(?=[YyNnOo0-9.+=<_-])"
_YAML11_BLOCK = [re.compile(prefix + _FIRST + _YAML11_TOKEN + suffix, re.VERBOSE | re.MULTILINE) for prefix, suffix in (
    (r":[ \t]++", r"(?=[ \t]*(?:$|\#))"),
    (r"-[ \t]++", r"(?=[ \t]*(?:$|\#))"),
    (r"\n[ \t]*+(?:-[ \t]++)?+", r"[ \t]*(?::(?:[ \t]|$)|$|\#)"),
)]
_RARE_INDICATORS = "[{&*!%?"




# yaml-rs reads `: value` at the start of a line (or of a sequence item) as a mapping with a null key;
# libyaml and go-yaml refuse it.
_EMPTY_KEY = re.compile(r"\n[ \t]*(?:-[ \t]+)*:(?=[ \t\n]|$)")
_EMPTY_KEY_HINT = re.compile(r"\n[ \t-]*:")  # a literal first: the regex engine skips to each line break
_EMPTY_FLOW_KEY = re.compile(r"(?:\[\]|\{\})[ \t]*:(?:[ \t]|$)", re.MULTILINE)
_BLOCK_HEADER_AT_END = re.compile(r"[|>][-+1-9]{0,2}[ \t]*(?:#.*)?$")


def _has_flow_collections(text: str) -> bool:
    """Flow collections other than the empty `{}` and `[]` of rendered charts: yaml-rs accepts flow
    syntax libyaml refuses (`[a, :]`), so they go to libyaml. Four counts at C speed: asked first."""
    return (("[" in text and text.count("[") != text.count("[]"))
            or ("{" in text and text.count("{") != text.count("{}")))


def _ends_like_yaml_rs_misreads(text: str) -> bool:
    """yaml-rs adds a line break libyaml (and the spec) does not: to a block scalar that ends the text
    without a final newline, and to an empty block scalar (`key: |` with nothing below) at the end."""
    if not text.endswith("\n"):
        return True
    if (_EMPTY_KEY_HINT.search(text) or text.lstrip(" \t-")[:1] == ":") and _EMPTY_KEY.search("\n" + text):
        return True
    # One character first: `in` finds a single character with memchr, a pair several times slower.
    if (("[" in text and "[]" in text) or ("{" in text and "{}" in text)) and _EMPTY_FLOW_KEY.search(text):
        return True  # `[]: value`: a collection as a key, which yaml-rs accepts and libyaml refuses
    end = len(text)
    for _ in range(64):  # the last content line, past trailing blank and comment lines
        start = text.rfind("\n", 0, end) + 1
        stripped = text[start:end].strip()
        if stripped and not stripped.startswith("#"):
            return _BLOCK_HEADER_AT_END.search(stripped) is not None
        if start == 0:
            return False
        end = start - 1
    return True  # a long tail of comments: let libyaml decide


_ASCII_SAFE = bytes(range(0x20, 0x7F)) + b"\n"


def _unsafe_characters(text: str) -> bool:
    """Whether the text holds a character _FAST_UNSAFE_CLASS names."""
    if text.isascii():
        # Rendered manifests nearly always are: what is left once printable ASCII and line breaks are
        # deleted (C speed, a fifth of the Unicode test below) is a control character or DEL.
        return bool(text.encode("ascii").translate(None, _ASCII_SAFE))
    # str.isprintable() (C speed) is false for every character _FAST_UNSAFE_CLASS names, and for a few
    # more: only then is the exact pattern needed
    return not text.replace("\n", "").isprintable() and _fast_unsafe().search(text) is not None


def yaml11_sensitive(text: str) -> bool:
    """True when YAML 1.1 and 1.2 might read some scalar of this document differently, or when it holds
    characters libyaml refuses or folds (the fast path must never accept what kubectl refuses)."""
    if _has_flow_collections(text):
        return True  # libyaml's either way: the cheapest decisive test first (big CRDs have flow lists)
    if _unsafe_characters(text) or _LONG_DIGITS.search(text) or _ends_like_yaml_rs_misreads(text):
        return True
    if any(char in text for char in _RARE_INDICATORS):
        return _YAML11_ANYWHERE.search(text) is not None
    text = "\n" + text
    return any(pattern.search(text) for pattern in _YAML11_BLOCK)


class ManifestLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """SafeLoader, read as Kubernetes reads YAML (sigs.k8s.io/yaml)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicate_keys: list[tuple[int, str]] = []  # (0-based line, key)
        self._keys_checked: set[int] = set()

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        # PyYAML keeps the last of two equal keys without a word; kubectl and Argo CD (go-yaml)
        # refuse the document ("mapping key already defined"): what a reviewer reads is not applied.
        # Checked once per node, before its merge keys (`<<`) are flattened into it: flattening edits
        # the node in place, and merged keys that the mapping overrides are not duplicates.
        if id(node) not in self._keys_checked:
            self._keys_checked.add(id(node))
            seen: set[str] = set()
            for key_node, _ in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value != "<<":
                    if key_node.value in seen:
                        self.duplicate_keys.append((key_node.start_mark.line, key_node.value))
                    seen.add(key_node.value)
        super().flatten_mapping(node)


def _as_string(loader: yaml.BaseLoader, node: yaml.Node) -> str:
    return loader.construct_scalar(node)  # type: ignore[arg-type]


# A plain `=` resolves to the YAML 1.1 "value" tag that SafeLoader cannot construct; kubectl reads
# the string "=" (kube-prometheus' AlertmanagerConfig CRD has `- =`).
ManifestLoader.add_constructor("tag:yaml.org,2002:value", _as_string)
# Kubernetes keeps timestamps as strings; a datetime would also break JSON output.
ManifestLoader.add_constructor("tag:yaml.org,2002:timestamp", _as_string)

# SafeConstructor raises plain Python errors for a tag on the wrong value (`!!int abc`, `!!bool maybe`,
# `!!set abc`, `!!map [a, b]`) and for integers past Python's 4,300-digit conversion limit; go-yaml
# refuses those documents. Each constructor is wrapped so that they become YAML errors at the value,
# worded without the value itself (it may be Secret data).
_INT_TAG = "tag:yaml.org,2002:int"
_CONSTRUCT_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError)


def _unreadable(tag: str | None, node: yaml.Node, exc: Exception) -> yaml.constructor.ConstructorError:
    short = (tag or node.tag or "").replace("tag:yaml.org,2002:", "!!")
    if isinstance(exc, ValueError) and "digits" in str(exc):
        problem = "a number with more digits than any Kubernetes field holds"
    else:
        what = {yaml.ScalarNode: "scalar", yaml.SequenceNode: "sequence", yaml.MappingNode: "mapping"}
        problem = f"a {what.get(type(node), 'value')} that cannot be read as {short}"
    return yaml.constructor.ConstructorError(None, None, problem, node.start_mark)


def _guarded(tag: str | None, construct: Any) -> Any:
    def run(loader: yaml.BaseLoader, node: yaml.Node) -> Any:
        if tag == _INT_TAG and len(node.value) > MAX_NUMBER_DIGITS:
            raise _unreadable(tag, node, ValueError("digits"))
        try:
            result = construct(loader, node)
        except _CONSTRUCT_ERRORS as exc:
            raise _unreadable(tag, node, exc) from None
        if isinstance(result, types.GeneratorType):
            return _guarded_steps(tag, node, result)
        return result
    return run


def _guarded_steps(tag: str | None, node: yaml.Node, steps: Iterator[Any]) -> Iterator[Any]:
    try:
        yield from steps
    except _CONSTRUCT_ERRORS as exc:
        raise _unreadable(tag, node, exc) from None


for _tag, _construct in list(ManifestLoader.yaml_constructors.items()):
    ManifestLoader.add_constructor(_tag, _guarded(_tag, _construct))


def parse_document(doc: Document, max_bytes: int = MAX_DOCUMENT_BYTES, problems: list[Problem] | None = None) -> Any:
    """One document's text -> Python objects, or an InputError that says why and where.

    Problems that do not stop the document (duplicate keys) are added to `problems`."""
    if len(doc.text) > max_bytes:
        raise InputError(f"document is {len(doc.text) / 1048576:.1f} MiB, larger than the API server "
                         f"accepts; not parsed", doc.line)
    check_depth(doc.text, doc.line)
    if yaml_rs is not None and not yaml11_sensitive(doc.text):
        try:
            obj = yaml_rs.loads(doc.text, parse_datetime=False)
        except Exception:  # noqa: BLE001, S110 - libyaml below gives the canonical error message
            pass
        else:
            if "&" in doc.text and "*" in doc.text:
                check_expansion(obj, len(doc.text), doc.line)
            if not _may_have_non_text_key(doc.text):
                return obj
            return _as_kubectl_keys(obj, doc, problems)
    if len(doc.text) > NODE_COUNT_ABOVE and max_bytes <= MAX_DOCUMENT_BYTES:
        nodes = node_count(doc.text, MAX_LIBYAML_NODES)
        if nodes > MAX_LIBYAML_NODES:
            raise InputError(f"document has more than {MAX_LIBYAML_NODES:,} YAML nodes, more than a Kubernetes "
                             f"object holds; not parsed (the gate's memory bound)", doc.line)
    loader = ManifestLoader(doc.text)
    try:
        obj = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if mark is exc.problem_mark and exc.context_mark and mark.line >= doc.text.count("\n"):
            mark = exc.context_mark  # an error at the end of the text: where the open construct began
        line = chunk_start_line(doc) + min(mark.line, _last_line(doc.text)) if mark else doc.line
        raise InputError(_describe_yaml_error(exc, doc.text), line) from None
    except yaml.YAMLError as exc:
        raise InputError(f"YAML does not parse: {_redacted(str(exc), doc.text)}", doc.line) from None
    except RecursionError:
        raise InputError("document is nested too deeply to be a Kubernetes object", doc.line) from None
    finally:
        loader.dispose()
    if problems is not None:
        for line, key in loader.duplicate_keys:
            problems.append(Problem(doc.file, chunk_start_line(doc) + line, f"key {key!r} appears twice in one "
                                    f"mapping: YAML parsers keep the last value, kubectl and Argo CD refuse the "
                                    f"document (\"mapping key already defined\")", doc.source,
                                    ProblemKind.DUPLICATE_KEY))
    if "&" in doc.text and "*" in doc.text:
        check_expansion(obj, len(doc.text), doc.line)
    return _as_kubectl_keys(obj, doc, problems)


def _as_kubectl_keys(obj: Any, doc: Document, problems: list[Problem] | None) -> Any:
    try:
        merged = json_keys(obj)
    except UnsupportedKey as exc:
        raise InputError(f"mapping key {exc.spelling} at {exc.where}: kubectl refuses the document "
                         f"(\"unsupported map key\": a JSON key is text); quote the key or remove it",
                         _key_line(doc, exc)) from None
    if problems is not None:
        for key in merged:
            problems.append(Problem(doc.file, doc.line, f"key {key!r} appears twice in one mapping once "
                                    f"written as JSON (a number or boolean key and its quoted text): "
                                    f"kubectl keeps either value", doc.source, ProblemKind.DUPLICATE_KEY))
    return obj


def _key_line(doc: Document, exc: UnsupportedKey) -> int:
    """The file line of the key, else of the mapping it is in, else of the document."""
    from gate.sources.field_lines import line_of  # imported by the rare document that needs it

    spellings = ("~", "null", "Null", "NULL") if exc.key is None else ()
    for path in [(*exc.path, spelling) for spelling in spellings] + [exc.path]:
        line = line_of(doc.text, path) if path else None
        if line is not None:
            return chunk_start_line(doc) + line - 1
    return doc.line


# What yaml-rs reads a key as anything but a string from, in a document the guard lets through (no
# tags, anchors, explicit keys or flow mappings: those go to libyaml): a plain block key that starts like
# a number (`8080:`, `-1:`, `.inf:`) or is a null or a boolean (YAML 1.2's spellings, in any case here).
# Looked for first, so that the key walk below costs most documents one search.
_PLAIN_KEY_NOT_TEXT = re.compile(r"\n[ \t]*+(?:-[ \t]++)*+(?:[-+.0-9~][^\n]*?|(?i:null|true|false)[ \t]*)"
                                 r":(?=[ \t\n]|$)")


def _may_have_non_text_key(text: str) -> bool:
    return _PLAIN_KEY_NOT_TEXT.search("\n" + text) is not None


class UnsupportedKey(Exception):
    """A mapping key sigs.k8s.io/yaml cannot turn into JSON, and the path of the mapping it is in."""

    def __init__(self, key: Any, path: tuple[str | int, ...]) -> None:
        super().__init__(key)
        self.key = key
        self.path = path

    @property
    def spelling(self) -> str:
        return "a list" if isinstance(self.key, tuple) else "null" if self.key is None else repr(self.key)

    @property
    def where(self) -> str:
        text = "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in self.path).lstrip(".")
        return text or "the top level"


def json_keys(obj: Any) -> list[str]:
    """Turn the object's mapping keys, in place, into what kubectl reads them as; return the keys
    that two spellings met at in one mapping (`1:` and `"1":`; the later value is kept).

    sigs.k8s.io/yaml turns YAML into JSON before anything reads it: a key that YAML reads as a number
    or a boolean becomes its text (`1:` is "1", YAML 1.1's `on:` is "true"); any other (`~`, null, a
    list) makes kubectl refuse the document ("unsupported map key of type"): UnsupportedKey. Only
    mappings with such a key change. The walk keeps its own list of the collections it met (a
    document may be nested 512 deep, past what recursion allows) and costs about 8 us per rendered
    object, which is why the yaml-rs path searches the text first."""
    merged: list[str] = []
    met: list[tuple[Any, int, str | int | None]] = [(obj, -1, None)]  # (collection, parent's index, segment)
    at = 0
    while at < len(met):
        node = met[at][0]
        if type(node) is dict:
            for k in node:
                if type(k) is not str:
                    _rekey(node, merged, met, at)
                    break
            for k, v in node.items():
                if type(v) in _CONTAINERS:
                    met.append((v, at, k))
        elif type(node) is list:
            for i, v in enumerate(node):
                if type(v) in _CONTAINERS:
                    met.append((v, at, i))
        at += 1
    return merged


def _rekey(node: dict, merged: list[str], met: list[tuple[Any, int, str | int | None]], at: int) -> None:
    items = []
    for k, v in node.items():
        name = k if type(k) is str else _json_key(k)
        if name is None:
            path: list[str | int] = []
            while at > 0:
                _, at, segment = met[at]
                path.append(segment)  # type: ignore[arg-type]
            raise UnsupportedKey(k, tuple(reversed(path)))
        items.append((name, v))
    node.clear()
    for name, v in items:
        if name in node:
            merged.append(name)
        node[name] = v


_CONTAINERS = frozenset((dict, list))


def _json_key(key: Any) -> str | None:
    """A non-string key as sigs.k8s.io/yaml writes it (strconv), or None where it refuses the key."""
    if type(key) is bool:
        return "true" if key else "false"
    if type(key) is int:
        return str(key)
    if type(key) is float:
        return _go_float32(key)
    if type(key) is bytes:  # `!!binary`: go-yaml decodes it into the key's text
        return key.decode("utf-8", "replace")
    return None


def _go_float32(value: float) -> str:
    """strconv.FormatFloat(value, 'g', -1, 32), as sigs.k8s.io/yaml writes a float key: the fewest
    digits that read back as the same float32, in exponent form below 1e-4 and from 1e6 (shortest 'g'
    in Go), with infinities and NaN spelled as YAML spells them."""
    if math.isnan(value):
        return ".nan"
    try:
        single = struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:  # past float32's range: Go rounds it to an infinity
        single = math.copysign(math.inf, value)
    if math.isinf(single):
        return ".inf" if single > 0 else "-.inf"
    for places in range(9):  # 9 significant digits always read back as the same float32
        text = f"{single:.{places}e}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == single:
            break
    mantissa, exponent = text.split("e")
    sign, figures = ("-", mantissa[1:]) if mantissa.startswith("-") else ("", mantissa)
    figures = figures.replace(".", "").rstrip("0") or "0"
    exp = int(exponent)
    if exp < -4 or exp >= 6:
        short = figures[0] + ("." + figures[1:] if len(figures) > 1 else "")
        return f"{sign}{short}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    point = exp + 1
    if point <= 0:
        return f"{sign}0.{'0' * -point}{figures}"
    if point >= len(figures):
        return f"{sign}{figures}{'0' * (point - len(figures))}"
    return f"{sign}{figures[:point]}.{figures[point:]}"


def _last_line(text: str) -> int:
    """0-based index of the text's last line: a mark at the end of a text without a final newline
    points one line past it."""
    return max(text.count("\n") - (1 if text.endswith("\n") else 0), 0)


def check_depth(text: str, line: int) -> None:
    """Refuse text that nests deeper than MAX_DEPTH, before a recursive parser sees it."""
    depth = flow_depth(text)
    if depth > MAX_DEPTH:
        raise InputError(f"document nests {depth:,} levels of [ and {{, too deep to be a Kubernetes object; "
                         f"not parsed", line)
    if _DEEP_LINE.search("\n" + text) is None:
        return  # block depth is at most MAX_DEPTH // 2 * 2 levels, plus the flow depth above
    depth = nesting_depth(text)
    if depth > MAX_DEPTH:
        raise InputError(f"document nests more than {MAX_DEPTH:,} levels of collections, too deep to be a "
                         f"Kubernetes object; not parsed", line)


def node_count(text: str, stop: int) -> int:
    """Nodes of a document from libyaml's event stream (events are dropped as they come), up to `stop`+1."""
    count = 0
    try:
        for event in yaml.parse(text, Loader=_BaseLoader):
            if isinstance(event, yaml.NodeEvent):
                count += 1
                if count > stop:
                    break
    except yaml.YAMLError:
        pass  # the parse says what is wrong
    return count


def flow_depth(text: str) -> int:
    """Deepest nesting of flow brackets (quotes ignored: an overestimate is harmless here)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return 0
    depth = deepest = 0
    for match in _FLOW.finditer(text):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth = max(depth - 1, 0)
    return deepest


def nesting_depth(text: str) -> int:
    """Exact nesting depth (block and flow), from libyaml's event stream: its parser keeps its state
    on a heap stack, unlike the composers, so it never recurses. Stops counting past MAX_DEPTH."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_BaseLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    return depth
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return 0  # the parser will say what is wrong
    return max(min(depth, MAX_DEPTH), 0)


def _describe_yaml_error(exc: yaml.MarkedYAMLError, text: str) -> str:
    parts = [p for p in (exc.context, exc.problem) if p]
    message = "YAML does not parse: " + _redacted(", ".join(parts), text)
    if _UNQUOTED_TEMPLATE.search(text):
        message += " (this looks like an unrendered Helm template: run `helm template` first)"
    return message


# libyaml quotes what it stumbled on: a tag (`!secret`), an alias or anchor name, a character. In a
# Secret that may be a piece of its data, so quotes are dropped from messages about such documents.
_SECRET_KIND = re.compile(r"""^[ \t-]*["']?kind["']?[ \t]*:[ \t]*["']?Secret\b""", re.MULTILINE)
_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"")


def _redacted(message: str, text: str) -> str:
    if _SECRET_KIND.search(text):
        return _QUOTED.sub("(value not shown: the document holds a Secret)", message)
    return message


def check_expansion(obj: Any, size: int, line: int) -> None:
    """Refuse documents whose aliases expand past a budget: YAML 'billion laughs' bombs.

    PyYAML shares aliased objects, so parsing is cheap, but anything that walks the result or turns a
    value into text follows every alias. The expanded size (nodes, and characters of strings and
    keys) is computed once per shared object, so the check costs what the document's own nodes cost.
    A value that contains itself (`a: &a [*a]`) is refused too: nothing can walk it.
    """
    node_budget = max(MIN_NODE_BUDGET, size)
    byte_budget = max(MIN_EXPANSION_BYTES, EXPANSION_FACTOR * size)
    sizes: dict[int, tuple[int, int]] = {}  # id of a list or dict -> (nodes, characters) it expands to
    open_ids: set[int] = set()
    stack: list[tuple[Any, bool]] = [(obj, False)]
    while stack:
        node, done = stack.pop()
        if not isinstance(node, dict | list):
            continue
        key = id(node)
        if done:
            nodes, chars = 1, 0
            for child in (*node.keys(), *node.values()) if isinstance(node, dict) else node:
                if isinstance(child, dict | list):
                    n, c = sizes[id(child)]
                else:
                    n, c = 1, _scalar_chars(child)
                nodes += n
                chars += c
            open_ids.discard(key)
            sizes[key] = (nodes, chars)
            if nodes > node_budget or chars > byte_budget:
                past = f"{byte_budget / 1048576:.0f} MiB of text" if chars > byte_budget else f"{node_budget:,} nodes"
                raise InputError(f"YAML aliases expand this document to more than {past} (an alias bomb?); "
                                 f"document not used", line)
            continue
        if key in sizes:
            continue
        if key in open_ids:
            raise InputError("a YAML alias makes a value contain itself; document not used", line)
        open_ids.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in (node.values() if isinstance(node, dict) else node))


def _scalar_chars(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes) else 8
