"""Paths and stdin -> documents (text, file, first line, Helm source) -> Resources.

The only module that reads files. A stream is split into documents once, by their `---` / `...`
markers, and each document is parsed on its own: one broken document becomes a `manifest-invalid`
finding and never hides the others, and each resource knows the line its document starts on.
"""

from __future__ import annotations

import gc
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from gate.model import Resource, Skipped

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024
# etcd refuses requests over 1.5 MiB by default; 8 MiB leaves room for huge CRDs and still bounds
# what one document can cost to parse.
MAX_DOCUMENT_BYTES = 8 * 1024 * 1024
# Bounds what an alias-heavy document may expand to when walked ("billion laughs").
MIN_NODE_BUDGET = 200_000
# libyaml's composer recurses in C: tens of thousands of nested `[` crash the process. No Kubernetes
# object comes near this depth.
MAX_FLOW_DEPTH = 512
_FLOW = re.compile(r"[\[\]{}]")

_MARKER = re.compile(r"^(?:---|\.\.\.)(?=[ \t\r\n]|$)", re.MULTILINE)
_HELM_SOURCE = re.compile(r"^#\s*Source:\s*(\S.*?)\s*$", re.MULTILINE)
_CONTENT_LINE = re.compile(r"^[ \t]*[^\s#]", re.MULTILINE)
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
# nor anchors, aliases, tags, directives, explicit keys or Helm `{{`. tests/test_load_fast.py checks
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


@dataclass(slots=True)
class Document:
    text: str
    file: str
    line: int  # 1-based line of the document's first content line
    source: str | None
    start: int = 0  # 1-based line of the text's first line (0: the same as `line`)


class Problem(NamedTuple):
    """Something wrong with the input itself, reported as `check` (`manifest-invalid` when a document
    or file could not become resources)."""

    file: str
    line: int
    message: str
    source: str | None = None
    check: str = "manifest-invalid"


@dataclass
class LoadResult:
    resources: list[Resource] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # path-level problems: exit code 2
    files: int = 0
    documents: int = 0


class InputError(Exception):
    """A document that cannot become resources; carries the line it applies to."""

    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.line = line


def invalid(file: str, line: int, message: str, source: str | None = None) -> Problem:
    return Problem(file, line, message, source)


def iter_manifest_files(path: Path) -> Iterator[Path]:
    """Files under a folder, recursively, in a stable order; hidden folders (.git) skipped."""
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.endswith(MANIFEST_SUFFIXES):
                yield Path(root, name)


