"""Every crash the fuzz campaign (tests/fuzz/campaign.py) saved is a regression test: it must give a report.

A reproducer is `<id>.render.yaml` (and `<id>.state.yaml` when the crash was in the cluster state) with
`<id>.json` saying which policy and canned network answers the campaign used and what the crash was.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hostile import REPRODUCERS, ROOT

CASES = sorted(REPRODUCERS.glob("*.json"))


@pytest.mark.parametrize("meta", CASES, ids=lambda p: p.stem)
def test_reproducer_gives_a_report(tmp_path, meta):
    case = json.loads(meta.read_text())
    state = meta.with_suffix(".state.yaml")
    # in a subprocess: a reproducer of a segfault or a memory blow-up must fail this test, not the run
    script = ("import sys; sys.path[:0] = [sys.argv[1]]; from pathlib import Path; from hostile import run_gate; "
              "run_gate(Path(sys.argv[2]), Path(sys.argv[3]).read_bytes(), "
              "Path(sys.argv[4]).read_bytes() if sys.argv[4] else None, policy=sys.argv[5], probes=sys.argv[6])")
    proc = subprocess.run([sys.executable, "-c", script, str(REPRODUCERS.parent), str(tmp_path / "run"),
                           str(meta.with_suffix("").with_suffix(".render.yaml")), str(state) if state.exists() else "",
                           case["policy"], case["probes"]], cwd=ROOT, capture_output=True, check=False, timeout=120)
    assert proc.returncode == 0, f"{case['crash']}\n{proc.stderr.decode()[-3000:]}"


def test_campaign_finds_and_saves_a_crash(tmp_path):
    """The campaign itself works: with a check made to crash, it reports the crash and saves a reproducer."""
    script = (
        "import sys; sys.path[:0] = [sys.argv[1]]\n"
        "import gate.checks.gateways as g\n"
        "def boom(ctx):\n    raise ZeroDivisionError('planted')\n    yield\n"
        "import dataclasses; from gate.checks import CHECKS\n"
        "CHECKS['gateway-invalid'] = dataclasses.replace(CHECKS['gateway-invalid'], fn=boom)\n"
        "import campaign; sys.exit(campaign.main(['--seconds', '8', '--seed', '1', '--fixtures', '--out', sys.argv[2]]))\n")
    proc = subprocess.run([sys.executable, "-c", script, str(REPRODUCERS.parent), str(tmp_path / "out")], cwd=ROOT,
                          capture_output=True, check=False, timeout=120, text=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "ZeroDivisionError" in proc.stdout
    saved = list((tmp_path / "out").glob("*.json"))
    assert saved and "ZeroDivisionError" in json.loads(saved[0].read_text())["crash"]
