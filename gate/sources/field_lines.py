"""The line of a field inside a document, e.g. `spec.listeners[3].tls.certificateRefs[0]`.

Parsers that build plain dicts (libyaml's constructor, yaml-rs) forget where things were, so a
finding would only know where its document starts. This walks the document's text instead, the way
the block style of rendered manifests lays it out: a key sits at its mapping's indentation, an item
of a sequence starts with `- ` at the sequence's. Anything else (flow style, JSON, anchors) gives
None and the finding keeps its document's line: a wrong line is worse than a coarse one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from functools import lru_cache

from gate.model import Resource

_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@lru_cache(maxsize=1024)
def path_segments(path: str) -> tuple[str | int, ...]:
    """`spec.rules[0].backendRefs[0]` -> ("spec", "rules", 0, "backendRefs", 0). Cached: a render's
    findings name a few paths thousands of times."""
    return tuple(int(index) if index else key for key, index in _SEGMENT.findall(path))


def _entries(text: str, first_line: int = 0) -> Iterator[tuple[int, int, str]]:
    """(line, column, content) for each line with content, lazily, with `- ` item markers split off
    (content "-") so that an item's first key sits at the same column as the item's other keys."""
    started = False
    for number, raw in enumerate(text.split("\n"), first_line):
        stripped = raw.lstrip(" ")
        if not stripped or stripped[0] == "#":
            continue
        if not started and stripped.startswith(("---", "...", "%")):
            continue
        started = True
        column = len(raw) - len(stripped)
        while stripped == "-" or stripped.startswith("- "):
            yield number, column, "-"
            rest = stripped[1:].lstrip(" ")
            column += len(stripped) - len(rest)
            stripped = rest
        if stripped and stripped[0] != "#":
            yield number, column, stripped


def _value_after(content: str, key: str) -> str | None:
    """What follows `key:` on its line ("" when the value is below), or None for another key."""
    for spelling in (key, f'"{key}"', f"'{key}'"):
        if content.startswith(spelling):
            rest = content[len(spelling):].lstrip(" ")
            if rest == ":" or rest.startswith((": ", ":\t")):
                value = rest[1:].strip(" \t")
                return "" if value.startswith("#") else value
    return None


def field_line(resource: Resource, path: str | Sequence[str | int]) -> int | None:
    """The file line of a field of a resource, when its document's text shows it."""
    if resource.text is None:
        return None
    line = line_of(resource.text, path)
    return None if line is None else resource.text_line + line - 1


# Documents whose root mapping starts at column 0 (nearly all): comments and markers, then a key.
_ROOT_AT_ZERO = re.compile(r"(?:[ \t]*(?:#[^\n]*|---[^\n]*|%[^\n]*)?\n)*[^ \t\n#-]")


@lru_cache(maxsize=256)
def _top_level_key(key: str) -> re.Pattern[str]:
    quoted = "|".join(re.escape(k) for k in (key, f'"{key}"', f"'{key}'"))
    return re.compile(rf"^(?:{quoted})[ \t]*:(?:[ \t]|$)", re.MULTILINE)


def line_of(text: str, path: str | Sequence[str | int]) -> int | None:
    """1-based line (within `text`) of the field at `path`, or None when it cannot be told.

    `path` is `spec.listeners[3].tls` or, for keys with dots (annotations), a sequence of segments.
    """
    segments = path_segments(path) if isinstance(path, str) else tuple(path)
    if not segments:
        return None
    first_line = 0
    if isinstance(segments[0], str) and _ROOT_AT_ZERO.match(text):
        # Jump to a top-level key instead of walking the lines before it (metadata is often half of a
        # document); keys of a root mapping start at column 0.
        start = _top_level(text, segments[0])
        if start is None:
            return None
        first_line = text.count("\n", 0, start)
        text = text[start:]
    return _walk(text, first_line, segments)


