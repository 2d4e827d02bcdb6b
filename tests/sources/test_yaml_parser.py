"""The yaml-rs fast path must read every document exactly as libyaml (YAML 1.1, like kubectl) does."""

from __future__ import annotations

import pytest
import yaml
from conftest import CORPUS, needs_corpus
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.sources.documents import Document, InputError, Problem
from gate.sources.files import iter_manifest_files, split_documents
from gate.sources.yaml_parser import ManifestLoader, json_keys, parse_document, yaml11_sensitive, yaml_rs

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
    """Whatever path a document takes, the gate reads it as libyaml does (keys then made JSON's)."""
    text = "apiVersion: v1\nkind: ConfigMap\n" + place.format(token)
    try:
        expected = yaml.load(text, Loader=ManifestLoader)
        json_keys(expected)
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


def _parsed(text: str) -> tuple[object, list[Problem]]:
    problems: list[Problem] = []
    return parse_document(Document(text=text, file="t.yaml", line=3, source=None), problems=problems), problems


@pytest.mark.parametrize(("text", "keys"), [
    ("8080: http\n", ["8080"]),            # yaml-rs and libyaml alike: an integer
    ("0x1F: a\n", ["31"]),                 # go-yaml reads the number, strconv writes it in decimal
    ("on: a\nno: b\n", ["true", "false"]),  # YAML 1.1 booleans (libyaml's path)
    ("true: a\n", ["true"]),
    ("1.5: a\n-2.0: b\n", ["1.5", "-2"]),
    ("1234567.0: a\n3.14159265358979: b\n", ["1.234567e+06", "3.1415927"]),  # float32, shortest 'g'
    ("0.00001: a\n.inf: b\n", ["1e-05", ".inf"]),
    ("'1': quoted\n", ["1"]),
])
def test_number_and_boolean_keys_are_read_as_kubectl_writes_them_into_json(text, keys):
    """sigs.k8s.io/yaml writes a number or boolean key as its text (strconv) before kubectl reads the
    object: a ConfigMap's `8080:` key is "8080", YAML 1.1's `on:` is "true"."""
    obj, problems = _parsed("data:\n" + "".join("  " + line + "\n" for line in text.splitlines()))
    assert list(obj["data"]) == keys
    assert problems == []


@pytest.mark.parametrize(("text", "where", "line"), [
    ("~: a\n", "data", 4), ("b: 1\nNull: a\n", "data", 5), ("x:\n  - a: 1\n    ~: 2\n", "data.x[0]", 6),
    ("8080:\n  ~: a\n", "data.8080", 5),
    ("x: {~: a}\n", "data.x", 4),  # flow style: the line of the mapping it is in
])
def test_a_key_json_cannot_have_refuses_the_document_with_its_place(text, where, line):
    """A null key: kubectl refuses the document ("unsupported map key"); so does the gate, at the key's
    line, naming where it is. (A list key libyaml refuses itself.)"""
    with pytest.raises(InputError) as caught:
        _parsed("data:\n" + "".join("  " + row + "\n" for row in text.splitlines()))
    assert caught.value.line == line
    assert f"at {where}:" in str(caught.value) and "kubectl refuses the document" in str(caught.value)


def test_two_spellings_of_one_key_are_a_problem():
    """`1:` and `"1":` are two YAML keys and one JSON key: kubectl keeps either value."""
    obj, problems = _parsed('data:\n  1: a\n  "1": b\n')
    assert obj == {"data": {"1": "b"}}
    assert [p.message.split(" appears")[0] for p in problems] == ["key '1'"]


@settings(max_examples=300, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=3),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=20))
def test_objects_with_text_keys_are_left_as_they_are(obj):
    """Nearly every document: nothing changes."""
    import copy

    before = copy.deepcopy(obj)
    assert json_keys(obj) == []
    assert obj == before


@settings(max_examples=300, deadline=None)
@given(st.recursive(st.text(max_size=3),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.integers(-5, 5) | st.booleans() | st.text(max_size=2), inner,
                                      max_size=3), max_leaves=20))
def test_keys_are_written_as_json_writes_them(obj):
    """Integers and booleans become the text JSON (and strconv) give them, wherever they are, in the
    mapping's order."""
    import json

    expected = json.loads(json.dumps(obj))
    merged = json_keys(obj)
    assert json.loads(json.dumps(obj)) == obj
    if not merged:
        assert obj == expected


def _keys_of(obj: object) -> list[object]:
    if isinstance(obj, dict):
        return [*obj, *(k for v in obj.values() for k in _keys_of(v))]
    if isinstance(obj, list):
        return [k for v in obj for k in _keys_of(v)]
    return []


KEY_TOKENS = ["1", "-1", "+1", "0", ".5", "1.", "1e3", "-2E+05", "0x1F", "0o7", ".inf", "-.Inf", ".NaN", "~",
              "null", "Null", "NULL", "true", "True", "FALSE", "name", "a1", "1a", "nullable", "truely", "'1'",
              '"true"', "x-1", "-x", "port"]


@needs_yaml_rs
@settings(max_examples=2000, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["", "  ", "    "]), st.sampled_from(["", "- ", "- - "]),
                          st.sampled_from(KEY_TOKENS), st.sampled_from([":", ": v", ": 1", ":\n"])),
                min_size=1, max_size=8))
def test_the_fast_path_finds_every_key_yaml_rs_reads_as_no_string(lines):
    """The fast path converts keys only where its search says a plain key may not be text: whatever
    yaml-rs reads as a number, null or boolean key, in a document the guard lets through, is found."""
    from gate.sources.yaml_parser import _may_have_non_text_key

    text = "".join(indent + dash + key + rest + ("" if rest.endswith("\n") else "\n")
                   for indent, dash, key, rest in lines)
    if yaml11_sensitive(text):
        return
    try:
        obj = yaml_rs.loads(text, parse_datetime=False)
    except Exception:  # noqa: BLE001 - not YAML: libyaml gives the error
        return
    if any(type(k) is not str for k in _keys_of(obj)):
        assert _may_have_non_text_key(text), text
    try:
        parsed = parse_document(Document(text=text, file="t.yaml", line=1, source=None))
    except InputError:
        return  # a null key: refused
    assert all(type(k) is str for k in _keys_of(parsed)), text


@pytest.mark.parametrize("key", ["1", "on", "~"])
def test_keys_are_read_at_any_depth_a_document_may_have(key):
    """The key walk keeps its own list: a document nested near MAX_DEPTH (past what recursion allows
    once the parser's frames are counted) is read, or refused for its null key, never a crash."""
    from gate.sources.yaml_parser import MAX_DEPTH

    depth = MAX_DEPTH - 4
    text = "".join("  " * i + f"k{i}:\n" for i in range(depth)) + "  " * depth + f"{key}: x\n"
    doc = Document(text=text, file="t.yaml", line=1, source=None)
    if key == "~":
        with pytest.raises(InputError) as caught:
            parse_document(doc)
        assert caught.value.line == depth + 1
        return
    obj = parse_document(doc)
    for i in range(depth):
        obj = obj[f"k{i}"]
    assert obj == {"1" if key == "1" else "true": "x"}
