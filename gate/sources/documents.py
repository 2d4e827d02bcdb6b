"""The values the input side hands on: documents, the resources made of them, and what was wrong.

A problem is a typed value (`ProblemKind`), not a check id: the checks decide how to report it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, NamedTuple

from gate.model import Resource, Skipped


class ProblemKind(StrEnum):
    INVALID = "invalid"  # the document or file could not become resources
    DUPLICATE_KEY = "duplicate-key"  # a mapping has the same key twice (kubectl refuses the document)


@dataclass(slots=True)
class Document:
    text: str
    file: str
    line: int  # 1-based line of the document's first content line
    source: str | None
    start: int = 0  # 1-based line of the text's first line (0: the same as `line`)


class Problem(NamedTuple):
    """Something wrong with the input itself, at a place in it."""

    file: str
    line: int
    message: str
    source: str | None = None
    kind: ProblemKind = ProblemKind.INVALID


@dataclass
class LoadResult:
    resources: list[Resource] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # path-level problems: exit code 2
    files: int = 0
    documents: int = 0
    budget: Any = field(default=None, repr=False)  # the run's gate.sources.budget.LoadBudget


class InputError(Exception):
    """A document that cannot become resources; carries the line it applies to."""

    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.line = line


def invalid(file: str, line: int, message: str, source: str | None = None) -> Problem:
    return Problem(file, line, message, source)


def first_content_offset(chunk: str) -> int:
    """Lines from the chunk start to the first line with content after a bare `---` marker."""
    # Nearly every rendered document is `---` then a key: answered without splitting the lines.
    if chunk[:1].isalpha():
        return 0
    if chunk.startswith("---\n") and chunk[4:5].isalpha():
        return 1
    for offset, line in enumerate(chunk.split("\n", 64)):
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and stripped != "---" and not stripped.startswith("%"):
            return offset
    return 0



def chunk_start_line(doc: Document) -> int:
    return doc.start or doc.line - first_content_offset(doc.text)



_TOP_ITEM = re.compile(r"^- ", re.MULTILINE)


def item_lines(doc: Document, count: int) -> list[int] | None:
    """The file line of each item of a `kind: List` as `kubectl get -o yaml` writes it (`items:` then
    `- ` at the start of a line per item); None when the text does not have exactly that shape."""
    if not doc.text or doc.text.lstrip()[:1] in ("{", "["):
        return None
    lines, line, previous = [], chunk_start_line(doc), 0
    for match in _TOP_ITEM.finditer(doc.text):
        line += doc.text.count("\n", previous, match.start())
        previous = match.start()
        lines.append(line)
    return lines if len(lines) == count else None


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
        items = obj["items"]
        # A snapshot's List holds the whole cluster: each item gets its own line, so a finding about
        # one of thousands of objects says where it is (a render's List keeps the List's line).
        lines = item_lines(doc, len(items)) if origin == "cluster" else None
        for position, item in enumerate(items):
            add_object(item, replace(doc, line=lines[position]) if lines else doc, result, origin,
                       whole_document=False)
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
        text=doc.text if whole_document and doc.text else None, text_line=chunk_start_line(doc),
    ))