def display_path(path: Path) -> str:
    """Paths relative to the working directory when below it, as editors and CI annotations want."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection inside: parsing and indexing allocate millions of acyclic
    objects, and collection passes over them cost a quarter of a big render's time, freeing nothing."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def load_paths(paths: Iterable[str], *, origin: str = "render", stdin: Any = None,
               max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> LoadResult:
    with paused_gc():
        return _load_paths(paths, origin=origin, stdin=stdin, max_file_bytes=max_file_bytes)


def _load_paths(paths: Iterable[str], *, origin: str, stdin: Any, max_file_bytes: int) -> LoadResult:
    result = LoadResult()
    for raw in paths:
        if raw == "-":
            stream = stdin if stdin is not None else sys.stdin.buffer
            data = stream.read(max_file_bytes + 1)
            load_bytes(data, "<stdin>", result, origin=origin, max_file_bytes=max_file_bytes)
            continue
        path = Path(raw)
        if path.is_dir():
            for file in iter_manifest_files(path):
                load_file(file, result, origin=origin, max_file_bytes=max_file_bytes)
        elif path.is_file():
            load_file(path, result, origin=origin, max_file_bytes=max_file_bytes)
        elif path.exists():
            result.errors.append(f"{raw}: not a regular file or folder")
        else:
            result.errors.append(f"{raw}: no such file or folder")
    return result


def load_file(path: Path, result: LoadResult, *, origin: str, max_file_bytes: int) -> None:
    name = display_path(path)
    try:
        size = path.stat().st_size
        if size > max_file_bytes:
            result.files += 1
            result.problems.append(invalid(name, 1, f"file is {size / 1048576:.1f} MiB, over the "
                                                    f"{max_file_bytes / 1048576:.0f} MiB limit; not read"))
            return
        with path.open("rb") as handle:
            data = handle.read(max_file_bytes + 1)
    except OSError as exc:
        result.errors.append(f"{name}: cannot read: {exc.strerror or exc}")
        return
    load_bytes(data, name, result, origin=origin, max_file_bytes=max_file_bytes,
               json_first=path.suffix == ".json")


def load_bytes(data: bytes, name: str, result: LoadResult, *, origin: str = "render",
               max_file_bytes: int = DEFAULT_MAX_FILE_BYTES, json_first: bool = False) -> None:
    result.files += 1
    if len(data) > max_file_bytes:
        result.problems.append(invalid(name, 1, f"input is over the {max_file_bytes / 1048576:.0f} MiB "
                                                f"limit; not read"))
        return
    try:
        text = decode(data)
    except InputError as exc:
        result.problems.append(invalid(name, exc.line, str(exc)))
        return
    if json_first or text.lstrip()[:1] in ("{", "["):
        try:
            obj = json.loads(text)
        except RecursionError:
            result.problems.append(invalid(name, 1, "JSON is nested too deeply"))
            return
        except ValueError as exc:
            if json_first:
                line = getattr(exc, "lineno", 1)
                result.problems.append(invalid(name, line, f"JSON does not parse: {getattr(exc, 'msg', exc)}"))
                return
        else:
            result.documents += 1
            add_object(obj, Document(text="", file=name, line=1, source=None), result, origin)
            return
    for doc in split_documents(text, name):
        result.documents += 1
        try:
            # A cluster-state snapshot is one `kind: List` document as big as the cluster: only the
            # file limit applies to it. A rendered object above etcd's size is not an object.
            obj = parse_document(doc, max_bytes=max_file_bytes if origin == "cluster" else MAX_DOCUMENT_BYTES,
                                 problems=result.problems)
        except InputError as exc:
            result.problems.append(invalid(doc.file, exc.line, str(exc), doc.source))
            continue
        add_object(obj, doc, result, origin)


def decode(data: bytes) -> str:
    """UTF-8 text (a BOM is dropped); binary data and other encodings are errors with a line."""
    if b"\x00" in data[:8192]:
        raise InputError("binary data, not a YAML or JSON manifest", 1)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                         f"Kubernetes manifests must be UTF-8", line) from None


def split_documents(text: str, name: str) -> Iterator[Document]:
    """Cut a YAML stream at its document markers; each piece keeps its first line and Helm source."""
    cuts = [0]
    for match in _MARKER.finditer(text):
        if match.group() == "---":
            cuts.append(match.start())
        else:  # `...` ends a document: the next one starts on the following line
            end = text.find("\n", match.end())
            cuts.append(len(text) if end < 0 else end + 1)
    cuts.append(len(text))
    pending = ""  # directives (`%YAML 1.1`) belong to the document after them
    pending_line = 0
    line = 0  # 0-based line of `cuts[i]`, counted incrementally (a count from 0 each time is quadratic)
    for start, end in zip(cuts, cuts[1:]):
        chunk = text[start:end]
        chunk_line, line = line, line + chunk.count("\n")
        first = _CONTENT_LINE.search(chunk)
        if first is None:
            continue  # only blanks and comments
        if chunk[first.end() - 1] == "%":
            pending, pending_line = pending + chunk, pending_line if pending else chunk_line
            continue
        base = pending_line if pending else chunk_line
        chunk = pending + chunk
        pending, pending_line = "", 0
        yield Document(text=chunk, file=name, line=base + 1 + _first_content_offset(chunk),
                       source=_helm_source(chunk), start=base + 1)


def _first_content_offset(chunk: str) -> int:
    """Lines from the chunk start to the first line with content after a bare `---` marker."""
    for offset, line in enumerate(chunk.split("\n", 64)):
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and stripped != "---" and not stripped.startswith("%"):
            return offset
    return 0


def _helm_source(chunk: str) -> str | None:
    head = chunk[:2048]
    match = _HELM_SOURCE.search(head)
    return match.group(1) if match else None


def _chunk_start_line(doc: Document) -> int:
    return doc.start or doc.line - _first_content_offset(doc.text)


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
        line = _chunk_start_line(doc) + mark.line if mark else doc.line
        raise InputError(_describe_yaml_error(exc, doc.text), line) from None
    except yaml.YAMLError as exc:
        raise InputError(f"YAML does not parse: {exc}", doc.line) from None
    except RecursionError:
        raise InputError("document is nested too deeply to be a Kubernetes object", doc.line) from None
    finally:
        loader.dispose()
    if problems is not None:
        for line, key in loader.duplicate_keys:
            problems.append(Problem(doc.file, _chunk_start_line(doc) + line, f"key {key!r} appears twice in one "
                                    f"mapping: YAML parsers keep the last value, kubectl and Argo CD refuse the "
                                    f"document (\"mapping key already defined\")", doc.source,
                                    "manifest-duplicate-key"))
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


def add_object(obj: Any, doc: Document, result: LoadResult, origin: str, whole_document: bool = True) -> None:
    if obj is None:
        return  # an empty document
    if not isinstance(obj, dict):
        what = "a list" if isinstance(obj, list) else f"a {type(obj).__name__} scalar"
        result.problems.append(invalid(doc.file, doc.line, f"document is {what}, not a Kubernetes object",
                                       doc.source))
        return
    kind = obj.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(obj.get("items"), list):
        for item in obj["items"]:
            add_object(item, doc, result, origin, whole_document=False)
        return
    api_version, meta = obj.get("apiVersion"), obj.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if not (isinstance(api_version, str) and api_version and isinstance(kind, str) and kind):
        result.skipped.append(Skipped(doc.file, doc.line, "no apiVersion/kind: not a Kubernetes object"))
        return
    if not isinstance(name, str) or not name:
        reason = "metadata.generateName only" if isinstance(meta, dict) and meta.get("generateName") \
            else "no metadata.name"
        result.skipped.append(Skipped(doc.file, doc.line, f"{kind}: {reason}"))
        return
    namespace = meta.get("namespace")
    result.resources.append(Resource(
        api_version=api_version, kind=kind, name=name,
        namespace=namespace if isinstance(namespace, str) else "",
        body=obj, file=doc.file, line=doc.line, source=doc.source, origin=origin,
        text=doc.text if whole_document and doc.text else None, text_line=_chunk_start_line(doc),
    ))
