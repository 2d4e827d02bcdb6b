"""A stream's documents parsed at once: split between processes when it is large, strings shared.

At the incident's scale parsing is a second of CPU, and the parsed objects are most of the run's
memory: yaml-rs makes a new str for every key and value, about 90 per solver route, and nearly all of
them repeat (`apiVersion`, `metadata`, `gateway.networking.k8s.io`, `cm-acme-http-solver-`). Each
share keeps one copy of each short string it meets; pickle then sends that copy once, and what the
parent unpickles shares it too. At 50,000 solver routes the parsed objects take half the memory, and
the strings' sharing costs less than the parse time the second CPU saves.

The results are those of parsing the documents one after the other in this process (tests/sources:
the same objects, problems and errors), except where the memory budget stops a share: each share has
its part of what is left, and reading stops at the first document, in stream order, a share did not
read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from gate import parallel
from gate.sources.budget import LoadBudget
from gate.sources.documents import Document, InputError, Problem
from gate.sources.yaml_parser import parse_document

# Below this many documents one process is faster: a fork, a pipe and pickling cost milliseconds.
MIN_PARALLEL = 1_000
# Documents are taken in runs of this many, each by whichever process is ready first (gate.parallel).
CHUNK = 64
# Strings up to this long are shared: keys, kinds, names, labels. Longer ones are mostly unique
# (a certificate, a script) and would only fill the memo.
SHARED_MAX = 64
# The memo is emptied at this many strings (about 6 MB): most short strings of a large render are met
# once (a route's token), and the ones that repeat are learnt again within a few documents.
MEMO_MAX = 65_536


class Parsed(NamedTuple):
    obj: Any  # None for an empty document or when `error` is set
    error: tuple[int, str] | None  # (line, message) of the InputError that stopped the document
    problems: list[Problem]  # the ones that do not stop it (duplicate keys)


def parse_documents(docs: list[Document], max_bytes: int, budget: LoadBudget) -> tuple[list[Parsed], str | None]:
    """Each document's Parsed, in order, up to the first the budget did not let be read, and then why."""
    shares = parallel.shares_for(len(docs), MIN_PARALLEL)
    memory = budget.memory_left() // shares
    part = "left" if shares == 1 else f"left to each of {shares} parsers"
    of = f"{part} of the {budget.memory / 1048576:,.0f} MiB the gate allows itself"
    # Few documents take little memory, and a chart's few large CRDs would pay for walking their schemas.
    sharing = len(docs) >= MIN_PARALLEL

    def share(runs: Iterator[range]) -> tuple[list[tuple[int, Parsed]], tuple[int, str] | None]:
        mine = LoadBudget(documents=len(docs), memory=memory, of=of)  # the documents are counted already
        memo: dict[str, str] = {}
        found: list[tuple[int, Parsed]] = []
        for indices in runs:
            for index in indices:
                doc = docs[index]
                stop = mine.spend(len(doc.text))
                if stop:
                    return found, (index, stop)
                problems: list[Problem] = []
                try:
                    obj = parse_document(doc, max_bytes, problems)
                except InputError as exc:
                    found.append((index, Parsed(None, (exc.line, str(exc)), problems)))
                    continue
                if len(memo) > MEMO_MAX:
                    memo.clear()
                # An alias makes one object appear at several places; rebuilt, it would be copied.
                found.append((index, Parsed(shared(obj, memo) if sharing and "&" not in doc.text else obj, None,
                                            problems)))
        return found, None

    slots: list[Parsed | None] = [None] * len(docs)
    first_stop: tuple[int, str] | None = None
    for found, stop in parallel.fork_ranges(share, len(docs), shares, CHUNK):
        for index, parsed in found:
            slots[index] = parsed
        if stop is not None and (first_stop is None or stop[0] < first_stop[0]):
            first_stop = stop
    end = first_stop[0] if first_stop else len(docs)
    return slots[:end], first_stop[1] if first_stop else None  # type: ignore[return-value]


def shared(obj: Any, memo: dict[str, str]) -> Any:
    """The object rebuilt with each short string replaced by the memo's equal copy (added when new)."""
    try:
        return _shared(obj, memo.setdefault)
    except RecursionError:  # legal, deep and rare: kept as parsed
        return obj


def _shared(obj: Any, share: Any) -> Any:
    # Only exact str: True == 1 == 1.0 as dict keys, so a memo of any hashable would turn a key's type.
    kind = type(obj)
    if kind is dict:
        return {(share(k, k) if type(k) is str and len(k) <= SHARED_MAX else k):
                (_shared(v, share) if type(v) in _CONTAINERS else
                 share(v, v) if type(v) is str and len(v) <= SHARED_MAX else v)
                for k, v in obj.items()}
    if kind is list:
        return [_shared(v, share) if type(v) in _CONTAINERS else
                share(v, v) if type(v) is str and len(v) <= SHARED_MAX else v
                for v in obj]
    if kind is str and len(obj) <= SHARED_MAX:
        return share(obj, obj)
    return obj


_CONTAINERS = (dict, list)
