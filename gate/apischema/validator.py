"""The Validator: which kinds and API versions exist, and what the API server would reject."""
from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .schema import MAX_VIOLATIONS, Checker, Compiler, Node, TooManyViolations, Violation

DEFAULT_KUBERNETES_VERSION = "1.33"
# `Removal.removed_in` of a version the CRD in use lists but does not serve (no release known).
NOT_SERVED_BY_CRD = "not served by the CRD"


class Status(str, enum.Enum):
    VALID = "valid"  # validated: the API server would accept it
    INVALID = "invalid"  # schema or CEL violations: it would be rejected
    UNVERIFIED = "unverified"  # no violation, but some CEL rule could not be evaluated offline
    NOT_VALIDATED = "not-validated"  # a served kind whose schema is not shipped
    UNKNOWN_KIND = "unknown-kind"  # a kind of a CRD never seen: cannot tell (the caller's [?])
    UNKNOWN_API_VERSION = "unknown-api-version"  # known kind or group, version never served
    REMOVED_API_VERSION = "removed-api-version"  # served once, no longer


@dataclass(frozen=True)
class Removal:
    """A version no longer served: since which release and what to use instead."""

    api_version: str
    kind: str
    component: str  # kubernetes, cert-manager, gateway-api
    removed_in: str
    use: str | None
    source: str


@dataclass(frozen=True)
class Result:
    status: Status
    violations: tuple[Violation, ...] = ()
    message: str = ""  # one line for the unknown and removed statuses
    removal: Removal | None = None
    served: tuple[str, ...] = ()  # the API versions the kind is served as, for a hint
    source: str = ""  # where the schema came from
    defaulted: Any = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return self.status in (Status.VALID, Status.NOT_VALIDATED)


# --- shipped data ----------------------------------------------------------------------------

def _read(name: str) -> bytes:
    # Beside this module in every install the gate has (a wheel unpacked, a checkout): a plain path
    # read, without importlib.resources' import cost on every start.
    return (Path(__file__).parent / "data" / name).read_bytes()


class _Entries(Mapping):
    """One section of a data file, each entry's JSON parsed the first time it is read."""

    def __init__(self) -> None:
        self.text: dict[str, bytes] = {}
        self.parsed: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        try:
            return self.parsed[key]
        except KeyError:
            value = self.parsed[key] = json.loads(self.text[key])
            return value

    def __contains__(self, key: object) -> bool:
        return key in self.text

    def __iter__(self) -> Iterator[str]:
        return iter(self.text)

    def __len__(self) -> int:
        return len(self.text)


def load_data(blob: bytes) -> dict:
    """A data file (format: gate.apischema.generate): the header, its line sections as _Entries."""
    head, *lines = blob.splitlines()
    data = json.loads(head)
    for line in lines:
        section, key, text = line.split(b" ", 2)
        data.setdefault(section.decode(), _Entries()).text[key.decode()] = text
    return data


@lru_cache(maxsize=None)
def builtin_data() -> dict:
    return load_data(_read("builtin.lines"))


@lru_cache(maxsize=None)
def crd_data() -> dict:
    return load_data(_read("crds.lines"))


@lru_cache(maxsize=None)
def removal_table() -> dict[tuple[str, str], Removal]:
    data = json.loads(_read("removed.json"))
    out: dict[tuple[str, str], Removal] = {}
    for r in data["removals"]:
        for kind in r["kinds"]:
            out[(r["api_version"], kind)] = Removal(r["api_version"], kind, r["component"],
                                                    r["removed_in"], r["use"], r["source"])
    return out


@lru_cache(maxsize=None)
def _builtin_compiler() -> Compiler:
    return Compiler(builtin_data()["defs"], builtin=True)


@lru_cache(maxsize=None)
def _shipped_crd_compiler() -> Compiler:
    return Compiler(crd_data()["defs"], builtin=False)


def supported_kubernetes_versions() -> list[str]:
    return sorted(builtin_data()["releases"], key=_release)


def gateway_api_channels() -> list[str]:
    chans = {c["channel"] for c in crd_data()["crds"] if c["channel"].startswith("gateway-api-")}
    return sorted(c.removeprefix("gateway-api-") for c in chans)


def _release(v: str) -> tuple[int, ...]:
    m = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?", str(v).strip())
    if not m:
        raise ValueError(f"not a Kubernetes version: {v!r} (expected e.g. 1.33)")
    return int(m.group(1)), int(m.group(2))


def _split_api_version(av: str) -> tuple[str, str] | None:
    parts = av.split("/")
    if len(parts) == 1 and parts[0]:
        return "", parts[0]
    if len(parts) == 2 and parts[0] and parts[1]:
        return parts[0], parts[1]
    return None


# --- kinds -----------------------------------------------------------------------------------

