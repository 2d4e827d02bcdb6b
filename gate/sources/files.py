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
import stat
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gate.config import DEFAULT_MAX_FILE_BYTES
from gate.sources.budget import LoadBudget
from gate.sources.documents import Document, InputError, LoadResult, add_object, first_content_offset, invalid
from gate.sources.parsing import parse_documents
from gate.sources.yaml_parser import MAX_DOCUMENT_BYTES, check_depth, parse_document

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")

_MARKER = re.compile(r"^(?:---|\.\.\.)(?=[ \t\r\n]|$)", re.MULTILINE)
_HELM_SOURCE = re.compile(r"^#\s*Source:\s*(\S.*?)\s*$", re.MULTILINE)
_CONTENT_LINE = re.compile(r"^[ \t]*[^\s#]", re.MULTILINE)


def iter_manifest_files(path: Path, errors: list[str] | None = None) -> Iterator[Path]:
    """Files under a folder, recursively, in a stable order; hidden folders (.git) skipped.

    A subfolder that cannot be listed is added to `errors` (when given): a silent skip would let the
    gate pass on objects it never saw."""
    def unreadable(exc: OSError) -> None:
        if errors is not None:
            where = display_path(Path(exc.filename)) if exc.filename else display_path(path)
            errors.append(f"{where}: cannot read: {exc.strerror or exc}")

    for root, dirs, files in os.walk(path, onerror=unreadable):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.endswith(MANIFEST_SUFFIXES):
                yield Path(root, name)


def display_path(path: Path) -> str:
    """Paths relative to the working directory when below it, as editors and CI annotations want."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop
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
               max_file_bytes: int = DEFAULT_MAX_FILE_BYTES, budget: LoadBudget | None = None) -> LoadResult:
    with paused_gc():
        return _load_paths(paths, origin=origin, stdin=stdin, max_file_bytes=max_file_bytes,
                           budget=budget or LoadBudget())


def _load_paths(paths: Iterable[str], *, origin: str, stdin: Any, max_file_bytes: int,
                budget: LoadBudget) -> LoadResult:
    result = LoadResult()
    result.budget = budget
    for raw in paths:
        if raw == "-":
            data = _read_stdin(stdin, max_file_bytes, result)
            if data is not None:
                load_bytes(data, "<stdin>", result, origin=origin, max_file_bytes=max_file_bytes)
            continue
        path = Path(raw)
        try:
            is_dir, is_file, exists = path.is_dir(), path.is_file(), path.exists()
        except OSError as exc:  # a symlink loop, a name too long
            result.errors.append(f"{raw}: cannot read: {exc.strerror or exc}")
            continue
        if is_dir:
            for file in iter_manifest_files(path, result.errors):
                load_file(file, result, origin=origin, max_file_bytes=max_file_bytes)
        elif is_file:
            load_file(path, result, origin=origin, max_file_bytes=max_file_bytes)
        elif exists:
            result.errors.append(f"{raw}: not a regular file or folder")
        elif path.is_symlink():
            result.errors.append(f"{raw}: cannot read: a symbolic link to nothing, or to itself")
        else:
            result.errors.append(f"{raw}: no such file or folder")
    return result


_CHUNK = 1024 * 1024


def _read_stdin(stdin: Any, max_file_bytes: int, result: LoadResult) -> bytes | None:
    """Up to max_file_bytes + 1 bytes of stdin, in chunks (a read of the whole limit would allocate it
    up front); None, with an error, when there is no stdin (`gate check - <&-`) or it fails."""
    stream = stdin
    if stream is None:
        stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        result.errors.append("<stdin>: cannot read: standard input is closed")
        return None
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= max_file_bytes:
            chunk = stream.read(min(_CHUNK, max_file_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except (OSError, ValueError) as exc:  # ValueError: a closed file object
        result.errors.append(f"<stdin>: cannot read: {getattr(exc, 'strerror', None) or exc}")
        return None
    return b"".join(chunks)


def load_file(path: Path, result: LoadResult, *, origin: str, max_file_bytes: int) -> None:
    name = display_path(path)
    try:
        # O_NONBLOCK: a FIFO (or a device) named *.yaml must not block the gate; only regular files
        # are read, and the check is on the opened file, so nothing can swap it in between.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        result.errors.append(f"{name}: cannot read: {exc.strerror or exc}")
        return
    with os.fdopen(fd, "rb", buffering=0) as handle:
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                result.errors.append(f"{name}: cannot read: not a regular file (a FIFO, socket or device)")
                return
            if info.st_size > max_file_bytes:
                result.files += 1
                result.problems.append(invalid(name, 1, f"file is {info.st_size / 1048576:.1f} MiB, over the "
                                                        f"{max_file_bytes / 1048576:.0f} MiB limit; not read"))
                return
            data = [_read_regular(handle, info.st_size, max_file_bytes)]
        except OSError as exc:
            result.errors.append(f"{name}: cannot read: {exc.strerror or exc}")
            return
    # handed over, not kept: load_bytes drops the bytes once decoded, and nothing here holds them
    load_bytes(data.pop(), name, result, origin=origin, max_file_bytes=max_file_bytes,
               json_first=path.suffix == ".json")


def _read_regular(handle: Any, size: int, max_file_bytes: int) -> bytes:
    """The file's bytes, up to one past the limit (a file may grow after its stat); the first read
    is sized by the stat, not by the limit, which may be far larger than memory."""
    chunks = [handle.read(size + 1)]
    total = len(chunks[0])
    while total <= max_file_bytes and len(chunks[-1]) > 0 and total > size:
        chunks.append(handle.read(min(_CHUNK, max_file_bytes + 1 - total)))
        total += len(chunks[-1])
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


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
    del data  # only the text from here on: a big file is not held twice
    budget = result.budget if result.budget is not None else LoadBudget()
    if json_first or text.lstrip()[:1] in ("{", "["):
        try:
            check_depth(text, 1)
            obj = json.loads(text)
        except RecursionError:
            result.problems.append(invalid(name, 1, "JSON is nested too deeply"))
            return
        except InputError as exc:
            result.problems.append(invalid(name, exc.line, str(exc)))
            return
        except ValueError as exc:
            if json_first:
                line = getattr(exc, "lineno", 1)
                result.problems.append(invalid(name, line, f"JSON does not parse: {getattr(exc, 'msg', exc)}"))
                return
        else:
            result.documents += 1
            stop = budget.spend(len(text))
            if stop:
                result.problems.append(invalid(name, 1, stop))
                return
            add_object(obj, Document(text="", file=name, line=1, source=None), result, origin)
            return
    # A cluster-state snapshot is one `kind: List` document as big as the cluster: only the file limit
    # applies to it. A rendered object above etcd's size is not an object.
    max_bytes = max_file_bytes if origin == "cluster" else MAX_DOCUMENT_BYTES
    if len(text) >= MANY_DOCUMENTS_TEXT:
        docs, refused = _documents(text, name, budget)
        del text  # the documents hold their own text: a big file is not held twice while they are parsed
        _load_parsed(docs, refused, result, origin, max_bytes, budget)
        return
    for doc in split_documents(text, name):
        stop = budget.spend(len(doc.text))
        if stop:
            result.problems.append(invalid(doc.file, doc.line, stop, doc.source))
            return
        result.documents += 1
        try:
            obj = parse_document(doc, max_bytes=max_bytes, problems=result.problems)
        except InputError as exc:
            result.problems.append(invalid(doc.file, exc.line, str(exc), doc.source))
            continue
        add_object(obj, doc, result, origin)


# A stream at least this long is parsed by gate.sources.parsing: split between processes, strings shared.
MANY_DOCUMENTS_TEXT = 1024 * 1024


def _documents(text: str, name: str, budget: LoadBudget) -> tuple[list[Document], tuple[Document, str] | None]:
    """The stream's documents the budget lets be read, and the first it refused with why."""
    docs: list[Document] = []
    for doc in split_documents(text, name):
        stop = budget.spend(len(doc.text))
        if stop:
            return docs, (doc, stop)
        docs.append(doc)
    return docs, None


