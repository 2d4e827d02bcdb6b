"""What the property tests and the fuzz campaign share: seed renders, hostile values, YAML layouts, and one
pipeline run that must end in a report (findings or `manifest-invalid`), never in an exception.

Seeds are the project's fixtures (every check fires on some of them, so every field a check reads is in
some seed) and, when present, ../shared/corpus. Mutations put any value YAML can produce (null, bools,
huge and negative numbers, NaN and infinities, odd strings, bytes from `!!binary`, sets from `!!set`,
lists, mappings with non-string keys) at any field of a seed, or at a field name the gate's code reads.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from gate.probes import fake
from gate.probes.registry import FOUND
from gate.run import RunConfig, run

TESTS = Path(__file__).resolve().parent.parent
ROOT = TESTS.parent
FIXTURES = TESTS / "fixtures"
CORPUS = ROOT.parent / "shared" / "corpus"
REPRODUCERS = Path(__file__).resolve().parent / "reproducers"


def seed_files(corpus: bool = False) -> list[Path]:
    """Fixture renders (and cluster states), plus the shared corpus when asked and present."""
    files = sorted(FIXTURES.glob("*/*/*.yaml")) + sorted(FIXTURES.glob("*/*/.*.cluster-state.yaml"))
    if corpus and CORPUS.is_dir():
        files += sorted(p for p in CORPUS.rglob("*.yaml") if p.is_file() and p.stat().st_size < 256 * 1024)
    return files


@cache
def seed_documents(corpus: bool = False) -> tuple[Any, ...]:
    """Every seed document that parses to a mapping, as objects."""
    out = []
    for path in seed_files(corpus):
        try:
            docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except (yaml.YAMLError, UnicodeDecodeError, ValueError):
            continue
        out.extend(doc for doc in docs if isinstance(doc, dict))
    return tuple(out)


@cache
def field_names() -> tuple[str, ...]:
    """Every quoted camelCase word in the code that reads objects: the fields the index and checks read."""
    words: set[str] = set()
    for folder in ("index.py", "domain", "checks", "checklist", "sources/documents.py", "policy/decisions.py"):
        for path in (ROOT / "gate" / folder).rglob("*.py") if (ROOT / "gate" / folder).is_dir() \
                else [ROOT / "gate" / folder]:
            words.update(re.findall(r"""["']([a-z][a-zA-Z0-9]{1,40})["']""", path.read_text(encoding="utf-8")))
    return tuple(sorted(words))


# -- values -------------------------------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
    st.sampled_from([0, -1, 1, 80, 443, 65535, 65536, 2 ** 31, 2 ** 63, 10 ** 300, -(10 ** 999)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([80.0, 443.0, 8000.5, -0.0]),
    st.text(max_size=40),
    st.sampled_from(["", " ", "*", "*.", ".", "-", "~", "null", "true", "80", "http", "Secret", "Service",
                     "HTTPS", "TLS", "Terminate", "Passthrough", "Gateway", "HTTPRoute", "gateway.networking.k8s.io",
                     "cert-manager.io", "default", "a" * 300, "x.example.com", "*.example.com", "1.2.3.4", "::1",
                     "nginx:latest", "registry.example.com/a/b@sha256:" + "0" * 64, "In", "NotIn", "Exists",
                     "DoesNotExist", "All", "Same", "Selector", "-1", "1e9", "argocd.argoproj.io/sync-wave"]),
    st.binary(max_size=8),
)
KEYS = st.one_of(st.text(max_size=12), st.integers(-3, 3), st.booleans(), st.none(), st.floats(allow_nan=False))


def values(max_leaves: int = 6) -> st.SearchStrategy[Any]:
    return st.recursive(
        SCALARS,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(KEYS, children, max_size=4),
            st.frozensets(st.one_of(st.text(max_size=5), st.integers(0, 9)), max_size=3).map(set),
        ),
        max_leaves=max_leaves,
    )


# -- mutations ------------------------------------------------------------------------------------------

def _paths(obj: Any, prefix: tuple = ()) -> Iterator[tuple]:
    yield prefix
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _paths(value, (*prefix, i))


def _copy(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_copy(v) for v in obj]
    return obj


def _set(obj: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    parent = obj
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return obj


@st.composite
def mutated_document(draw: st.DrawFn, corpus: bool = False) -> Any:
    """A seed document with one to three fields replaced by (or given) hostile values."""
    doc = _copy(draw(st.sampled_from(seed_documents(corpus))))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        if not isinstance(doc, dict) or not paths:
            break
        path = draw(st.sampled_from(paths))
        if draw(st.booleans()):
            # a field the code reads, added next to the chosen one (or inside it, when it is a mapping)
            target = path if isinstance(_get(doc, path), dict) else path[:-1]
            container = _get(doc, target)
            if isinstance(container, dict):
                container[draw(st.sampled_from(field_names()))] = draw(values())
                continue
        doc = _set(doc, path, draw(values()))
    return doc


def _get(obj: Any, path: tuple) -> Any:
    for step in path:
        obj = obj[step]
    return obj


# -- layouts ----------------------------------------------------------------------------------------------

class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(tuple, lambda dumper, data: dumper.represent_list(list(data)))
_Dumper.add_representer(frozenset, lambda dumper, data: dumper.represent_set(set(data)))


def to_yaml(docs: list[Any], *, flow: bool | None = None, indent: int = 2) -> str:
    return yaml.dump_all(docs, Dumper=_Dumper, default_flow_style=flow, indent=indent, allow_unicode=True,
                         sort_keys=False, width=80)


@st.composite
def layout(draw: st.DrawFn, docs: list[Any]) -> bytes:
    """The documents written as a user or a tool might: YAML in any style or JSON, CRLF, a BOM, comments."""
    if draw(st.integers(0, 5)) == 0 and len(docs) == 1:
        try:
            text = json.dumps(docs[0], indent=draw(st.sampled_from([None, 2])), default=_json_default)
        except (TypeError, ValueError):
            text = to_yaml(docs)
    else:
        text = to_yaml(docs, flow=draw(st.sampled_from([None, False, True])), indent=draw(st.integers(2, 6)))
    lines = text.split("\n")
    if draw(st.booleans()):
        for _ in range(draw(st.integers(1, 3))):
            at = draw(st.integers(0, len(lines)))
            lines.insert(at, draw(st.sampled_from(["# comment", "", "   # indented comment", "---", "..."])))
    text = "\n".join(lines)
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    return data


def _json_default(value: Any) -> Any:
    if isinstance(value, set):
        return sorted(map(str, value))
    if isinstance(value, bytes):
        return value.decode("latin-1")
    raise TypeError(type(value))


# -- the run ---------------------------------------------------------------------------------------------

POLICIES = {
    "default": None,
    "traefik": "gatewayController: traefik\nchecks:\n  image-tag-mutable: warning\n",
}
PROBE_ANSWERS = {
    "nothing resolves": {"dns": fake.dns({}), "registry": fake.registry({})},
    "everything found": {"dns": fake.dns({}), "registry": fake.registry({}, default=FOUND)},
}


def run_gate(folder: Path, render: bytes, state: bytes | None = None, *, policy: str = "default",
             probes: str = "nothing resolves") -> Any:
    """One pipeline run over a render (and a cluster state), with canned network answers."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "render.yaml").write_bytes(render)
    state_paths: tuple[str, ...] = ()
    if state is not None:
        (folder / "state.yaml").write_bytes(state)
        state_paths = (str(folder / "state.yaml"),)
    policy_path = None
    if POLICIES[policy] is not None:
        policy_path = folder / "policy.yaml"
        policy_path.write_text(POLICIES[policy], encoding="utf-8")
    from gate.config import ClusterOptions

    config = RunConfig(paths=[str(folder / "render.yaml")], policy=str(policy_path) if policy_path else None,
                       cluster=ClusterOptions(state_paths=state_paths))
    report = run(config, probe_answers=PROBE_ANSWERS[probes])
    for finding in report.findings:
        assert isinstance(finding.file, str) and isinstance(finding.line, int) and finding.line >= 1, finding
        assert isinstance(finding.message, str), finding
    return report


def same(a: Any, b: Any) -> bool:
    """Equality with NaN equal to itself (YAML `.nan` parses to a NaN on both sides)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b
