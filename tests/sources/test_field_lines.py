"""Field lines: a finding points at the offending field when the block layout tells where it is."""

from __future__ import annotations

import pytest

from gate.sources.field_lines import line_of

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