def _load_parsed(docs: list[Document], refused: tuple[Document, str] | None, result: LoadResult, origin: str,
                 max_bytes: int, budget: LoadBudget) -> None:
    parsed, memory_stop = parse_documents(docs, max_bytes, budget)
    for doc, (obj, error, problems) in zip(docs, parsed):
        result.documents += 1
        result.problems.extend(problems)
        if error is not None:
            result.problems.append(invalid(doc.file, error[0], error[1], doc.source))
        else:
            add_object(obj, doc, result, origin)
    if memory_stop is not None:
        budget.exhausted = memory_stop
        refused = docs[len(parsed)], memory_stop
    if refused is not None:
        doc, why = refused
        result.problems.append(invalid(doc.file, doc.line, why, doc.source))


def decode(data: bytes) -> str:
    """UTF-8 text (a BOM is dropped, line breaks become `\n`); binary data and other encodings are
    errors with a line.

    YAML reads CRLF and a lone CR as line breaks, and folds them to `\n` inside scalars (JSON allows
    them only as whitespace), so normalising changes no value and keeps every line number, while the
    line finder and the document splitter only need to know `\n`."""
    if b"\x00" in data[:8192]:
        raise InputError("binary data, not a YAML or JSON manifest", 1)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                         f"Kubernetes manifests must be UTF-8", line) from None
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def split_documents(text: str, name: str) -> Iterator[Document]:
    """Cut a YAML stream at its document markers; each piece keeps its first line and Helm source.

    Lazily: a stream of a million tiny documents never holds a list of its cut points."""
    pending = ""  # directives (`%YAML 1.1`) belong to the document after them
    pending_line = 0
    line = 0  # 0-based line of `start`, counted incrementally (a count from 0 each time is quadratic)
    start = 0
    for end in _cut_points(text):
        chunk = text[start:end]
        chunk_line, line, start = line, line + chunk.count("\n"), end
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


def _cut_points(text: str) -> Iterator[int]:
    """Where each document ends: at a `---` line, or after a `...` line."""
    if text.startswith("...") or "\n..." in text:
        yield from _cut_points_matched(text)  # rare: the pattern knows both markers
        return
    # `---` at a line start, then a blank, a line break or the end. str.find skips to each candidate
    # at C speed; the pattern's `^` is tried at every character of the text (a tenth of a second on
    # the incident's 23 MB render, before any document is parsed).
    end = len(text)
    if text.startswith("---") and (end == 3 or text[3] in _BLANKS):
        yield 0
    at = text.find("\n---")
    while at >= 0:
        after = at + 4
        if after == end or text[after] in _BLANKS:
            yield at + 1
        at = text.find("\n---", after)
    yield end


_BLANKS = " \t\r\n"


def _cut_points_matched(text: str) -> Iterator[int]:
    for match in _MARKER.finditer(text):
        if match.group() == "---":
            yield match.start()
        else:  # `...` ends a document: the next one starts on the following line
            end = text.find("\n", match.end())
            yield len(text) if end < 0 else end + 1
    yield len(text)



def _helm_source(chunk: str) -> str | None:
    head = chunk[:2048]
    match = _HELM_SOURCE.search(head) if "Source:" in head else None  # the regex needs that literal
    return match.group(1) if match else None

