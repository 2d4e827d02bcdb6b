"""Every report format costs less than the checks that produced its findings (benchmarks/report_formats.py
at a fifth of the incident's size).

A ratio of two times of one run, never an absolute time: the checks stage (the sum of run()'s
`check:<id>` timings) against each format rendered from that run's Report, best of three, with
cyclic garbage collection on as the CLI renders. 5,000 solver routes give about 10,000 findings.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from make_solver_render import render as render_solvers

from gate.report import FORMATS
from gate.run import RunConfig, run

ROUTES = 5000
BUDGET = 1.0  # the requirement: a format costs less than the checks (measured here: at most 0.06, SARIF)


def over_budget(path: Path) -> dict[str, float]:
    timings: dict[str, float] = {}
    report = run(RunConfig(paths=[str(path)], offline=True), timings=timings)
    assert len(report.findings) > ROUTES  # every route's backend is missing: the worst case for a reporter
    checks = sum(seconds for stage, seconds in timings.items() if stage.startswith("check:"))
    over = {}
    for name, renderer in FORMATS.items():
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            renderer(report, False)
            best = min(best, time.perf_counter() - start)
        if best > BUDGET * checks:
            over[name] = round(best / checks, 2)
    return over


def test_every_format_costs_less_than_the_checks(tmp_path):
    path = tmp_path / "solvers.yaml"
    with path.open("w", encoding="utf-8") as out:
        render_solvers(out, routes=ROUTES)
    over = over_budget(path)
    for _ in range(2):  # a busy machine slows single runs; a slow format is slow every time it is measured
        if not over:
            break
        over = {name: ratio for name, ratio in over_budget(path).items() if name in over}
    assert not over, f"formats costing more than {BUDGET} x the checks stage: {over}"
