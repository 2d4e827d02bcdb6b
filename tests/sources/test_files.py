"""The loader: documents, lines, Helm sources, and bad input that must never crash or hide findings."""

from __future__ import annotations

import io
import json
import os
import time

import pytest
from conftest import check_text, gate_cli, ids, write

from gate.run import RunConfig, run
from gate.sources.documents import LoadResult
from gate.sources.files import load_bytes, load_paths

SERVICE = "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: app\nspec:\n  ports: [{{port: 80}}]\n"
# A route to a Service that is nowhere: the finding every bad-input test expects to survive.
ROUTE_TO_NOWHERE = """apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: survivor
  namespace: app
spec:
  rules:
  - backendRefs:
    - name: nowhere
      port: 80
"""


def loaded(text: str, name: str = "x.yaml") -> LoadResult:
    result = LoadResult()
    load_bytes(text.encode(), name, result)
    return result


def test_each_resource_keeps_the_line_its_document_starts_on():
    """Lines count from 1, skip `---`, comments and blank lines before the object."""
    text = "# header\n---\n" + SERVICE.format(name="a") + "---\n\n# Source: chart/templates/b.yaml\n" + \
        SERVICE.format(name="b")
    result = loaded(text)
    assert [(r.name, r.line) for r in result.resources] == [("a", 3), ("b", 13)]
    assert result.resources[1].source == "chart/templates/b.yaml"
    assert result.resources[0].source is None


def test_document_end_marker_and_directives():
    """`...` ends a document and `%YAML` belongs to the next one."""
    text = SERVICE.format(name="a") + "...\n%YAML 1.1\n---\n" + SERVICE.format(name="b")
    result = loaded(text)
    assert [r.name for r in result.resources] == ["a", "b"]
    assert not result.problems


def test_kind_list_items_become_resources():
    """`kind: List` (kubectl get -o yaml) expands to its items."""
    text = "apiVersion: v1\nkind: List\nitems:\n- " + SERVICE.format(name="a").replace("\n", "\n  ").rstrip() + "\n"
    assert [r.name for r in loaded(text).resources] == ["a"]


def test_json_file_and_json_list(tmp_path):
    """A .json file is read as JSON, a List in it expands, and its syntax errors carry a line."""
    good = write(tmp_path, "list.json", json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}}]}))
    bad = write(tmp_path, "bad.json", '{\n  "apiVersion": "v1",\n  "kind": }\n')
    result = load_paths([str(good), str(bad)])
    assert [r.name for r in result.resources] == ["a"]
    assert [(p.line, "JSON" in p.message) for p in result.problems] == [(3, True)]


def test_folders_are_read_recursively_and_hidden_folders_skipped(tmp_path):
    """*.yaml, *.yml and *.json below a folder are read; .git and other files are not."""
    write(tmp_path, "a/one.yaml", SERVICE.format(name="one"))
    write(tmp_path, "a/b/two.yml", SERVICE.format(name="two"))
    write(tmp_path, "a/b/three.json", json.dumps({"apiVersion": "v1", "kind": "Service",
                                                   "metadata": {"name": "three"}}))
    write(tmp_path, "a/notes.txt", SERVICE.format(name="txt"))
    write(tmp_path, "a/.git/x.yaml", SERVICE.format(name="git"))
    assert sorted(r.name for r in load_paths([str(tmp_path / "a")]).resources) == ["one", "three", "two"]


def test_stdin_is_read_with_dash():
    """`-` reads the stream given as stdin."""
    stream = io.BytesIO(SERVICE.format(name="piped").encode())
    result = load_paths(["-"], stdin=stream)
    assert [(r.name, r.file) for r in result.resources] == [("piped", "<stdin>")]


def test_stdin_through_the_cli():
    """`gate check -` reads a render piped into it."""
    proc = gate_cli("check", "--offline", "--format", "json", "-", input=ROUTE_TO_NOWHERE.encode())
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert [(f["check"], f["file"], f["line"]) for f in report["findings"]] == [
        ("route-backend-missing", "<stdin>", 9)]


