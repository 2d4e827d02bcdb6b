"""Field lines: a finding points at the offending field when the block layout tells where it is."""

from __future__ import annotations

import pytest
import yaml
from conftest import CORPUS, needs_corpus
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.sources import field_lines
from gate.sources.field_lines import line_of
from gate.sources.files import iter_manifest_files, split_documents
from gate.sources.yaml_parser import ManifestLoader

DOC = """\
---
# Source: chart/templates/gateway.yaml
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw   # a comment
  annotations:
    note: |
      spec:
        listeners: not here
    "argocd.argoproj.io/sync-wave": "x"
spec:
  listeners:
  - name: web
    protocol: HTTP

  # a comment between items
  - name: https
    hostname: app.example.com
    tls:
      certificateRefs:
        - name: one
        -   name: two
            namespace: other
  rules:
  - - nested
    - items
  flow: {a: [1, 2]}
  empty:
  after: 1
"""


@pytest.mark.parametrize("path, line", [
    ("metadata", 5),
    ("metadata.name", 6),
    (("metadata", "annotations", "argocd.argoproj.io/sync-wave"), 11),
    ("spec", 12),
    ("spec.listeners", 13),
    ("spec.listeners[0]", 14),
    ("spec.listeners[1]", 18),
    ("spec.listeners[1].hostname", 19),
    ("spec.listeners[1].tls.certificateRefs[0]", 22),
    ("spec.listeners[1].tls.certificateRefs[1]", 23),
    ("spec.listeners[1].tls.certificateRefs[1].namespace", 24),
    ("spec.rules[0]", 26),
    ("spec.rules[0][1]", 27),
    ("spec.flow", 28),
    ("spec.after", 30),
])
def test_block_layout_gives_the_field_line(path, line):
    """Keys at their mapping's column, `- ` items (indentless, nested, wide), quoted keys, comments."""
    assert line_of(DOC, path) == line


@pytest.mark.parametrize("path", [
    "spec.listeners[2]",  # no such item
    "spec.nothing",  # no such key
    "spec.flow.a",  # inside flow style: not told
    "spec.empty.x",  # below an empty value
    "metadata.name.first",  # below a scalar
    "spec.listeners[0].protocol.x",
])
def test_what_cannot_be_told_is_none(path):
    """A path the text does not show in block layout gives None (the finding keeps its document line)."""
    assert line_of(DOC, path) is None


def test_block_scalar_text_is_not_mistaken_for_keys():
    """`spec:` inside a block scalar is deeper than the root, so the real top-level key is found."""
    assert line_of(DOC, "spec.listeners") == 13


def test_json_and_flow_documents_give_none():
    """JSON or all-flow documents have no block layout to read."""
    assert line_of('{"apiVersion": "v1", "spec": {"ports": [1]}}', "spec.ports[0]") is None


def test_indented_root_is_walked_from_its_own_column():
    """A snippet indented as a whole (copied from docs) still gives field lines."""
    text = "  apiVersion: v1\n  kind: Service\n  spec:\n    ports:\n    - port: 80\n"
    assert line_of(text, "spec.ports[0]") == 5


def _paths(obj, prefix=(), limit=30):
    """Field paths of a parsed document, breadth first, at most `limit` of them."""
    out, queue = [], [(prefix, obj)]
    while queue and len(out) < limit:
        path, value = queue.pop(0)
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, child in items:
            if isinstance(key, (str, int)) and not isinstance(key, bool):
                out.append((*path, key))
                queue.append(((*path, key), child))
    return out[:limit]


@needs_corpus
def test_the_one_loop_walk_agrees_with_the_entry_walk_on_the_corpus():
    """line_of's single-loop walk gives the line the reference walk over entries gives, for every path tried."""
    compared = 0
    for path in iter_manifest_files(CORPUS):
        if path.parent.name == "big":
            continue  # the whole corpus again, in one file
        text = path.read_text(encoding="utf-8", errors="replace")
        for doc in list(split_documents(text, str(path)))[:8]:
            try:
                obj = yaml.load(doc.text, Loader=ManifestLoader)
            except yaml.YAMLError:
                continue
            for fields in _paths(obj):
                # as line_of calls it, and the reference on the very same text
                wanted = [*fields, "no-such-key"] if compared % 7 == 0 else list(fields)
                fast = field_lines._walk(doc.text, 0, wanted)
                assert fast == field_lines._walk_entries(doc.text, 0, wanted), f"{path}:{doc.line} {wanted}"
                compared += 1
    assert compared > 5_000


def _searched(text: str, key: str) -> int | None:
    """The reference for the jump to a top-level key: the regex engine's multi-line search."""
    match = field_lines._top_level_key(key).search(text)
    return match.start() if match else None


@settings(max_examples=2000, deadline=None)
@given(parts=st.lists(st.sampled_from(["\n", " ", "\t", ":", '"', "'", "#", "spec", "spe", "specs", "a", "- "]),
                      max_size=30),
       key=st.sampled_from(["spec", "a", "spe"]))
def test_the_jump_to_a_top_level_key_finds_what_a_multiline_search_finds(parts, key):
    text = "".join(parts)
    assert field_lines._top_level(text, key) == _searched(text, key)


@needs_corpus
def test_the_jump_to_a_top_level_key_agrees_with_the_search_on_the_corpus():
    compared = 0
    for path in iter_manifest_files(CORPUS):
        if path.parent.name == "big":
            continue
        for doc in list(split_documents(path.read_text(encoding="utf-8", errors="replace"), str(path)))[:8]:
            for key in ("spec", "metadata", "data", "kind", "status", "items", "rules", "webhooks"):
                assert field_lines._top_level(doc.text, key) == _searched(doc.text, key), (path, doc.line, key)
                compared += 1
    assert compared > 5_000
