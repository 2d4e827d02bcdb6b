"""Generate the compact schema data in ``gate/apischema/data/`` from official sources.

    python3 -m gate.apischema.generate [--shared ../shared] [--check]

Sources, never hand-written schemas:

* built-in kinds: the OpenAPI-derived JSON schemas that PyPI ``kubernetes-validate`` ships per
  Kubernetes release (``kubernetes-json-schema/v1.NN.0-local-strict``, generated from the
  release's ``api/openapi-spec``). Needs ``pip install kubernetes-validate`` (a generation-time
  dependency only: what is shipped is the compact copy).
* CRDs: the official CRD files in ``../shared/corpus/crds`` (Gateway API standard channel,
  cert-manager), plus the Gateway API experimental channel when a folder
  ``gateway-api/config/crd/experimental`` is present there.

Only what validation needs is kept (types, properties, required, enums, patterns, formats, bounds,
list types, defaults, CEL rules and their messages); descriptions are dropped and identical
sub-schemas are stored once (Issuer and ClusterIssuer share one spec), so the data stays small.
Output is deterministic (sorted keys): ``--check`` and the test compare bytes.

File format (``*.lines``): a first line of JSON (everything but the large sections), then one
``SECTION KEY JSON`` line per entry of ``releases`` and ``defs``. A run parses an entry when it first
reads it (gate.apischema.validator.load_data): a one-document run compiles a few of the 461 built-in
sub-schemas and one release's table, not all 270 KB.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any, Callable

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]

# The kinds the gate reads (sources, index, checks). Other built-in kinds are still *known* (the
# served table lists every group/version/kind of each release) but are not schema-validated.
BUILTIN_KINDS = (
    "Service", "Ingress", "IngressClass", "Secret", "Namespace", "Deployment", "StatefulSet",
    "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod", "ConfigMap", "ServiceAccount",
)
# Kubernetes releases whose schemas are shipped; kubernetes-validate starts at 1.25.
FIRST_RELEASE = (1, 25)

CRD_GLOBS = (
    ("gateway-api-standard", "corpus/crds/gateway-api/config/crd/standard/*.yaml"),
    ("gateway-api-experimental", "corpus/crds/gateway-api/config/crd/experimental/*.yaml"),
    ("cert-manager", "corpus/crds/cert-manager/deploy/crds/*.yaml"),
)

# Sub-schemas whose JSON is at least this long are interned (stored once in "defs").
INTERN_MIN = 120


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Interner:
    """Stores each distinct large sub-schema once, named by a hash of its content."""

    def __init__(self, dedupe: bool = True) -> None:
        self.defs: dict[str, Any] = {}
        self.dedupe = dedupe  # off at run time (Validator.add_crd): hashing costs more than it saves

    def add(self, node: dict) -> dict:
        if not self.dedupe:
            return node
        text = canonical(node)
        if len(text) < INTERN_MIN:
            return node
        key = hashlib.sha256(text.encode()).hexdigest()[:12]
        self.defs.setdefault(key, node)
        return {"$": key}


def _types(schema: dict) -> tuple[list[str], bool]:
    t = schema.get("type")
    if t is None:
        return [], False
    if isinstance(t, str):
        return [t], False
    return [x for x in t if x != "null"], "null" in t


def compact_level(schema: Any, builtin: bool,
                  resolve: Callable[[str], dict] | None = None) -> dict:
    """One OpenAPI/JSON schema node -> its compact form, sub-schemas left as they are.

    Keys: see gate.apischema.schema.Compiler. Sub-schemas sit under "p" (properties), "ap"
    (additionalProperties), "i" (items), "any"/"one"/"all" and "not".
    """
    if not isinstance(schema, dict):
        return {}
    if "$ref" in schema:
        ref = schema["$ref"]
        if resolve is None or not isinstance(ref, str):
            return {}
        return compact_level(resolve(ref.rsplit("/", 1)[-1]), builtin, resolve)
    out: dict[str, Any] = {}
    one_of = schema.get("oneOf")
    if isinstance(one_of, list) and one_of and all(isinstance(o, dict) and set(o) <= {"type"}
                                                   for o in one_of):
        # Built-in IntOrString / Quantity: a plain union of types.
        types = sorted({t for o in one_of for t in _types(o)[0]})
        if types == ["integer", "string"]:
            out["ios"] = 1
        else:
            out["t"] = types
        schema = {k: v for k, v in schema.items() if k != "oneOf"}
    types, nullable = _types(schema)
    types = [t for t in types if isinstance(t, str)]
    if len(types) == 1:
        out["t"] = types[0]
    elif types:
        out["t"] = sorted(types)
    # Built-in schemas allow null everywhere (JSON null = unset for a Go field); a CRD field is
    # nullable only when it says so.
    if nullable or schema.get("nullable") is True or builtin:
        out["n"] = 1
    if schema.get("x-kubernetes-int-or-string") is True:
        out["ios"] = 1
        out.pop("t", None)
    props = schema.get("properties")
    if isinstance(props, dict):
        out["p"] = {k: v for k, v in sorted(props.items()) if isinstance(k, str)}
    ap = schema.get("additionalProperties")
    if isinstance(ap, dict):
        out["ap"] = ap
    elif ap is True:
        out["pu"] = 1
    if schema.get("x-kubernetes-preserve-unknown-fields") is True:
        out["pu"] = 1
    if schema.get("x-kubernetes-embedded-resource") is True:
        out["emb"] = 1
    is_object = out.get("t") == "object" or "p" in out
    if is_object and "ap" not in out and "pu" not in out:
        if builtin:
            # The "-strict" variant sets additionalProperties: false where unknown fields are
            # rejected; an object without it (RawExtension, FieldsV1) holds anything.
            if ap is False:
                out["c"] = 1
            else:
                out["pu"] = 1
        else:
            # A structural schema prunes every undeclared field; kubectl's strict field
            # validation (the default since 1.27) reports them instead.
            out["c"] = 1
    if isinstance(schema.get("items"), dict):
        out["i"] = schema["items"]
    for src, dst, kinds in (("required", "r", list), ("enum", "e", list),
                            ("pattern", "pt", str), ("format", "f", str),
                            ("minimum", "mn", (int, float)), ("maximum", "mx", (int, float)),
                            ("minLength", "mnl", int), ("maxLength", "mxl", int),
                            ("minItems", "mni", int), ("maxItems", "mxi", int),
                            ("minProperties", "mnp", int), ("maxProperties", "mxp", int),
                            ("x-kubernetes-list-type", "lt", str),
                            ("x-kubernetes-list-map-keys", "lk", list)):
        val = schema.get(src)
        if isinstance(val, kinds) and not isinstance(val, bool):
            out[dst] = val
    if "r" in out:
        out["r"] = [r for r in out["r"] if isinstance(r, str)]
    if "lk" in out:
        out["lk"] = [k for k in out["lk"] if isinstance(k, str)]
    if schema.get("exclusiveMinimum") is True:
        out["xmn"] = 1
    if schema.get("exclusiveMaximum") is True:
        out["xmx"] = 1
    if "default" in schema and not builtin:
        out["d"] = schema["default"]
    if out.get("lt") not in ("set", "map"):
        out.pop("lt", None)
    for comb, key in (("anyOf", "any"), ("oneOf", "one"), ("allOf", "all")):
        val = schema.get(comb)
        if isinstance(val, list) and val:
            out[key] = [s for s in val if isinstance(s, dict)]
    if isinstance(schema.get("not"), dict):
        out["not"] = schema["not"]
    rules = schema.get("x-kubernetes-validations")
    if isinstance(rules, list) and rules:
        out["x"] = [{k: r[k] for k in ("rule", "message", "messageExpression", "fieldPath",
                                       "reason", "optionalOldSelf") if k in r}
                    for r in rules if isinstance(r, dict)]
    return out


def compact(schema: Any, interner: Interner, resolve: Callable[[str], dict] | None,
            builtin: bool, stack: tuple[str, ...] = ()) -> dict:
    """A whole OpenAPI/JSON schema -> the compact form, large sub-schemas interned."""
    if isinstance(schema, dict) and "$ref" in schema and resolve is not None:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in stack:
            raise ValueError(f"recursive schema through {name}: not supported")
        return compact(resolve(name), interner, resolve, builtin, stack + (name,))
    out = compact_level(schema, builtin, resolve)
    def sub(x: Any) -> dict:
        return compact(x, interner, resolve, builtin, stack)
    if "p" in out:
        out["p"] = {k: sub(v) for k, v in out["p"].items()}
    for key in ("ap", "i", "not"):
        if key in out:
            out[key] = sub(out[key])
    for key in ("any", "one", "all"):
        if key in out:
            out[key] = [sub(x) for x in out[key]]
    return interner.add(out)


# --- built-in kinds --------------------------------------------------------------------------

def _release_key(name: str) -> tuple[int, int] | None:
    m = re.fullmatch(r"v(\d+)\.(\d+)\.0-local-strict", name)
    return (int(m.group(1)), int(m.group(2))) if m else None


def builtin_data() -> dict:
    import kubernetes_validate  # generation-time only
    from kubernetes_validate.version import __version__ as kv_version

    root = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    interner = Interner()
    releases: dict[str, Any] = {}
    for folder in sorted(root.iterdir(), key=lambda p: _release_key(p.name) or (0, 0)):
        rel = _release_key(folder.name)
        if rel is None or rel < FIRST_RELEASE:
            continue
        defs = json.loads((folder / "_definitions.json").read_text())["$defs"]
        served: dict[str, list[str]] = {}
        schemas: dict[str, Any] = {}
        for name, d in sorted(defs.items()):
            gvks = d.get("x-kubernetes-group-version-kind") or []
            if len(gvks) != 1:
                continue  # DeleteOptions, WatchEvent...: registered in every group, not kinds
            g = gvks[0]
            api_version = f"{g['group']}/{g['version']}" if g["group"] else g["version"]
            served.setdefault(api_version, []).append(g["kind"])
            if g["kind"] in BUILTIN_KINDS:
                schemas[f"{api_version}/{g['kind']}"] = compact(
                    d, interner, defs.__getitem__, True, (name,))["$"]
        meta = compact(defs["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"], interner,
                       defs.__getitem__, True)["$"]
        releases[f"{rel[0]}.{rel[1]}"] = {
            "served": {k: sorted(v) for k, v in sorted(served.items())},
            "schemas": schemas,
            "objectmeta": meta,
        }
    return {
        "format": 2,
        "source": f"PyPI kubernetes-validate {kv_version} (kubernetes-json-schema/*-local-strict)",
        "kinds": list(BUILTIN_KINDS),
        "releases": releases,
        "defs": dict(sorted(interner.defs.items())),
    }


# --- CRDs ------------------------------------------------------------------------------------

def _load_yaml_docs(path: Path) -> list[Any]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return [d for d in yaml.load_all(path.read_bytes(), Loader=loader) if d]


def crd_data(shared: Path) -> dict:
    interner = Interner()
    crds: list[dict] = []
    sources: list[dict] = []
    for channel, pattern in CRD_GLOBS:
        files = sorted(shared.glob(pattern))
        for f in files:
            body = f.read_bytes()
            sources.append({"channel": channel, "path": str(f.relative_to(shared)),
                            "sha256": hashlib.sha256(body).hexdigest()})
            for doc in _load_yaml_docs(f):
                if doc.get("kind") != "CustomResourceDefinition":
                    continue
                entry = compact_crd(doc, interner)
                entry["channel"] = channel
                labels = (doc.get("metadata") or {}).get("annotations") or {}
                for key in ("gateway.networking.k8s.io/bundle-version", "app.kubernetes.io/version"):
                    if key in labels:
                        entry["bundle"] = labels[key]
                crds.append(entry)
    return {"format": 2, "sources": sources, "crds": crds,
            "defs": dict(sorted(interner.defs.items()))}


def compact_crd(doc: dict, interner: Interner) -> dict:
    """A CustomResourceDefinition body -> {group, kind, scope, versions: [...]}.

    Also used at run time by Validator.add_crd for CRDs found in a render or cluster state.
    """
    spec = doc.get("spec") or {}
    names = spec.get("names") or {}
    versions = []
    for v in spec.get("versions") or []:
        schema = ((v.get("schema") or {}).get("openAPIV3Schema")) or {}
        versions.append({
            "name": v.get("name"),
            "served": bool(v.get("served", False)),
            "storage": bool(v.get("storage", False)),
            "deprecated": bool(v.get("deprecated", False)),
            # With a status subresource the API server ignores status on create.
            "status": "status" in ((v.get("subresources") or {})),
            **({"warning": v["deprecationWarning"]} if v.get("deprecationWarning") else {}),
            "schema": compact(schema, interner, None, False),
        })
    return {"group": spec.get("group"), "kind": names.get("kind"), "plural": names.get("plural"),
            "scope": spec.get("scope"), "versions": versions}


# --- files -----------------------------------------------------------------------------------

# Sections written one entry per line (see the module's docstring).
LINE_SECTIONS = ("releases", "defs")


def encode(data: dict) -> bytes:
    lines = [canonical({k: v for k, v in data.items() if k not in LINE_SECTIONS})]
    for section in LINE_SECTIONS:
        for key, value in sorted((data.get(section) or {}).items()):
            if not key or any(c.isspace() for c in key):
                raise ValueError(f"{section} key {key!r}: a data file's keys have no spaces")
            lines.append(f"{section} {key} {canonical(value)}")
    return ("\n".join(lines) + "\n").encode()


def targets(shared: Path | None) -> dict[str, Callable[[], dict]]:
    out: dict[str, Callable[[], dict]] = {}
    try:
        import kubernetes_validate  # noqa: F401
        out["builtin.lines"] = builtin_data
    except ImportError:
        pass
    if shared is not None and (shared / "corpus" / "crds").is_dir():
        out["crds.lines"] = lambda: crd_data(shared)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--check", action="store_true", help="compare with the committed files")
    args = ap.parse_args(argv)
    todo = targets(args.shared)
    if not todo:
        print("nothing to generate: install kubernetes-validate and/or pass --shared", file=sys.stderr)
        return 2
    status = 0
    for name, make in todo.items():
        blob = encode(make())
        path = DATA / name
        if args.check:
            if not path.exists() or path.read_bytes() != blob:
                print(f"{path}: differs from a fresh generation", file=sys.stderr)
                status = 1
        else:
            path.write_bytes(blob)
            print(f"{path}: {len(blob):,} bytes")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