def test_non_objects_are_skipped_not_fatal():
    """Values files, kustomizations and generateName objects are skipped with a reason."""
    text = "replicas: 3\n---\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n" \
           "resources: [a.yaml]\n---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: x-\n"
    result = loaded(text)
    assert not result.resources and not result.problems
    assert [s.line for s in result.skipped] == [1, 3, 7]
    assert "generateName" in result.skipped[2].reason


def test_kubernetes_scalars_stay_strings():
    """Timestamps stay strings and a plain `=` is the string "=" (kube-prometheus CRD)."""
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  when: 2024-01-02\n  ops: [=, '!=']\n"
    body = loaded(text).resources[0].body
    assert body["data"] == {"when": "2024-01-02", "ops": ["=", "!="]}


BAD_INPUTS = {
    "syntax.yaml": (b"apiVersion: v1\nkind: Service\nmetadata:\n  name: [oops\n", "does not parse", 4),
    "list.yaml": (b"- a\n- b\n", "is a list", 1),
    "scalar.yaml": (b"hello\n", "scalar", 1),
    "nested.yaml": (b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: n}\ndata: " + b"[" * 2000 + b"]" * 2000 + b"\n",
                    "too deep", 1),
    "very-nested.yaml": (b"a: " + b"[" * 200000 + b"]" * 200000 + b"\n", "too deep", 1),
    "junk.yaml": (bytes(range(256)) * 40, "binary", 1),
    "latin1.yaml": ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: café\n".encode("latin-1"), "not UTF-8", 4),
    "helm.yaml": (b"apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\n  x: {{ .y }}\n",
                  "unrendered Helm template", None),
}
BILLION_LAUGHS = "\n".join(
    ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [f"{n}: &{n} [{', '.join(['*' + p] * 9)}]" for p, n in zip("abcdefgh", "bcdefghi")]
    + ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: bomb}"]) + "\n"


@pytest.mark.parametrize("name", [*BAD_INPUTS, "bomb.yaml"])
def test_bad_input_is_a_finding_and_hides_nothing(tmp_path, name):
    """Each bad file gives manifest-invalid with file:line in under 2 s; the good file's finding stays."""
    data, words, line = BAD_INPUTS.get(name, (BILLION_LAUGHS.encode(), "alias", 1))
    (tmp_path / name).write_bytes(data)
    write(tmp_path, "good.yaml", ROUTE_TO_NOWHERE)
    started = time.monotonic()
    report = run(RunConfig(paths=[str(tmp_path / name), str(tmp_path / "good.yaml")], offline=True))
    assert time.monotonic() - started < 2
    invalid = [f for f in report.findings if f.check == "manifest-invalid"]
    assert len(invalid) == 1 and words in invalid[0].message
    assert invalid[0].file.endswith(name) and (line is None or invalid[0].line == line)
    assert "route-backend-missing" in ids(report)


def test_broken_document_does_not_hide_its_neighbours(tmp_path):
    """A syntax error in the middle of a stream leaves the documents before and after it checked."""
    text = ROUTE_TO_NOWHERE + "---\nkind: [\n---\n" + ROUTE_TO_NOWHERE.replace("survivor", "second")
    report = check_text(tmp_path, text)
    assert sorted(ids(report)) == ["manifest-invalid", "route-backend-missing", "route-backend-missing"]
    # the flow sequence left open on line 12 (libyaml's mark is at the end of the document, past it)
    assert [f.line for f in report.findings if f.check == "manifest-invalid"] == [12]


def test_empty_file_is_no_parse_error_but_nothing_checked(tmp_path):
    """An empty file is not manifest-invalid; alone it is input-empty (nothing was checked), and beside
    a real object it is simply nothing."""
    (tmp_path / "empty.yaml").write_bytes(b"")
    report = run(RunConfig(paths=[str(tmp_path / "empty.yaml")], offline=True))
    assert ids(report) == ["input-empty"] and not report.passed
    (tmp_path / "ns.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n")
    report = run(RunConfig(paths=[str(tmp_path)], offline=True))
    assert report.findings == [] and report.passed


