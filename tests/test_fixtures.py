"""Every check fires on its `fire/` fixtures and stays silent on its `pass/` fixtures.

tests/fixtures/<check-id>/fire/*.yaml and tests/fixtures/<check-id>/pass/*.yaml are small renders
written for one check. The pipeline runs offline on each; other checks may fire too.
"""

from __future__ import annotations

import pytest
from conftest import FIXTURES

from gate.checks import CHECKS
from gate.config import ClusterOptions
from gate.run import RunConfig, run

# A fixture folder may hold a .gate.yaml (found in the current folder) for a check that is off by default.
CASES = sorted(p for p in FIXTURES.glob("*/*/*.yaml") if not p.name.startswith("."))


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parts[-3]}/{p.parts[-2]}/{p.name}")
def test_fixture(path, monkeypatch):
    """A fire/ fixture yields the check (with a file:line inside the fixture); pass/ yields none."""
    check_id, expectation = path.parts[-3], path.parts[-2]
    assert check_id in CHECKS, f"fixture folder for unknown check {check_id}"
    monkeypatch.chdir(path.parent)
    # `.<fixture>.cluster-state.yaml` next to a fixture: what already exists (for checks that need it)
    state = path.parent / f".{path.stem}.cluster-state.yaml"
    report = run(RunConfig(paths=[path.name], offline=True,
                        cluster=ClusterOptions(state_paths=(state.name,) if state.exists() else ())))
    hits = [f for f in report.findings if f.check == check_id]
    if expectation == "fire":
        assert hits, f"{check_id} did not fire on {path.name}"
        lines = path.read_text().count("\n") + 1
        assert all(f.file == path.name and 1 <= f.line <= lines for f in hits)
    else:
        assert expectation == "pass"
        assert not hits, [f.message for f in hits]


def test_every_offline_check_has_fixtures():
    """Each check that needs no network has at least one firing and one passing fixture."""
    missing = [c.id for c in CHECKS.values() if c.probe is None and c.id not in ("exemption-expired",)
               and not (list((FIXTURES / c.id / "fire").glob("*.yaml"))
                        and list((FIXTURES / c.id / "pass").glob("*.yaml")))]
    assert not missing
