"""Property tests (hypothesis) over the loader, the index and every check.

- any value of any type at any field a seed has or the code reads, in any YAML layout (block, flow,
  JSON, CRLF, BOM, comments), gives a report: findings or `manifest-invalid`, never an exception;
- the same in a cluster-state snapshot, and with the Traefik profile and every check on;
- arbitrary YAML-ish text never raises out of the loader;
- the fast parser (yaml-rs) agrees with libyaml on every document the gate lets it read.

HYPOTHESIS_PROFILE=long raises the number of examples for a local hunt; tests/fuzz/campaign.py is the
time-bounded campaign CI runs.
"""

from __future__ import annotations

import os
import uuid

import pytest
import yaml
from hostile import POLICIES, PROBE_ANSWERS, layout, mutated_document, run_gate, same, to_yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gate.sources.documents import LoadResult
from gate.sources.files import load_bytes, split_documents
from gate.sources.yaml_parser import ManifestLoader, yaml11_sensitive, yaml_rs

settings.register_profile("ci", max_examples=150, deadline=None, derandomize=False,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                 HealthCheck.function_scoped_fixture])
settings.register_profile("long", parent=settings.get_profile("ci"), max_examples=5000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@given(docs=st.lists(mutated_document(), min_size=1, max_size=3), data=st.data(),
       policy=st.sampled_from(sorted(POLICIES)), probes=st.sampled_from(sorted(PROBE_ANSWERS)))
def test_any_value_at_any_field_gives_a_report(tmp_path, docs, data, policy, probes):
    render = data.draw(layout(docs))
    run_gate(tmp_path / uuid.uuid4().hex, render, policy=policy, probes=probes)


@given(render=st.lists(mutated_document(), min_size=1, max_size=2),
       state=st.lists(mutated_document(), min_size=1, max_size=3))
def test_any_value_in_the_cluster_state_gives_a_report(tmp_path, render, state):
    run_gate(tmp_path / uuid.uuid4().hex, to_yaml(render).encode(), to_yaml(state).encode(), policy="traefik")


YAMLISH = st.text(alphabet=st.sampled_from(list("ab:-?[]{},#&*!|>'\"%@`.~\\ \t\n\r0123456789+eExo_\x85\u2028"
                                                "\x00\x01\x7f\ufeffé\U0001F600")), max_size=80)


@given(text=YAMLISH)
def test_any_text_gives_documents_or_problems(text):
    result = LoadResult()
    load_bytes(("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: " + text).encode(
        "utf-8", "surrogatepass"), "x.yaml", result)
    load_bytes(text.encode("utf-8", "surrogatepass"), "y.yaml", result)


SCALAR_CHARS = st.text(alphabet=st.sampled_from(list("0123456789+-._eExobXOB:~nNaAiIfFtTrRuUlLsSyYoO=<' \"")),
                       min_size=1, max_size=12)
PLACES = ["key: {}\n", "items:\n- {}\n", "{}: value\n", "flow: [a, {}]\n", "flow: {{k: {}}}\n", "key: {}  # c\n",
          "key: |\n  {}\n", "key: \"{}\"\n", "key: '{}'\n", "a:\n  b: {}\n  c: [{}]\n"]


@pytest.mark.skipif(yaml_rs is None, reason="yaml-rs is not installed (pip install ingress-gate[fast])")
@given(scalar=SCALAR_CHARS | YAMLISH, place=st.sampled_from(PLACES))
def test_fast_parser_agrees_with_libyaml_on_what_it_accepts(scalar, place):
    """Whatever the guard lets through to yaml-rs and yaml-rs accepts, libyaml accepts and reads the same."""
    text = "apiVersion: v1\nkind: ConfigMap\n" + place.replace("{}", scalar)
    if len(list(split_documents(text, "t"))) != 1:
        return  # a `---` or `...` line: the stream is cut there before any document is parsed
    if yaml11_sensitive(text):
        return
    try:
        fast = yaml_rs.loads(text, parse_datetime=False)
    except Exception:  # noqa: BLE001 - refused: the gate falls back to libyaml
        return
    try:
        expected = yaml.load(text, Loader=ManifestLoader)
    except yaml.YAMLError as exc:
        pytest.fail(f"yaml-rs accepts what libyaml refuses ({exc.problem}): {text!r}")
    assert same(fast, expected), text
