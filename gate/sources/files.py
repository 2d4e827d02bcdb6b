"""Paths and stdin -> documents (text, file, first line, Helm source) -> Resources.

The only module that reads files. A stream is split into documents once, by their `---` / `...`
markers, and each document is parsed on its own: one broken document becomes a problem and never
hides the others, and each resource knows the line its document starts on.
"""

from __future__ import annotations

import gc
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gate.config import DEFAULT_MAX_FILE_BYTES
from gate.sources.documents import Document, InputError, LoadResult, add_object, first_content_offset, invalid
from gate.sources.yaml_parser import MAX_DOCUMENT_BYTES, parse_document

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")

_MARKER = re.compile(r"^(?:---|\.\.\.)(?=[ \t\r\n]|$)", re.MULTILINE)
_HELM_SOURCE = re.compile(r"^#\s*Source:\s*(\S.*?)\s*$", re.MULTILINE)
_CONTENT_LINE = re.compile(r"^[ \t]*[^\s#]", re.MULTILINE)


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
        yield Document(text=chunk, file=name, line=base + 1 + first_content_offset(chunk),
                       source=_helm_source(chunk), start=base + 1)



def _helm_source(chunk: str) -> str | None:
    head = chunk[:2048]
    match = _HELM_SOURCE.search(head)
    return match.group(1) if match else None

