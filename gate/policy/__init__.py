"""The policy file: load, validate against the shipped JSON Schema (`schema.json`), merge over the
defaults (policies/default.yaml). What the policy decides about each finding is in `decisions`.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from gate.model import Finding
from gate.sources.documents import Document, InputError
from gate.sources.yaml_parser import ManifestLoader, parse_document

POLICY_FILENAME = ".gate.yaml"
_REPO_ROOT = Path(__file__).resolve().parents[2]


class PolicyError(Exception):
    """An unreadable or invalid policy: exit code 2, with every problem and its key path."""


@dataclass(frozen=True)
class Exemption:
    check: str
    reason: str
    kind: str = "*"
    namespace: str = "*"
    name: str = "*"
    expires: dt.date | None = None
    file: str = ""
    line: int = 1

    def matches(self, finding: Finding) -> bool:
        return (fnmatchcase(finding.check, self.check) and fnmatchcase(finding.kind, self.kind)
                and fnmatchcase(finding.namespace, self.namespace) and fnmatchcase(finding.name, self.name))

    def describe(self) -> str:
        parts = [f"check={self.check}"] + [f"{k}={v}" for k, v in
                                             (("kind", self.kind), ("namespace", self.namespace),
                                              ("name", self.name)) if v != "*"]
        return "exemption " + " ".join(parts)


@dataclass
class Policy:
    settings: dict[str, Any]
    path: str | None = None
    exemptions: list[Exemption] = field(default_factory=list)
    expired: list[Exemption] = field(default_factory=list)

    @property
    def severities(self) -> dict[str, str]:
        return self.settings.get("checks") or {}

    def exemption_for(self, finding: Finding) -> Exemption | None:
        return next((e for e in self.exemptions if e.matches(finding)), None)


@cache
def schema() -> dict[str, Any]:
    return json.loads((Path(__file__).parent / "schema.json").read_text(encoding="utf-8"))


def default_policy_path() -> Path:
    """policies/default.yaml: inside the wheel (gate/policies) or at the top of a source checkout.
    Plain paths beside this package: importlib.resources cost ~5 ms of imports on every run."""
    packaged = Path(__file__).parent.parent / "policies" / "default.yaml"
    return packaged if packaged.is_file() else _REPO_ROOT / "policies" / "default.yaml"


def find_policy(explicit: str | None, cwd: Path | None = None) -> Path | None:
    if explicit:
        return Path(explicit)
    candidate = (cwd or Path.cwd()) / POLICY_FILENAME
    return candidate if candidate.is_file() else None


# A policy is a few hundred lines; a bigger file is a mistake (or an attack on the gate).
MAX_POLICY_BYTES = 1024 * 1024


def _read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    try:
        if path.stat().st_size > MAX_POLICY_BYTES:
            raise PolicyError(f"policy {path}: larger than {MAX_POLICY_BYTES // 1024} KiB; not read")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"policy {path}: cannot read: {exc}") from None
    loader = ManifestLoader(text)
    try:
        # Bounded as a manifest is (nesting, alias expansion, tags on the wrong value); then composed
        # and constructed again by the loader that records duplicate keys: cheap once the bounds hold.
        data = parse_document(Document(text=text, file=str(path), line=1, source=None), max_bytes=MAX_POLICY_BYTES)
        node = loader.get_single_node()
        if node is not None:
            loader.construct_document(node)
    except InputError as exc:
        raise PolicyError(f"policy {path}:{exc.line}: {exc}") from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"policy {path}: YAML does not parse: {exc}") from None
    finally:
        loader.dispose()
    if loader.duplicate_keys:
        # YAML keeps the last of two equal keys: a second `checks:` block would silently drop the first.
        problems = [f"key {key!r}{f' (in {where})' if where else ''} appears twice, at lines {first} and {second}"
                    for where, key, first, second in _duplicate_keys(node)]
        raise PolicyError(f"policy {path}: {'; '.join(problems)}: keep one (YAML would silently keep only "
                          f"the last)")
    return ({} if data is None else data), node


def _duplicate_keys(node: yaml.Node | None, where: str = "", seen: set[int] | None = None) -> list[
        tuple[str, str, int, int]]:
    """(dotted path of the mapping, key, first line, repeated line) for every key written twice."""
    found: list[tuple[str, str, int, int]] = []
    seen = set() if seen is None else seen
    if id(node) in seen:  # an alias: walked once (aliases may repeat or nest a node)
        return found
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if isinstance(key, str) and key != "<<":
                line = key_node.start_mark.line + 1
                if key in first_line:
                    found.append((where, key, first_line[key], line))
                else:
                    first_line[key] = line
            found += _duplicate_keys(value_node, f"{where}.{key}" if where else str(key), seen)
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            found += _duplicate_keys(item, f"{where}[{position}]", seen)
    return found


def _normalize(document: Any) -> None:
    checks = document.get("checks") if isinstance(document, dict) else None
    if isinstance(checks, dict):  # YAML 1.1 reads a bare `off` as false
        document["checks"] = {k: "off" if v is False else v for k, v in checks.items()}


def validate(document: Any, check_ids: Iterable[str], source: str) -> None:
    """Raise PolicyError naming the key path of every problem (unknown keys, ids, wrong types)."""
    # Only a policy someone wrote is validated at run time, and jsonschema (tens of milliseconds of
    # start-up, a pre-commit hook's on every commit) is imported for it alone
    import jsonschema

    _normalize(document)
    ids = sorted(check_ids)
    full = copy.deepcopy(schema())
    full["properties"]["checks"]["propertyNames"] = {"enum": ids}
    full["properties"]["exemptions"]["items"]["properties"]["check"]["anyOf"] = [
        {"enum": [*ids, "*"]}, {"pattern": r"[*?\[]"}]
    validator = jsonschema.Draft202012Validator(full, format_checker=jsonschema.FormatChecker())
    problems = []
    for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path))):
        path = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        if "propertyNames" in error.schema_path:
            message = f"{error.instance!r} is not a check id (see `gate checks`)"
            path = f"{path}.{error.instance}" if path != "(top level)" else str(error.instance)
        elif error.validator == "additionalProperties":
            message = error.message.replace("Additional properties are not allowed", "unknown key")
        elif error.validator == "anyOf" and path.endswith(".check"):
            message = f"{error.instance!r} is not a check id (see `gate checks`)"
        else:
            message = error.message
        problems.append(f"{path}: {message}")
    if problems:
        raise PolicyError(f"policy {source} is invalid:\n  " + "\n  ".join(problems))


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; lists and scalars in `override` replace."""
    out = dict(base)
    for key, value in override.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _item_lines(node: yaml.Node | None, key: str) -> list[int]:
    if not isinstance(node, yaml.MappingNode):
        return []
    for key_node, value_node in node.value:
        if key_node.value == key and isinstance(value_node, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value_node.value]
    return []


