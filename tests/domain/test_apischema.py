"""gate.apischema: what the API server would reject, offline (fixtures that fire and must not)."""
from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path

import pytest
import yaml

from gate.apischema import Status, Validator, supported_kubernetes_versions
from gate.apischema import cel as apicel
from gate.apischema import generate
from gate.apischema.validator import load_data

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"


@pytest.fixture(scope="module")
def v() -> Validator:
    return Validator()


def load(text: str) -> dict:
    return yaml.safe_load(text)


CERT = """
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: pay, namespace: shop}
spec:
  secretName: pay-tls
  dnsNames: [pay.example.com]
  issuerRef: {name: letsencrypt, kind: ClusterIssuer}
"""

DEPLOY = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: nginx, ports: [{containerPort: 80}]}
"""

GATEWAY = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: traefik
  listeners:
  - name: https
    port: 443
    protocol: HTTPS
    hostname: pay.example.com
    tls:
      certificateRefs: [{name: pay-tls}]
"""

ROUTE = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: shop}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  hostnames: [pay.example.com]
  rules:
  - backendRefs: [{name: web, port: 80}]
"""


def fields(result) -> list[tuple[str, str, str]]:
    return [(x.field(), x.kind, x.message) for x in result.violations]


def test_valid_objects_pass(v):
    """The well-formed Certificate, Deployment, Gateway and HTTPRoute are valid."""
    for text in (CERT, DEPLOY, GATEWAY, ROUTE):
        r = v.validate(load(text))
        assert r.status is Status.VALID, fields(r)


def test_certificate_dnsname_typo_is_an_unknown_field(v):
    """dnsName (for dnsNames) is rejected by kubectl's strict field validation."""
    obj = load(CERT)
    obj["spec"]["dnsName"] = obj["spec"].pop("dnsNames")
    r = v.validate(obj)
    assert r.status is Status.INVALID
    assert ("spec.dnsName", "schema", 'unknown field "spec.dnsName"') in fields(r)


def test_deployment_replicas_string(v):
    """replicas: "two" is a type error."""
    obj = load(DEPLOY)
    obj["spec"]["replicas"] = "two"
    r = v.validate(obj)
    assert r.status is Status.INVALID
    assert fields(r) == [("spec.replicas", "schema",
                          'spec.replicas in body must be of type integer: "string"')]


def test_unknown_container_field_fires_deep_in_the_pod_template(v):
    """The built-in schema is complete down to containers."""
    obj = load(DEPLOY)
    obj["spec"]["template"]["spec"]["containers"][0]["imagee"] = "x"
    assert [f[0] for f in fields(v.validate(obj))] == ["spec.template.spec.containers[0].imagee"]


def test_unknown_api_version(v):
    """networking/v1 never existed: unknown, with the served versions as a hint."""
    r = v.validate({"apiVersion": "networking/v1", "kind": "Ingress", "metadata": {"name": "a"}})
    assert r.status is Status.UNKNOWN_API_VERSION
    assert r.message == 'no matches for kind "Ingress" in version "networking/v1"'
    assert "networking.k8s.io/v1" in r.served
    assert v.lookup("networking.k8s.io/v1", "Ingress").status is Status.VALID