@dataclass
class _CrdVersion:
    name: str
    served: bool
    status_subresource: bool
    schema: Any  # compact data, or None when the version has no schema
    compiler: Compiler | None
    raw: Any = None  # openAPIV3Schema of an added CRD, compacted on first use

    def compact(self) -> tuple[Any, Compiler | None]:
        if self.raw is not None:
            self.schema = dict(self.raw)
            self.compiler = Compiler({}, builtin=False, raw=True)
            self.raw = None
        return self.schema, self.compiler


@dataclass
class _Crd:
    group: str
    kind: str
    versions: dict[str, _CrdVersion]
    source: str


class Validator:
    """What the API server (with kubectl's strict field validation) would reject, offline.

    One Validator per run: each kind's schema is compiled on first use and kept.
    """

    def __init__(self, kubernetes_version: str = DEFAULT_KUBERNETES_VERSION,
                 gateway_api_channel: str = "standard") -> None:
        rel = _release(kubernetes_version)
        releases = builtin_data()["releases"]
        key = f"{rel[0]}.{rel[1]}"
        if key not in releases:
            raise ValueError(f"Kubernetes {key} is not shipped; supported: "
                             + ", ".join(supported_kubernetes_versions()))
        if gateway_api_channel not in gateway_api_channels():
            raise ValueError(f"Gateway API channel {gateway_api_channel!r} is not shipped; "
                             f"shipped: {', '.join(gateway_api_channels())}")
        self.kubernetes_version = key
        self.gateway_api_channel = gateway_api_channel
        self._release = releases[key]
        self._served: dict[str, frozenset[str]] = {
            av: frozenset(kinds) for av, kinds in self._release["served"].items()}
        self._builtin_groups = frozenset(_split_api_version(av)[0] for av in self._served)
        self._shipped: dict[tuple[str, str], _Crd] = self._shipped_crds()
        self._added: dict[tuple[str, str], _Crd] = {}
        self._compiled: dict[tuple, Node] = {}
        self._meta: Node | None = None
        # What _lookup answers for an (apiVersion, kind) pair of strings: a render repeats a handful of
        # pairs thousands of times. Emptied when a CRD is added.
        self._lookups: dict[tuple[str, str], tuple[Result, tuple | None]] = {}

    # -- registry --

    def _shipped_crds(self) -> dict[tuple[str, str], _Crd]:
        wanted = f"gateway-api-{self.gateway_api_channel}"
        out: dict[tuple[str, str], _Crd] = {}
        comp = _shipped_crd_compiler()
        for entry in crd_data()["crds"]:
            key = (entry["group"], entry["kind"])
            channel = entry["channel"]
            if channel.startswith("gateway-api-") and channel != wanted and key in out:
                continue  # the chosen channel wins; other channels only add kinds
            if key in out and not channel.startswith("gateway-api-"):
                continue
            crd = self._crd_from_compact(entry, comp, f"{channel} {entry.get('bundle', '')}".strip())
            if key in out and channel != wanted:
                continue
            out[key] = crd
        return out

    @staticmethod
    def _crd_from_compact(entry: dict, compiler: Compiler, source: str) -> _Crd:
        versions = {}
        for v in entry.get("versions") or []:
            if isinstance(v.get("name"), str):
                versions[v["name"]] = _CrdVersion(v["name"], bool(v.get("served")),
                                                  bool(v.get("status")), v.get("schema"), compiler)
        return _Crd(entry["group"], entry["kind"], versions, source)

    def add_crd(self, body: Mapping[str, Any], source: str = "render") -> bool:
        """Register a CustomResourceDefinition (from the render or the cluster state).

        Its kind then validates against it, taking precedence over a shipped CRD of the same
        group and kind (it is what the cluster will serve). Returns False, registering nothing,
        when the body is not a usable apiextensions.k8s.io/v1 CRD. Cheap: a version's schema is
        compiled only when an object of it is validated.
        """
        if not isinstance(body, Mapping) or body.get("kind") != "CustomResourceDefinition":
            return False
        spec = body.get("spec")
        if not isinstance(spec, Mapping):
            return False
        names = spec.get("names")
        group, kind = spec.get("group"), names.get("kind") if isinstance(names, Mapping) else None
        if not isinstance(group, str) or not isinstance(kind, str) or not group or not kind:
            return False
        versions: dict[str, _CrdVersion] = {}
        for v in spec.get("versions") or ():
            if not isinstance(v, Mapping) or not isinstance(v.get("name"), str):
                continue
            schema = v.get("schema")
            raw = schema.get("openAPIV3Schema") if isinstance(schema, Mapping) else None
            sub = v.get("subresources")
            versions[v["name"]] = _CrdVersion(
                v["name"], v.get("served") is True,
                isinstance(sub, Mapping) and "status" in sub, None, None,
                raw if isinstance(raw, Mapping) and raw else None)
        key = (group, kind)
        self._added[key] = _Crd(group, kind, versions, f"CRD {source}")
        self._lookups.clear()
        for k in [k for k in self._compiled if k[:2] == key]:
            del self._compiled[k]
        return True

    def _objectmeta(self) -> Node:
        if self._meta is None:
            self._meta = _builtin_compiler().node({"$": self._release["objectmeta"]})
        return self._meta

    def _root(self, key: tuple, data: Any, compiler: Compiler, crd: bool) -> Node:
        node = self._compiled.get(key)
        if node is None:
            base = compiler.node(data).ensure()
            node = Node()
            for slot in Node.__slots__:
                setattr(node, slot, getattr(base, slot))
            props = dict(base.props or {})
            if crd:
                # A custom resource's metadata is ObjectMeta whatever the CRD says (the API
                # server validates it as for built-in kinds; the CRD may only narrow name).
                props["metadata"] = self._objectmeta()
                for k in ("apiVersion", "kind"):
                    props.setdefault(k, compiler.node({"t": "string"}))
                node.closed = not base.free
            node.props = props
            node.finish()
            node.defaults = tuple((k, c) for k, c in props.items() if c.has_default or c.defaults)
            self._compiled[key] = node
        return node

    # -- lookup --

    def lookup(self, api_version: Any, kind: Any) -> Result:
        """Whether the kind is served in that API version; ``Result`` without violations."""
        return self._lookup(api_version, kind)[0]

    def _lookup(self, api_version: Any, kind: Any) -> tuple[Result, tuple | None]:
        if not isinstance(api_version, str) or not api_version:
            return Result(Status.INVALID, (Violation(("apiVersion",), "Required value: "
                          "Object 'apiVersion' is missing"),)), None
        if not isinstance(kind, str) or not kind:
            return Result(Status.INVALID, (Violation(("kind",), "Required value: "
                          "Object 'Kind' is missing"),)), None
        no_match = f'no matches for kind "{kind}" in version "{api_version}"'
        gv = _split_api_version(api_version)
        if gv is None:
            return Result(Status.UNKNOWN_API_VERSION, message=no_match), None
        group, version = gv
        key = (group, kind)
        crd = self._added.get(key)
        if crd is None and (group in self._builtin_groups or group == ""):
            return self._lookup_builtin(api_version, group, version, kind, no_match)
        if crd is None:
            crd = self._shipped.get(key)
        if crd is not None:
            v = crd.versions.get(version)
            served = tuple(f"{group}/{n}" for n, x in crd.versions.items() if x.served)
            if v is not None and v.served:
                return Result(Status.VALID, source=crd.source), ("crd", crd, v)
            removal = removal_table().get((api_version, kind))
            if removal is None and v is not None:
                removal = Removal(api_version, kind, crd.source, NOT_SERVED_BY_CRD,
                                  served[-1] if served else None, crd.source)
            if removal is not None:
                return Result(Status.REMOVED_API_VERSION, message=self._removed_text(removal),
                              removal=removal, served=served, source=crd.source), None
            return Result(Status.UNKNOWN_API_VERSION, message=no_match, served=served,
                          source=crd.source), None
        removal = removal_table().get((api_version, kind))
        if removal is not None:
            return Result(Status.REMOVED_API_VERSION, message=self._removed_text(removal),
                          removal=removal), None
        if "." not in group:
            # A CRD's group must contain a dot, and every dotless group the API server serves
            # is built in: this version can never be served.
            return Result(Status.UNKNOWN_API_VERSION, message=no_match,
                          served=self._builtin_served_as(kind)), None
        return Result(Status.UNKNOWN_KIND, message=f"{no_match}: no CRD for it in the render, "
                      "the cluster state or the gate's shipped CRDs"), None

    def _builtin_served_as(self, kind: str) -> tuple[str, ...]:
        return tuple(sorted(av for av, kinds in self._served.items() if kind in kinds))

    def _lookup_builtin(self, api_version: str, group: str, version: str, kind: str,
                        no_match: str) -> tuple[Result, tuple | None]:
        if kind in self._served.get(api_version, ()):
            source = f"Kubernetes {self.kubernetes_version}"
            schema = self._release["schemas"].get(f"{api_version}/{kind}")
            if schema is None:
                return Result(Status.NOT_VALIDATED, source=source), None
            return Result(Status.VALID, source=source), ("builtin", schema)
        served = self._builtin_served_as(kind)
        removal = removal_table().get((api_version, kind))
        if removal is not None and removal.component == "kubernetes" \
                and _release(removal.removed_in) > _release(self.kubernetes_version):
            removal = None  # removed later than the target release (and not in the data)
        if removal is None:
            removal = self._removed_by_data(api_version, kind, served)
        if removal is not None:
            return Result(Status.REMOVED_API_VERSION, message=self._removed_text(removal),
                          removal=removal, served=served), None
        return Result(Status.UNKNOWN_API_VERSION, message=no_match, served=served), None

    def _removed_by_data(self, api_version: str, kind: str,
                         served: tuple[str, ...]) -> Removal | None:
        # Served by an earlier shipped release, not by the target one: removed in between.
        last = None
        for rel in supported_kubernetes_versions():
            if _release(rel) >= _release(self.kubernetes_version):
                break
            if kind in builtin_data()["releases"][rel]["served"].get(api_version, ()):
                last = rel
        if last is None:
            return None
        rels = supported_kubernetes_versions()
        removed_in = rels[rels.index(last) + 1]
        group = _split_api_version(api_version)[0]
        same_group = [s for s in served if _split_api_version(s)[0] == group]
        return Removal(api_version, kind, "kubernetes", removed_in,
                       (same_group or list(served) or [None])[-1],
                       "absent from the OpenAPI of Kubernetes " + removed_in)

    @staticmethod
    def _removed_text(r: Removal) -> str:
        comp = {"kubernetes": "Kubernetes", "cert-manager": "cert-manager",
                "gateway-api": "Gateway API"}.get(r.component, r.component)
        when = f"not served by the {comp} CRD" if r.removed_in == NOT_SERVED_BY_CRD else \
            f"removed in {comp} {r.removed_in}"
        use = f"; use {r.use}" if r.use else "; no replacement API"
        return f"{r.kind} {r.api_version} is no longer served ({when}){use}"

    # -- validation --

    def validate(self, obj: Any) -> Result:
        """Default, then validate one object as the API server would on a create.

        Never raises for any input: a non-object, a missing apiVersion or kind, or any value at
        any field gives violations.
        """
        if not isinstance(obj, Mapping):
            return Result(Status.INVALID, (Violation((), "must be of type object: "
                                                     f'"{type(obj).__name__}"'),))
        if not isinstance(obj, dict):
            obj = dict(obj)
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if type(api_version) is str and type(kind) is str:
            pair = (api_version, kind)
            looked_up = self._lookups.get(pair)
            if looked_up is None:
                looked_up = self._lookups[pair] = self._lookup(api_version, kind)
            result, found = looked_up
        else:
            result, found = self._lookup(api_version, kind)
        if found is None:
            return result
        if found[0] == "builtin":
            root = self._root(("", found[1]), {"$": found[1]}, _builtin_compiler(), crd=False)
            skip_status = True
        else:
            crd, v = found[1], found[2]
            try:
                schema, compiler = v.compact()
            except (TypeError, ValueError, AttributeError, KeyError, RecursionError):
                schema, compiler = None, None  # a malformed CRD in the render
            if not schema or compiler is None:
                return Result(Status.NOT_VALIDATED, source=crd.source)
            root = self._root((crd.group, crd.kind, v.name), schema, compiler, crd=True)
            skip_status = v.status_subresource
        checked = obj
        if skip_status and "status" in obj:
            # Status is set by controllers; on a create the API server drops it.
            checked = {k: x for k, x in obj.items() if k != "status"}
        checker = Checker()
        stopped = False
        try:
            defaulted = checker.run(root, checked)
        except TooManyViolations:
            defaulted, stopped = checked, True
        except RecursionError:
            return Result(Status.INVALID, (Violation((), "object nested too deeply"),),
                          source=result.source)
        violations = checker.violations
        cel_left = 0
        if checker.cel_work and not checker.blocking and not stopped:
            # CEL (the cel-expr-python binding) is imported by the first object with rules to evaluate:
            # a run over kinds without x-kubernetes-validations (a ConfigMap) does not pay its start-up
            from . import cel as _cel

            for done, (node, value, path) in enumerate(checker.cel_work):
                if len(violations) >= MAX_VIOLATIONS:
                    cel_left = len(checker.cel_work) - done
                    break
                try:
                    _cel.evaluate(node, value, path, violations)
                except RecursionError:
                    violations.append(Violation(path, "value nested too deeply for CEL",
                                                "unevaluable"))
        if stopped or cel_left or len(violations) > MAX_VIOLATIONS:
            del violations[MAX_VIOLATIONS:]
            kind = "unevaluable" if all(v.kind == "unevaluable" for v in violations) else "schema"
            violations.append(Violation((), f"validation stopped after the first {MAX_VIOLATIONS} violations; "
                                            f"fix these and validate again for the rest", kind))
        if any(v.kind != "unevaluable" for v in violations):
            status = Status.INVALID
        elif violations:
            status = Status.UNVERIFIED
        else:
            status = Status.VALID
        return Result(status, tuple(violations), source=result.source, defaulted=defaulted)
