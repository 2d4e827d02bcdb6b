"""gate.sources.parsing: many documents parsed in shares (forked or not) give what parsing them one after
the other gives, with their short strings held once."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import ROOT

from gate import parallel
from gate.sources import files, parsing
from gate.sources.budget import LoadBudget
from gate.sources.documents import Document, InputError, LoadResult
from gate.sources.files import iter_manifest_files, load_bytes, split_documents
from gate.sources.yaml_parser import MAX_DOCUMENT_BYTES, parse_document

CORPUS = ROOT.parent / "shared" / "corpus"
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="forking needs a POSIX system")

# Every way a document can come out: objects, an empty one, a scalar, a broken one, a repeated key (a problem
# that does not stop it), an alias, keys YAML reads as other types (1, true and 1.0 are equal dict keys).
MIXED = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: shop}
data: {k: v}
---
---
just a scalar
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: b
  name: b2
---
apiVersion: v1
kind: Secret
metadata: {name: c
---
apiVersion: v1
kind: ConfigMap
metadata: {name: d, labels: &l {app: web}, annotations: *l}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: e}
data:
  1: one
  true: yes
  1.5: float
  "1": text
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ConfigMap, metadata: {name: f}}
"""


@pytest.fixture
def forking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Servers other tests started may leave threads in this process, which makes the real `can_fork`
    (rightly) refuse; the parse takes no lock, so these tests fork anyway."""
    monkeypatch.setattr(parallel, "can_fork", lambda: True)
    monkeypatch.setattr(parsing, "MIN_PARALLEL", 2)
    monkeypatch.setattr(parsing, "CHUNK", 2)
    monkeypatch.setattr(parallel, "cpus", lambda: 3)


def one_by_one(docs: list[Document]) -> list[tuple]:
    out = []
    for doc in docs:
        problems: list = []
        try:
            obj = parse_document(doc, problems=problems)
        except InputError as exc:
            out.append((None, (exc.line, str(exc)), problems))
            continue
        out.append((obj, None, problems))
    return out


def typed(value):
    """The value with every scalar's type beside it: 1 == True == 1.0 would hide a changed key or value."""
    if isinstance(value, dict):
        return [(typed(k), typed(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [typed(v) for v in value]
    return (type(value).__name__, value)


def test_shares_in_forks_give_what_one_by_one_gives(forking: None) -> None:
    docs = list(split_documents(MIXED * 7, "mixed.yaml"))
    parsed, stop = parsing.parse_documents(docs, MAX_DOCUMENT_BYTES, LoadBudget())
    assert stop is None
    assert [typed(tuple(p)) for p in parsed] == [typed(p) for p in one_by_one(docs)]


def test_short_strings_are_held_once_per_share(forking: None) -> None:
    docs = list(split_documents(MIXED * 7, "mixed.yaml"))
    parsed, _ = parsing.parse_documents(docs, MAX_DOCUMENT_BYTES, LoadBudget())
    copies: dict[str, set[int]] = {}
    for doc, p in zip(docs, parsed):
        if "&" in doc.text:  # an alias's object appears at each place it is used: kept as parsed, not rebuilt
            assert p.obj["metadata"]["labels"] is p.obj["metadata"]["annotations"]
        elif isinstance(p.obj, dict) and "kind" in p.obj:
            copies.setdefault(p.obj["kind"], set()).add(id(p.obj["kind"]))
            copies.setdefault("apiVersion", set()).update(id(k) for k in p.obj if k == "apiVersion")
    assert copies["ConfigMap"] and all(len(ids) <= 3 for ids in copies.values())  # one per share
    long_value = "x" * (parsing.SHARED_MAX + 1)
    assert parsing.shared({"a": [long_value]}, {})["a"][0] is long_value  # too long to be worth a memo entry


def test_a_share_that_runs_out_of_memory_stops_the_stream_where_it_stopped(forking: None,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    docs = list(split_documents(MIXED * 7, "mixed.yaml"))
    monkeypatch.setattr("gate.sources.budget._SAMPLE_BYTES", 1)
    budget = LoadBudget(memory=1 << 40)
    monkeypatch.setattr(LoadBudget, "memory_left", lambda self: 0)
    parsed, stop = parsing.parse_documents(docs, MAX_DOCUMENT_BYTES, budget)
    # No memory left: a share stops at its first document once the process has grown by a page.
    assert "MiB left to each of 3 parsers of the 1,048,576 MiB the gate allows itself" in stop
    assert len(parsed) < len(docs)
    assert [typed(tuple(p)) for p in parsed] == [typed(p) for p in one_by_one(docs[:len(parsed)])]


@pytest.mark.parametrize("many", [True, False], ids=["in-shares", "one-by-one"])
def test_a_stream_loads_the_same_either_way(forking: None, monkeypatch: pytest.MonkeyPatch, many: bool) -> None:
    text = MIXED * 7
    monkeypatch.setattr(files, "MANY_DOCUMENTS_TEXT", 0 if many else 1 << 60)
    result = LoadResult()
    load_bytes(text.encode(), "mixed.yaml", result)
    monkeypatch.setattr(files, "MANY_DOCUMENTS_TEXT", 1 << 60)
    expected = LoadResult()
    load_bytes(text.encode(), "mixed.yaml", expected)
    assert [(r.kind, r.name, r.line, r.text, r.text_line, typed(r.body)) for r in result.resources] == \
        [(r.kind, r.name, r.line, r.text, r.text_line, typed(r.body)) for r in expected.resources]
    assert result.problems == expected.problems and result.skipped == expected.skipped
    assert result.documents == expected.documents


def test_the_document_limit_stops_a_stream_in_shares_as_one_by_one(forking: None,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    text = MIXED * 7
    outcomes = []
    for threshold in (0, 1 << 60):
        monkeypatch.setattr(files, "MANY_DOCUMENTS_TEXT", threshold)
        result = LoadResult()
        result.budget = LoadBudget(documents=20)
        load_bytes(text.encode(), "mixed.yaml", result)
        outcomes.append(([r.name for r in result.resources], result.problems, result.documents))
    assert outcomes[0] == outcomes[1]
    assert "more than 200,000 documents" in outcomes[0][1][-1].message


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus not present (the corpus comparison)")
def test_every_corpus_stream_parses_the_same_in_shares(forking: None) -> None:
    compared = 0
    for path in iter_manifest_files(CORPUS):
        if "crds" in path.parts:
            continue
        try:
            text = files.decode(path.read_bytes())
        except InputError:
            continue
        docs = list(split_documents(text, str(path)))
        parsed, stop = parsing.parse_documents(docs, MAX_DOCUMENT_BYTES, LoadBudget())
        assert stop is None, path
        assert [typed(tuple(p)) for p in parsed] == [typed(p) for p in one_by_one(docs)], path
        compared += len(docs)
    assert compared > 1000