@pytest.mark.parametrize("api_version,kind,removed_in,use", [
    ("networking.k8s.io/v1beta1", "Ingress", "1.22", "networking.k8s.io/v1"),
    ("extensions/v1beta1", "Ingress", "1.22", "networking.k8s.io/v1"),
    ("networking.k8s.io/v1beta1", "IngressClass", "1.22", "networking.k8s.io/v1"),
    ("extensions/v1beta1", "Deployment", "1.16", "apps/v1"),
    ("apps/v1beta1", "Deployment", "1.16", "apps/v1"),
    ("apps/v1beta2", "DaemonSet", "1.16", "apps/v1"),
    ("apps/v1beta1", "StatefulSet", "1.16", "apps/v1"),
    ("apps/v1beta2", "ReplicaSet", "1.16", "apps/v1"),
    ("batch/v1beta1", "CronJob", "1.25", "batch/v1"),
    ("autoscaling/v2beta1", "HorizontalPodAutoscaler", "1.25", "autoscaling/v2"),
    ("autoscaling/v2beta2", "HorizontalPodAutoscaler", "1.26", "autoscaling/v2"),
    ("policy/v1beta1", "PodDisruptionBudget", "1.25", "policy/v1"),
    ("cert-manager.io/v1alpha2", "Certificate", "1.7", "cert-manager.io/v1"),
    ("cert-manager.io/v1alpha3", "Issuer", "1.7", "cert-manager.io/v1"),
    ("cert-manager.io/v1beta1", "ClusterIssuer", "1.7", "cert-manager.io/v1"),
    ("gateway.networking.k8s.io/v1alpha2", "Gateway", "0.8.0", "gateway.networking.k8s.io/v1"),
    ("gateway.networking.k8s.io/v1alpha2", "HTTPRoute", "0.8.0", "gateway.networking.k8s.io/v1"),
    ("gateway.networking.k8s.io/v1alpha2", "GatewayClass", "0.8.0",
     "gateway.networking.k8s.io/v1"),
])
def test_removed_versions(v, api_version, kind, removed_in, use):
    """Each removed version says when it went and what to use."""
    r = v.validate({"apiVersion": api_version, "kind": kind, "metadata": {"name": "a"}})
    assert r.status is Status.REMOVED_API_VERSION, r
    assert (r.removal.removed_in, r.removal.use) == (removed_in, use)
    assert f"use {use}" in r.message


