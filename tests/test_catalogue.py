"""The check catalogue is the contract other tooling is written against."""

from __future__ import annotations

import json
import re

from conftest import ROOT, gate_cli

from gate.checks import AUDIT_CHECKS, CHECKS, FAMILIES


def test_ids_are_kebab_case_and_entries_complete():
    """Ids are kebab-case; every check has a title and a remediation that ends with a period."""
    for entry in [*CHECKS.values(), *AUDIT_CHECKS.values()]:
        assert re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", entry.id)
        assert entry.title and not entry.title.endswith(".")
        assert entry.remediation.endswith("."), entry.id
        assert entry.severity in ("error", "warning", "info")


def test_families_are_joined_without_loss():
    """The catalogue holds every family's checks, each id once."""
    assert len(CHECKS) == sum(len(f.CHECKS) for f in FAMILIES)


def test_issue_contract_ids_present():
    """The ids the engine issue names exist with their severities."""
    expected = {"route-backend-missing": "error", "route-backend-port-missing": "error",
                "reference-not-permitted": "error", "listener-secret-missing": "error",
                "sync-wave-invalid": "error", "sync-wave-order": "error", "manifest-invalid": "error",
                "manifest-duplicate": "error"}
    assert {k: CHECKS[k].severity for k in expected} == expected


def test_gate_checks_lists_every_id_as_text_and_json():
    """`gate checks` and `gate checks --format json` list the whole catalogue."""
    text = gate_cli("checks")
    assert text.returncode == 0
    for check_id in CHECKS:
        assert check_id in text.stdout.decode()
    listed = json.loads(gate_cli("checks", "--format", "json").stdout)
    assert [c["id"] for c in listed if c["pipeline"] == "check"] == list(CHECKS)
    assert [c["id"] for c in listed if c["pipeline"] == "audit"] == list(AUDIT_CHECKS)
    assert all({"id", "severity", "title", "why", "remediation", "probe", "options"} <= set(c) for c in listed)


def test_readme_documents_every_check_id():
    """README.md names every check id (the docs table is part of the contract)."""
    readme = (ROOT / "README.md").read_text()
    assert [c for c in [*CHECKS, *AUDIT_CHECKS] if f"`{c}`" not in readme] == []


def test_readme_check_table_is_the_generated_one():
    """README's check table is exactly `gate checks --format markdown` (regenerate it, never edit it)."""
    readme = (ROOT / "README.md").read_text()
    table = readme.split("<!-- checks:begin -->\n", 1)[1].split("<!-- checks:end -->", 1)[0]
    generated = gate_cli("checks", "--format", "markdown")
    assert generated.returncode == 0
    assert table == generated.stdout.decode()


def test_every_check_says_why_and_declares_known_options():
    """Each check has a why; every option it declares has its default in policies/default.yaml."""
    import yaml

    defaults = yaml.safe_load((ROOT / "policies" / "default.yaml").read_text())
    for entry in [*CHECKS.values(), *AUDIT_CHECKS.values()]:
        assert entry.why.strip().endswith((".", ")")), entry.id
        for option in entry.options:
            value = defaults
            for step in option.split("."):
                assert isinstance(value, dict) and step in value, (entry.id, option)
                value = value[step]


def test_a_misspelt_probe_name_fails_when_the_check_is_defined():
    """A check naming a probe that does not exist cannot be built (it would read as passed offline)."""
    import pytest

    from gate.checks.base import Check

    with pytest.raises(ValueError):
        Check(id="x-y", severity="error", title="t", remediation="r.", why="w.", fn=lambda ctx: (), probe="dsn")


def test_an_undeclared_option_is_refused():
    """A check reading a policy option it does not declare fails loudly instead of reading it."""
    import pytest

    from gate.checks.base import Check, Context
    from gate.index import Index

    ctx = Context(index=Index([]), settings={"dns": {"lifetime": 5.0}})
    ctx.current = Check(id="x-y", severity="error", title="t", remediation="r.", why="w.", fn=lambda c: ())
    with pytest.raises(RuntimeError):
        ctx.option("dns.lifetime")
