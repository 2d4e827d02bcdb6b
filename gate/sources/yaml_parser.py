"""One YAML document's text -> Python objects, read as Kubernetes reads YAML, within bounds.

kubectl and Argo CD parse with sigs.k8s.io/yaml (go-yaml, close to YAML 1.1). libyaml (PyYAML's C
loader) is the reference here; yaml-rs (the `fast` extra) takes the documents where YAML 1.1 and 1.2
cannot differ. Depth, size and alias expansion are bounded before anything walks the result.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from gate.sources.documents import Document, InputError, Problem, ProblemKind, chunk_start_line

# etcd refuses requests over 1.5 MiB by default; 8 MiB leaves room for huge CRDs and still bounds
# what one document can cost to parse.
MAX_DOCUMENT_BYTES = 8 * 1024 * 1024
# Bounds what an alias-heavy document may expand to when walked ("billion laughs").
MIN_NODE_BUDGET = 200_000
# libyaml's composer recurses in C: tens of thousands of nested `[` crash the process. No Kubernetes
# object comes near this depth.
MAX_FLOW_DEPTH = 512
_FLOW = re.compile(r"[\[\]{}]")

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
  | = | <<
)"""
# Anywhere in the text (quoted strings and comments too, so it errs towards libyaml); slow, so
# only for documents with flow collections or the rare indicator characters.
_YAML11_ANYWHERE = re.compile(r"(?<![\w.\-])" + _YAML11_TOKEN + r"""(?![\w.\-])
    | (?:^|[\s\[{,])[&*!%][^\s] | (?:^|\s)\?\s | \{\{""", re.VERBOSE | re.MULTILINE)
# Block style has plain scalars in three places only: after `key: `, after `- `, and alone at the
# start of a line (keys, and values on their own line). Each pattern starts with a literal and
# checks the token's first character before trying the alternatives: the regex engine is fast then.
_FIRST = r"(?=[YyNnOo0-9.+=<-])"
_YAML11_BLOCK = [re.compile(prefix + _FIRST + _YAML11_TOKEN + suffix, re.VERBOSE | re.MULTILINE) for prefix, suffix in (
    (r":[ \t]+", r"(?=[ \t]*(?:$|\#))"),
    (r"-[ \t]+", r"(?=[ \t]*(?:$|\#))"),
    (r"\n[ \t]*(?:-[ \t]+)?", r"[ \t]*(?::(?:[ \t]|$)|$|\#)"),
)]
_RARE_INDICATORS = "[{&*!%?"




def yaml11_sensitive(text: str) -> bool:
    """True when YAML 1.1 and 1.2 might read some scalar of this document differently."""
    if any(char in text for char in _RARE_INDICATORS):
        return _YAML11_ANYWHERE.search(text) is not None
    text = "\n" + text
    return any(pattern.search(text) for pattern in _YAML11_BLOCK)


class ManifestLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """SafeLoader, read as Kubernetes reads YAML (sigs.k8s.io/yaml)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicate_keys: list[tuple[int, str]] = []  # (0-based line, key)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        # PyYAML keeps the last of two equal keys without a word; kubectl and Argo CD (go-yaml)
        # refuse the document ("mapping key already defined"): what a reviewer reads is not applied.
        seen: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value != "<<":
                if key_node.value in seen:
                    self.duplicate_keys.append((key_node.start_mark.line, key_node.value))
                seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


def _as_string(loader: yaml.BaseLoader, node: yaml.Node) -> str:
    return loader.construct_scalar(node)  # type: ignore[arg-type]


# A plain `=` resolves to the YAML 1.1 "value" tag that SafeLoader cannot construct; kubectl reads
# the string "=" (kube-prometheus' AlertmanagerConfig CRD has `- =`).
ManifestLoader.add_constructor("tag:yaml.org,2002:value", _as_string)
# Kubernetes keeps timestamps as strings; a datetime would also break JSON output.
ManifestLoader.add_constructor("tag:yaml.org,2002:timestamp", _as_string)




def parse_document(doc: Document, max_bytes: int = MAX_DOCUMENT_BYTES, problems: list[Problem] | None = None) -> Any:
    """One document's text -> Python objects, or an InputError that says why and where.

    Problems that do not stop the document (duplicate keys) are added to `problems`."""
    if len(doc.text) > max_bytes:
        raise InputError(f"document is {len(doc.text) / 1048576:.1f} MiB, larger than the API server "
                         f"accepts; not parsed", doc.line)
    depth = flow_depth(doc.text)
    if depth > MAX_FLOW_DEPTH:
        raise InputError(f"document nests {depth:,} levels of [ and {{, too deep to be a Kubernetes object; "
                         f"not parsed", doc.line)
    if yaml_rs is not None and not yaml11_sensitive(doc.text):
        try:
            return yaml_rs.loads(doc.text, parse_datetime=False)
        except Exception:  # noqa: BLE001, S110 - libyaml below gives the canonical error message
            pass
    loader = ManifestLoader(doc.text)
    try:
        obj = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if mark is exc.problem_mark and exc.context_mark and mark.line >= doc.text.count("\n"):
            mark = exc.context_mark  # an error at the end of the text: where the open construct began
        line = chunk_start_line(doc) + mark.line if mark else doc.line
        raise InputError(_describe_yaml_error(exc, doc.text), line) from None
    except yaml.YAMLError as exc:
        raise InputError(f"YAML does not parse: {exc}", doc.line) from None
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
        check_expansion(obj, budget=max(MIN_NODE_BUDGET, len(doc.text)), line=doc.line)
    return obj


def flow_depth(text: str) -> int:
    """Deepest nesting of flow brackets (quotes ignored: an overestimate is harmless here)."""
    if text.count("[") + text.count("{") <= MAX_FLOW_DEPTH:
        return 0
    depth = deepest = 0
    for match in _FLOW.finditer(text):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth = max(depth - 1, 0)
    return deepest


def _describe_yaml_error(exc: yaml.MarkedYAMLError, text: str) -> str:
    parts = [p for p in (exc.context, exc.problem) if p]
    message = "YAML does not parse: " + ", ".join(parts)
    if _UNQUOTED_TEMPLATE.search(text):
        message += " (this looks like an unrendered Helm template: run `helm template` first)"
    return message


def check_expansion(obj: Any, budget: int, line: int) -> None:
    """Refuse documents whose aliases expand past `budget` nodes: YAML 'billion laughs' bombs.

    PyYAML shares aliased objects, so parsing is cheap, but anything that walks the result would
    follow every alias; bound that once here.
    """
    stack = [obj]
    seen = 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > budget:
            raise InputError(f"YAML aliases expand to more than {budget:,} nodes (an alias bomb?); "
                             f"document not used", line)
        if isinstance(node, dict):
            stack.extend(node.values())
            stack.extend(node.keys())
        elif isinstance(node, list):
            stack.extend(node)

