"""Every check fires on its `fire/` fixtures and stays silent on its `pass/` fixtures.

tests/fixtures/<check-id>/fire/*.yaml and tests/fixtures/<check-id>/pass/*.yaml are small renders
written for one check. The pipeline runs offline on each; other checks may fire too. A fire fixture
marks each line the check must report with `# expect: <check-id>`: the findings land on exactly
those lines.
"""

from __future__ import annotations

import pytest
from conftest import FIXTURES

from gate.checks import CHECKS
from gate.config import ClusterOptions
from gate.run import RunConfig, run

# A fixture folder may hold a .gate.yaml (found in the current folder) for a check that is off by default.
CASES = sorted(p for p in FIXTURES.glob("*/*/*.yaml") if not p.name.startswith("."))


def expected_lines(path, check_id: str) -> list[int]:
    marker = f"# expect: {check_id}"
    return [n for n, line in enumerate(path.read_text().split("\n"), 1) if line.rstrip().endswith(marker)]


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
        expected = expected_lines(path, check_id)
        assert expected, f"{path.name} marks no line with '# expect: {check_id}'"
        assert all(f.file == path.name for f in hits)
        assert sorted({f.line for f in hits}) == expected, [(f.line, f.message) for f in hits]
    else:
        assert expectation == "pass"
        assert not hits, [f.message for f in hits]


def test_every_offline_check_has_fixtures():
    """Each check that needs no network has at least one firing and one passing fixture."""
    missing = [c.id for c in CHECKS.values() if c.probe is None and c.id not in ("exemption-expired",)
               and not (list((FIXTURES / c.id / "fire").glob("*.yaml"))
                        and list((FIXTURES / c.id / "pass").glob("*.yaml")))]
    assert not missing