def test_removed_depends_on_the_target_release():
    """autoscaling/v2beta2 is still served by 1.25, gone in 1.26."""
    hpa = {"apiVersion": "autoscaling/v2beta2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "a"}}
    assert Validator("1.25").validate(hpa).status is Status.NOT_VALIDATED
    assert Validator("1.26").validate(hpa).status is Status.REMOVED_API_VERSION
    with pytest.raises(ValueError):
        Validator("1.10")
    assert "1.33" in supported_kubernetes_versions()


def test_crd_versions_not_served_are_removed(v):
    """A version the shipped CRD lists as served: false is reported as removed."""
    r = v.validate({"apiVersion": "gateway.networking.k8s.io/v1alpha2", "kind": "TCPRoute",
                    "metadata": {"name": "a"}, "spec": {}})
    assert r.status is Status.REMOVED_API_VERSION
    assert r.removal.use == "gateway.networking.k8s.io/v1"


def test_unknown_kind_is_not_an_error(v):
    """A kind of a CRD never seen is UNKNOWN_KIND (the caller's [?]), not invalid."""
    r = v.validate({"apiVersion": "traefik.io/v1alpha1", "kind": "Middleware",
                    "metadata": {"name": "a"}, "spec": {"whatever": 1}})
    assert r.status is Status.UNKNOWN_KIND
    assert not r.violations


def test_gateway_with_65_listeners_exceeds_max_items(v):
    """maxItems 64 on listeners; 64 distinct listeners are fine."""
    obj = load(GATEWAY)
    base = obj["spec"]["listeners"][0]
    obj["spec"]["listeners"] = [dict(copy.deepcopy(base), name=f"l{i}", hostname=f"h{i}.example.com")
                                for i in range(64)]
    assert v.validate(obj).status is Status.VALID
    obj["spec"]["listeners"].append(dict(copy.deepcopy(base), name="l64", hostname="x.example.com"))
    r = v.validate(obj)
    assert ("spec.listeners", "schema", "Too many: 65: must have at most 64 items") in fields(r)


def test_httproute_redirect_with_backend_refs_is_the_crd_cel_message(v):
    """A RequestRedirect filter and backendRefs in one rule: the CRD rule's message."""
    obj = load(ROUTE)
    obj["spec"]["rules"][0]["filters"] = [{"type": "RequestRedirect",
                                           "requestRedirect": {"scheme": "https"}}]
    r = v.validate(obj)
    assert fields(r) == [("spec.rules[0]", "cel",
                          "RequestRedirect filter must not be used together with backendRefs")]
    del obj["spec"]["rules"][0]["backendRefs"]
    assert v.validate(obj).status is Status.VALID


def test_listener_tls_without_mode_is_defaulted_to_terminate(v):
    """tls without mode is valid once defaulted: mode becomes Terminate, the input untouched."""
    obj = load(GATEWAY)
    before = copy.deepcopy(obj)
    r = v.validate(obj)
    assert r.status is Status.VALID
    assert r.defaulted["spec"]["listeners"][0]["tls"]["mode"] == "Terminate"
    assert r.defaulted["spec"]["listeners"][0]["allowedRoutes"]["namespaces"]["from"] == "Same"
    assert obj == before


def test_listener_terminate_without_certificate_refs_fires(v):
    """HTTPS Terminate with neither certificateRefs nor options is rejected by CEL.

    The rule reads size(self.options) of an absent field: the API server rejects with the
    evaluation error and the rule's message.
    """
    obj = load(GATEWAY)
    obj["spec"]["listeners"][0]["tls"] = {"mode": "Terminate", "certificateRefs": []}
    assert fields(v.validate(obj)) == [(
        "spec.listeners[0].tls", "cel", "no such key: options evaluating rule: certificateRefs "
        "or options must be specified when mode is Terminate")]


def test_parent_ref_namespace_is_escaped_for_cel(v):
    """Rules read namespace as __namespace__: duplicate parentRefs fire, distinct do not."""
    obj = load(ROUTE)
    obj["spec"]["parentRefs"] = [{"name": "gw", "namespace": "a"}, {"name": "gw", "namespace": "b"}]
    assert v.validate(obj).status is Status.VALID
    obj["spec"]["parentRefs"][1]["namespace"] = "a"
    assert v.validate(obj).status is Status.INVALID


WIDGET_CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            x-kubernetes-validations:
            - rule: "self.size <= self.max"
              messageExpression: "'size ' + string(self.size) + ' exceeds ' + string(self.max)"
            properties:
              size: {type: integer, minimum: 1}
              max: {type: integer, default: 10}
              color: {type: string, enum: [red, blue]}
"""


def test_crd_in_the_render_defines_its_kind():
    """A CRD added from the render validates its objects: schema, default, CEL message."""
    v = Validator()
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
              "spec": {"size": 3}}
    assert v.validate(widget).status is Status.UNKNOWN_KIND
    assert v.add_crd(load(WIDGET_CRD))
    r = v.validate(widget)
    assert r.status is Status.VALID and r.defaulted["spec"]["max"] == 10
    bad = copy.deepcopy(widget)
    bad["spec"] = {"size": 30, "color": "green", "shape": "round"}
    got = fields(v.validate(bad))
    assert ("spec.shape", "schema", 'unknown field "spec.shape"') in got
    assert ("spec.color", "schema", 'Unsupported value: "green": supported values: "red", "blue"') in got
    assert ("spec", "cel", "size 30 exceeds 10") in got
    assert v.validate({"apiVersion": "example.com/v2", "kind": "Widget",
                       "metadata": {"name": "w"}}).status is Status.UNKNOWN_API_VERSION


def test_unevaluable_rule_is_reported_not_passed():
    """A rule using a function this library lacks is one unevaluable violation, never a pass."""
    crd = load(WIDGET_CRD)
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "x-kubernetes-validations"] = [{"rule": "quantity(self.color).isInteger()", "message": "m"}]
    v = Validator()
    v.add_crd(crd)
    r = v.validate({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                    "spec": {"size": 1, "color": "red"}})
    assert r.status is Status.UNVERIFIED
    assert [x.kind for x in r.violations] == ["unevaluable"]


def test_transition_rules_are_skipped_on_create(v):
    """GatewayClass controllerName is immutable (self == oldSelf): no effect on a create."""
    r = v.validate({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
                    "metadata": {"name": "c"}, "spec": {"controllerName": "example.com/gw"}})
    assert r.status is Status.VALID


def test_hostile_inputs_never_raise(v):
    """Odd values anywhere give violations or statuses, not exceptions."""
    for obj in (None, 3, "x", [], {}, {"apiVersion": 1, "kind": []}, {"kind": "Pod"},
                {"apiVersion": "v1", "kind": "Pod", "metadata": "x", "spec": [1]},
                {"apiVersion": "a/b/c", "kind": "X"}):
        assert v.validate(obj).status is not Status.VALID
    assert not v.add_crd({"kind": "CustomResourceDefinition", "spec": {"group": 1}})
    assert not v.add_crd("nope")  # type: ignore[arg-type]


def test_cel_library_is_installed():
    """The CEL dependency is importable (otherwise every rule is unevaluable)."""
    assert apicel.available()


# --- property test: any value at any field ---------------------------------------------------

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
    | st.binary(max_size=4) | st.dates(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.text(max_size=6) | st.integers(), inner, max_size=4),
    max_leaves=12)

SAMPLES = [load(t) for t in (CERT, DEPLOY, GATEWAY, ROUTE)]


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, x in obj.items():
            yield from _paths(x, prefix + (k,))
    elif isinstance(obj, list):
        for i, x in enumerate(obj):
            yield from _paths(x, prefix + (i,))


@settings(max_examples=300, deadline=None)
@given(sample=st.sampled_from(range(len(SAMPLES))), where=st.integers(min_value=0),
       value=json_values)
def test_any_value_at_any_field_gives_violations_not_exceptions(sample, where, value):
    """Replacing any field of a valid object by any value never raises."""
    obj = copy.deepcopy(SAMPLES[sample])
    paths = [p for p in _paths(obj) if p and p[0] not in ("apiVersion", "kind")]
    path = paths[where % len(paths)]
    cur = obj
    for p in path[:-1]:
        cur = cur[p]
    cur[path[-1]] = value
    r = _V.validate(obj)
    assert r.status in Status


_V = Validator()


# --- the walk's shortcuts: plain scalars and strings that passed before ----------------------

def _finished_nodes(validator: Validator) -> list:
    """Every filled schema node reachable from the validator's compiled kinds."""
    seen: dict[int, object] = {}
    stack = list(validator._compiled.values())
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen or node.pending is not None:
            continue
        seen[id(node)] = node
        stack.extend((node.props or {}).values())
        stack.extend((node.items, node.additional, node.not_, *(node.any_of or ()), *(node.one_of or ()),
                      *(node.all_of or ())))
    return list(seen.values())


def _full_walk(validator: Validator, obj) -> object:
    """The result of the walk without its shortcuts: every scalar goes through Checker.run."""
    from gate.apischema import schema

    with pytest.MonkeyPatch.context() as m:
        m.setattr(schema, "_SCALARS", frozenset())  # nodes filled meanwhile get no shortcut either
        for node in _finished_nodes(validator):
            node.plain, node.passed = frozenset(), None
        result = validator.validate(obj)
    for node in _finished_nodes(validator):
        node.finish()
    return result


STRINGS = st.sampled_from(["", "a", "Gateway", "Service", "gateway.networking.k8s.io", "UPPER", "-x",
                           "x" * 300, "/", "Exact", "PathPrefix", "web", "a.b", "*.example.com"])


@settings(max_examples=200, deadline=None)
@given(sample=st.sampled_from(range(len(SAMPLES))), where=st.lists(st.integers(min_value=0), min_size=1, max_size=3),
       value=STRINGS | json_values, again=st.booleans())
def test_walk_shortcuts_decide_as_the_full_walk(sample, where, value, again):
    """Skipping plain scalars and strings a node has passed before gives the full walk's result, the
    first time a string is met and when it comes again (valid or not, at the same node or another)."""
    obj = copy.deepcopy(SAMPLES[sample])
    paths = [p for p in _paths(obj) if p and p[0] not in ("apiVersion", "kind")]
    for w in where:
        path = paths[w % len(paths)]
        cur = obj
        try:
            for p in path[:-1]:
                cur = cur[p]
            cur[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            pass  # an earlier replacement removed the path
    validator = Validator()
    for _ in range(2 if again else 1):
        shortcut = validator.validate(obj)
        full = _full_walk(validator, obj)
        assert (shortcut.status, shortcut.violations, shortcut.defaulted) == \
            (full.status, full.violations, full.defaulted)


def test_a_string_that_failed_is_never_remembered(v):
    """A string a node refused is checked again the next time (and refused again)."""
    route = load(ROUTE)
    bad = copy.deepcopy(route)
    bad["spec"]["parentRefs"][0]["sectionName"] = bad["spec"]["hostnames"][0] = "UPPER_case"
    for _ in range(3):
        assert [x.field() for x in v.validate(bad).violations] == ["spec.parentRefs[0].sectionName", "spec.hostnames[0]"]
        assert v.validate(route).status is Status.VALID


# --- shipped data ----------------------------------------------------------------------------

def test_data_files_are_compact_and_well_formed():
    """The shipped data is small, every entry is JSON, and it names its sources."""
    data = generate.DATA
    for name, sections in (("builtin.lines", ("releases", "defs")), ("crds.lines", ("defs",))):
        assert (data / name).stat().st_size < 400_000
        loaded = load_data((data / name).read_bytes())
        assert loaded["format"] == 2
        for section in sections:
            entries = loaded[section]
            assert len(entries) > 10
            assert all(isinstance(entries[key], dict) for key in entries)
    removed = json.loads((data / "removed.json").read_text())
    for r in removed["removals"]:
        assert r["source"] and r["removed_in"] and r["kinds"]


@pytest.mark.skipif(not (CORPUS / "crds").is_dir(), reason="../shared/corpus/crds not present")
def test_committed_crd_data_matches_a_fresh_generation():
    """crds.lines is exactly what generate.py makes from ../shared (regenerate if not)."""
    fresh = generate.encode(generate.crd_data(SHARED))
    assert (generate.DATA / "crds.lines").read_bytes() == fresh, \
        "run: python3 -m gate.apischema.generate"


def test_committed_builtin_data_matches_a_fresh_generation():
    """builtin.lines is exactly what generate.py makes from kubernetes-validate."""
    kv = pytest.importorskip("kubernetes_validate.version",
                             reason="kubernetes-validate not installed (pip install kubernetes-validate)")
    recorded = load_data((generate.DATA / "builtin.lines").read_bytes())
    if kv.__version__ not in recorded["source"]:
        pytest.skip(f"kubernetes-validate {kv.__version__} installed, data made from: "
                    f"{recorded['source']}")
    assert (generate.DATA / "builtin.lines").read_bytes() == generate.encode(generate.builtin_data())


def test_package_data_is_in_the_wheel():
    """pyproject's hatch build ships gate/ whole, data files included."""
    text = (REPO / "pyproject.toml").read_text()
    assert 'packages = ["gate"]' in text
    assert "cel-expr-python" in text


# --- the whole corpus ------------------------------------------------------------------------

# Every violation the corpus yields, investigated: (file suffix, field) pairs that are real
# rejections are listed by why; the test fails on any new one so a false violation shows.
def _corpus_docs():
    class Loader(yaml.CSafeLoader):
        pass
    Loader.add_constructor("tag:yaml.org,2002:value", lambda l, n: l.construct_scalar(n))
    for f in sorted(CORPUS.rglob("*")):
        if "big" in f.parts or f.suffix not in (".yaml", ".yml", ".json") or "crds" in f.parts:
            continue
        try:
            docs = [d for d in yaml.load_all(f.read_bytes(), Loader=Loader) if isinstance(d, dict)]
        except yaml.YAMLError:
            continue
        yield f, docs


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus not present")
def test_corpus_violations_are_real_rejections():
    """Every object of ../shared/corpus validates without a crash; violations are listed."""
    counts: dict[str, int] = {}
    seen: list[str] = []
    for f, docs in _corpus_docs():
        v = Validator()  # one per file: the file's own CRDs are what its cluster would serve
        for d in docs:
            if d.get("kind") == "CustomResourceDefinition":
                v.add_crd(d, str(f))
        for d in docs:
            items = d.get("items") if str(d.get("kind", "")).endswith("List") else None
            for obj in items if isinstance(items, list) else [d]:
                if not isinstance(obj, dict) or "apiVersion" not in obj:
                    continue  # kustomization.yaml, Helm values: not objects a gate is given
                r = v.validate(obj)
                counts[r.status.value] = counts.get(r.status.value, 0) + 1
                for x in r.violations:
                    seen.append(f"{f.relative_to(CORPUS)}: {obj.get('kind')} {x.field()}: {x.message}")
    print("\n".join(seen))
    print(counts)
    # Nothing the validator cannot evaluate on the real rules of the shipped CRDs.
    assert not [s for s in seen if "cannot be evaluated" in s]
    assert counts.get("valid", 0) > 2500
    invalid = {s.split(":")[0] for s in seen}
    unexplained = {p for p in invalid if not any(p.startswith(k) or k in p for k in KNOWN_INVALID)}
    assert not unexplained, sorted(unexplained)


# Files whose objects are rejected, each checked by hand: the reason is what the API server says.
KNOWN_INVALID = {
    "gateway-api/hack/invalid-examples/": "examples written to be rejected",
    "argo-cd/test/e2e/testdata/": "kustomization/Chart files, removed APIs, invalid-cm, "
                                  "containerPort as string: fixtures of failures",
    "argo-cd-docs-snippets/": "partial snippets: Application without destination, Deployment "
                              "without selector, a string annotation value",
    "cert-manager-website-docs-snippets/": "partial snippets and placeholders ('<base64 ...>' "
                                           "as bytes, missing secretName, emailAddress typo)",
    "traefik/pkg/provider/kubernetes/gateway/fixtures/": "fixtures against older Gateway API: "
                                                         "TLSRoute v1 requires hostnames, CEL "
                                                         "listener rules",
    "gateway-api/conformance/tests/": "placeholders ({GATEWAY_CONTROLLER_NAME}, addresses "
                                      "substituted at run time); experimental-only fields "
                                      "(retry) under the standard channel",
    "envoy-gateway/test/e2e/testdata/": "templated gatewayClassName; experimental-only "
                                        "sessionPersistence; ReferenceGrant to[].namespace",
    "ingress-nginx/docs/examples/": "placeholder base64, env value true (a bool)",
    "microservices-demo/kustomize/components/": "a kustomize $patch file, not an object",
    "traefik/pkg/provider/kubernetes/ingress/fixtures/": "networking.k8s.io/v1 paths without the "
                                                          "required pathType",
    "ingress-nginx/deploy/": "apps/v1 Deployments without the required selector",
    "cert-manager-website/public/docs/tutorials/certificate-defaults/": "a Certificate left "
                                                                         "incomplete on purpose "
                                                                         "(defaults by policy)",
}


def test_cel_memo_tells_long_values_apart(v):
    # Long values are remembered by digest: two paths that differ in one character deep inside must
    # still get their own verdicts, in either order.
    def route(path: str) -> dict:
        return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                "metadata": {"name": "r", "namespace": "shop"},
                "spec": {"rules": [{"matches": [{"path": {"type": "PathPrefix", "value": path}}]}]}}

    good = "/" + "a" * 300 + "/b"
    bad = "/" + "a" * 300 + "//b"
    for first, second in ((good, bad), (bad, good)):
        results = [v.validate(route(first)), v.validate(route(second)), v.validate(route(first))]
        statuses = [r.status for r in results]
        expect = [Status.VALID if p == good else Status.INVALID for p in (first, second, first)]
        assert statuses == expect


def test_cel_memo_repeats_a_remembered_violation_at_each_place(v, monkeypatch):
    # A value met again gives the remembered violations, at the new object's own path; the bounded memo
    # emptied in between changes no verdict.
    from gate.apischema import cel

    def route(paths: list[str]) -> dict:
        return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                "metadata": {"name": "r", "namespace": "shop"},
                "spec": {"rules": [{"matches": [{"path": {"type": "PathPrefix", "value": p}} for p in paths]}]}}

    monkeypatch.setattr(cel, "_RESULTS_MAX", 3)
    first = v.validate(route(["//twice"]))
    again = v.validate(route(["/fine", "//twice"]))
    assert first.status == again.status == Status.INVALID
    assert [x.field() for x in first.violations] == ["spec.rules[0].matches[0].path"]
    assert [x.field() for x in again.violations] == ["spec.rules[0].matches[1].path"]
    assert [x.message for x in first.violations] == [x.message for x in again.violations]
    for n in range(10):  # past the bound, a few times over
        assert v.validate(route([f"/p{n}"])).status == Status.VALID
    assert v.validate(route(["//twice"])).violations == first.violations


def test_cel_verdict_is_the_same_whatever_was_met_before(v):
    # The rules are evaluated on what they can read: a listener holding a key CEL cannot take (a null
    # key, which the walk reports) in a part no rule reads must not lend its CEL error to an equal
    # listener met later, nor take the clean one's verdict; either order, memo full or empty.
    from gate.apischema import cel

    def gateway(extra: dict) -> dict:
        listener = {"name": "https", "protocol": "HTTPS", "port": 443, "hostname": "app.example.com",
                    "tls": {"certificateRefs": [{"name": "app-tls"}]}, **extra}
        return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                "metadata": {"name": "gw", "namespace": "infra"},
                "spec": {"gatewayClassName": "example", "listeners": [listener]}}

    clean, odd = gateway({}), gateway({None: 1})
    alone = {}
    for name, obj in (("clean", clean), ("odd", odd)):
        cel._RESULTS.clear()
        alone[name] = v.validate(obj).violations
    assert alone["clean"] == ()
    assert [x.message for x in alone["odd"]] == ["spec.listeners[0].None: object keys must be strings"]
    for order in (("clean", "odd"), ("odd", "clean")):
        cel._RESULTS.clear()
        for name in order:
            assert v.validate(clean if name == "clean" else odd).violations == alone[name], order