def _shipped_defaults() -> dict:
    # The shipped file is checked by its tests (tests/policy: the schema, no key written twice), so
    # a run only parses it, without the second composition that finds repeated keys and lines.
    path = default_policy_path()
    text = path.read_text(encoding="utf-8")
    return parse_document(Document(text=text, file=str(path), line=1, source=None)) or {}


def load_policy(explicit: str | None, check_ids: Iterable[str], *, today: dt.date | None = None,
                cwd: Path | None = None) -> Policy:
    check_ids = list(check_ids)
    defaults = _shipped_defaults()
    _normalize(defaults)
    path = find_policy(explicit, cwd)
    if path is None:
        return Policy(settings=defaults)
    if not path.is_file():
        raise PolicyError(f"policy {path}: {'not a regular file' if path.exists() else 'no such file'}")
    document, node = _read_yaml(path)
    if not isinstance(document, dict):
        raise PolicyError(f"policy {path} is invalid:\n  (top level): must be a mapping")
    validate(document, check_ids, str(path))
    policy = Policy(settings=merge(defaults, document), path=str(path))
    today = today or dt.date.today()
    lines = _item_lines(node, "exemptions")
    for i, raw in enumerate(document.get("exemptions") or []):
        expires = dt.date.fromisoformat(raw["expires"]) if raw.get("expires") else None
        exemption = Exemption(check=raw["check"], reason=raw["reason"].strip(), kind=raw.get("kind", "*"),
                              namespace=raw.get("namespace", "*"), name=raw.get("name", "*"),
                              expires=expires, file=str(path), line=lines[i] if i < len(lines) else 1)
        (policy.expired if expires is not None and expires < today else policy.exemptions).append(exemption)
    return policy