def _top_level(text: str, key: str) -> int | None:
    """Where the first line that starts with `key:` (or the key quoted) begins. Lines are found with
    str.find and only they are tried with the pattern: a search for `^` in multi-line mode tries every
    position of the text."""
    pattern = _top_level_key(key)
    first: int | None = None
    for spelling in (key, f'"{key}"', f"'{key}'"):
        at = 0 if text.startswith(spelling) else text.find("\n" + spelling) + 1
        if at == 0 and not text.startswith(spelling):
            continue
        while first is None or at < first:
            if pattern.match(text, at):
                first = at
                break
            after = text.find("\n" + spelling, at)
            if after < 0:
                break
            at = after + 1
    return first


def _walk(text: str, first_line: int, segments: Sequence[str | int]) -> int | None:
    """The walk of `_walk_entries` in one loop over the lines, entries made inline: the same
    answers (tests/sources/test_field_lines.py compares them on the corpus), without a generator
    step per line. It runs once per finding: 22,000 findings of one render make it count."""
    started = False
    column = -1  # the column searched; -1 until the first entry sets it
    key_column = -1  # >= 0 right after a key or item is found: the next entry opens its value
    depth, count = 0, -1
    segment, last = segments[0], len(segments) == 1
    for number, raw in enumerate(text.split("\n"), first_line):
        stripped = raw.lstrip(" ")
        if not stripped or stripped[0] == "#":
            continue
        if not started:
            if stripped.startswith(("---", "...", "%")):
                continue
            started = True
        col = len(raw) - len(stripped)
        while True:  # the entries of this line: item markers, then its content
            if stripped == "-" or stripped.startswith("- "):
                content = "-"
                rest: str | None = stripped[1:].lstrip(" ")
                next_col = col + len(stripped) - len(rest)
            elif stripped and stripped[0] != "#":
                content, rest, next_col = stripped, None, col
            else:
                break
            if column < 0:
                column = col
            if key_column >= 0:
                if col < key_column or (col == key_column and content != "-"):
                    return None  # nothing below this key
                column, key_column, count = col, -1, -1
            if col < column:
                return None
            if col == column:
                found = False
                if isinstance(segment, str):
                    value = None if content == "-" else _value_after(content, segment)
                    found = value is not None
                else:
                    if content != "-":
                        return None
                    count += 1
                    found = count == segment
                if found:
                    if last:
                        return number + 1
                    if isinstance(segment, str) and value:
                        return None  # the path goes below a value written on the key's own line
                    key_column = column
                    depth += 1
                    segment, last = segments[depth], depth == len(segments) - 1
            if rest is None:
                break
            col, stripped = next_col, rest
    return None


def _walk_entries(text: str, first_line: int, segments: Sequence[str | int]) -> int | None:
    """The walk over `_entries`, the reference `_walk` is held to."""
    entries = _entries(text, first_line)
    entry = next(entries, None)
    if entry is None:
        return None
    column = entry[1]
    # One pass down the text: each segment is looked for among the lines at `column`, deeper
    # lines are skipped, and a line further left (or a sibling that ends a sequence) ends the block.
    for depth, segment in enumerate(segments):
        last = depth == len(segments) - 1
        count = -1
        while True:
            if entry is None or entry[1] < column:
                return None
            if entry[1] == column:
                if isinstance(segment, str):
                    # an item marker at a key's column belongs to the value of an earlier key
                    # (`key:` then `- item` at the same indentation)
                    value = None if entry[2] == "-" else _value_after(entry[2], segment)
                    if value is not None:
                        break
                else:
                    if entry[2] != "-":
                        return None
                    count += 1
                    if count == segment:
                        break
            entry = next(entries, None)
        if last:
            return entry[0] + 1
        if isinstance(segment, str) and value:
            return None  # the path goes below a value written on the key's own line
        key_column, entry = column, next(entries, None)
        if entry is None or entry[1] < key_column or (entry[1] == key_column and entry[2] != "-"):
            return None  # nothing below this key
        column = entry[1]
    return None