def test_oversized_file_is_reported_not_read(tmp_path):
    """A file over --max-file-size becomes a finding without being read into memory."""
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(100 * 1024 * 1024 + 1)  # sparse: 100 MiB on paper, nothing on disk
    write(tmp_path, "good.yaml", ROUTE_TO_NOWHERE)
    started = time.monotonic()
    report = run(RunConfig(paths=[str(path), str(tmp_path / "good.yaml")], offline=True))
    assert time.monotonic() - started < 2
    assert sorted(ids(report)) == ["manifest-invalid", "route-backend-missing"]
    assert "over the 64 MiB limit" in report.findings[0].message or "over the 64 MiB limit" in report.findings[1].message


def test_missing_path_is_exit_2_and_other_paths_still_reported(tmp_path):
    """A path that does not exist: exit 2, a clear message, and the other input still checked."""
    good = write(tmp_path, "good.yaml", ROUTE_TO_NOWHERE)
    proc = gate_cli("check", "--offline", str(tmp_path / "nope.yaml"), str(good))
    assert proc.returncode == 2
    assert b"nope.yaml: no such file or folder" in proc.stderr
    assert b"route-backend-missing" in proc.stdout
    assert b"Traceback" not in proc.stderr + proc.stdout


def test_special_file_is_exit_2(tmp_path):
    """A path that is neither a file nor a folder (a FIFO): exit 2 with the reason, no hang."""
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    proc = gate_cli("check", "--offline", str(fifo), timeout=10)
    assert proc.returncode == 2
    assert b"not a regular file or folder" in proc.stderr


def test_cluster_state_list_may_exceed_the_document_limit(tmp_path):
    """A snapshot's single `kind: List` may be bigger than a rendered object may be (etcd-sized)."""
    from gate.sources import files as load

    item = "- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: s{i}\n    namespace: a\n"
    text = "apiVersion: v1\nkind: List\nitems:\n" + "".join(item.format(i=i) for i in range(200))
    path = write(tmp_path, "state.yaml", text)
    limit = len(text) // 2
    original = load.MAX_DOCUMENT_BYTES
    try:
        load.MAX_DOCUMENT_BYTES = limit
        rendered = load_paths([str(path)])
        known = load_paths([str(path)], origin="cluster")
    finally:
        load.MAX_DOCUMENT_BYTES = original
    assert rendered.resources == [] and "larger than the API server accepts" in rendered.problems[0].message
    assert len(known.resources) == 200 and known.problems == []


def test_duplicate_key_is_reported_at_its_line_and_the_last_value_kept(tmp_path):
    """Two equal keys in one mapping: manifest-duplicate-key at the second one; the object still loads."""
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  mode: blue\n  other: x\n  mode: green\n"
    report = check_text(tmp_path, "---\n" + text)
    assert [(f.check, f.line) for f in report.findings] == [("manifest-duplicate-key", 9)]
    result = loaded(text)
    assert result.resources[0].body["data"]["mode"] == "green"


# --- document markers ------------------------------------------------------------------------

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402

from gate.sources import files as _files  # noqa: E402

# Texts made of the pieces a marker's recognition turns on: dashes and dots at line starts, blanks,
# line breaks (CR too, as stdin may keep it), letters after a marker.
_PIECES = st.sampled_from(["---", "...", "-", ".", "--", "\n", "\r", " ", "\t", "a", "#", "----", "\n---\n"])


@settings(max_examples=2000, deadline=None)
@given(pieces=st.lists(_PIECES, max_size=24))
def test_cut_points_are_the_marker_patterns(pieces):
    """The str.find scan cuts where the `^(---|...)` pattern does, `...` and stray dashes included."""
    text = "".join(pieces)
    assert list(_files._cut_points(text)) == list(_files._cut_points_matched(text))


def test_cut_points_of_a_render():
    text = "a: 1\n---\nb: 2\n--- \nc: 3\n---\t# x\n----\nd: 4\n---"
    assert list(_files._cut_points(text)) == list(_files._cut_points_matched(text)) == [5, 14, 24, 42, 45]
