"""The yaml-rs fast path must read every document exactly as libyaml (YAML 1.1, like kubectl) does."""

from __future__ import annotations

import pytest
import yaml
from conftest import CORPUS, needs_corpus
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.sources.documents import Document
from gate.sources.files import iter_manifest_files, split_documents
from gate.sources.yaml_parser import ManifestLoader, parse_document, yaml11_sensitive, yaml_rs

needs_yaml_rs = pytest.mark.skipif(yaml_rs is None, reason="yaml-rs is not installed (pip install ingress-gate[fast])")

# Scalars YAML 1.1 and 1.2 read differently, in every place a plain scalar can stand.
SENSITIVE = ["yes", "No", "ON", "off", "0644", "0o14", "0b101", "0x_1f", "1_000", "1:20", "190:20:30.15", "1e3",
             "-2E+05", ".5e3", "=", "<<"]
PLACES = ["key: {}\n", "items:\n- {}\n", "key:\n  {}\n", "{}: value\n", "- {}: value\n", "flow: [a, {}]\n",
          "flow: {{k: {}}}\n", "key: {}  # comment\n"]


@pytest.mark.parametrize("token", SENSITIVE)
@pytest.mark.parametrize("place", PLACES)
def test_guard_sends_yaml11_spellings_to_libyaml(token, place):
    """Every 1.1-only spelling, wherever it stands, is seen by the guard."""
    text = "apiVersion: v1\nkind: ConfigMap\n" + place.format(token)
    assert yaml11_sensitive(text)


@pytest.mark.parametrize("text", [
    "a: &x 1\nb: *x\n", "a: !!str 1\n", "%YAML 1.1\n---\na: 1\n", "? complex\n: key\n",
    "name: {{ .Release.Name }}\n"])
def test_guard_sends_anchors_tags_directives_and_templates_to_libyaml(text):
    """Anchors, aliases, tags, directives, explicit keys and Helm templates never take the fast path."""
    assert yaml11_sensitive(text)


@pytest.mark.parametrize("text", [
    "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 8080\n    name: http\n",
    "a: 'yes'\nb: \"0644\"\nc: nodeSelector\nd: 10.0.0.1\ne: 1.5\nf: true\ng: null\nh: online\n",
])
def test_guard_lets_plain_renders_through(text):
    """Ordinary manifests (quoted 1.1 spellings, IPs, words containing 'no'/'on') take the fast path."""
    assert not yaml11_sensitive(text)


@pytest.mark.parametrize("token", SENSITIVE)
@pytest.mark.parametrize("place", PLACES)
def test_parse_document_agrees_with_libyaml(token, place):
    """Whatever path a document takes, the gate reads it as libyaml does."""
    text = "apiVersion: v1\nkind: ConfigMap\n" + place.format(token)
    try:
        expected = yaml.load(text, Loader=ManifestLoader)
    except yaml.YAMLError:
        pytest.skip("not valid YAML 1.1 in this place")
    assert parse_document(Document(text=text, file="t.yaml", line=1, source=None)) == expected


@needs_yaml_rs
@needs_corpus
def test_fast_path_agrees_with_libyaml_on_the_whole_corpus():
    """On every corpus document that passes the guard, yaml-rs and libyaml give the same object."""
    fast = 0
    for path in iter_manifest_files(CORPUS):
        text = path.read_text(encoding="utf-8", errors="replace")
        for doc in split_documents(text, str(path)):
            if yaml11_sensitive(doc.text):
                continue
            try:
                expected = yaml.load(doc.text, Loader=ManifestLoader)
                got = yaml_rs.loads(doc.text, parse_datetime=False)
            except Exception:  # noqa: BLE001 - either refuses: parse_document falls back to libyaml
                continue
            fast += 1
            assert got == expected, f"{path}:{doc.line}"
    assert fast > 4000  # the guard must not send everything to libyaml


# The line-start and after-indicator patterns take their blanks possessively; with backtracking
# allowed (as first written) they must find the same documents sensitive.
def _backtracking_patterns() -> list:
    import re

    from gate.sources import yaml_parser as yp

    return [re.compile(prefix + yp._FIRST + yp._YAML11_TOKEN + suffix, re.VERBOSE | re.MULTILINE)
            for prefix, suffix in ((r":[ \t]+", r"(?=[ \t]*(?:$|\#))"), (r"-[ \t]+", r"(?=[ \t]*(?:$|\#))"),
                                   (r"\n[ \t]*(?:-[ \t]+)?", r"[ \t]*(?::(?:[ \t]|$)|$|\#)"))]


@settings(max_examples=3000, deadline=None)
@given(parts=st.lists(st.sampled_from(["\n", " ", "\t", "-", ": ", ":", "#", "yes", "no", "On", "0", "012", "1_0",
                                       "0x1", "1:30", ".5e3", "-1", "+.5", "_1", "=", "<<", "a", "name"]),
                      max_size=24))
def test_possessive_blanks_find_what_backtracking_finds(parts):
    from gate.sources import yaml_parser as yp

    text = "\n" + "".join(parts)
    for fast, slow in zip(yp._YAML11_BLOCK, _backtracking_patterns(), strict=True):
        assert (fast.search(text) is None) == (slow.search(text) is None), text


@settings(max_examples=3000, deadline=None)
@given(text=st.text(st.characters(max_codepoint=0x7F), max_size=40)
       | st.text(st.sampled_from("a \n\t\r\x00\x1b\x7f\x85\xa0\u2028\ufeff\U0001f600"), max_size=12))
def test_the_ascii_shortcut_finds_the_characters_the_pattern_names(text):
    from gate.sources import yaml_parser as yp

    assert yp._unsafe_characters(text) == (yp._fast_unsafe().search(text) is not None), repr(text)
