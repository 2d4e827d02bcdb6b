"""Report formats at the incident's scale: every format rendered from one Report, against `json`.

The render is the 22,514 solver HTTPRoutes of benchmarks/make_solver_render.py, offline: every
route's backend Service is missing, so the Report holds about 22,500 findings, the worst case for a
reporter. The pipeline runs once; each format is then rendered from that same Report, best of N,
and reported as a ratio against the `json` reporter (the baseline) timed in this same run, with the
output's size (`markdown` is capped for GitHub's 1 MiB step-summary limit).

    python benchmarks/report_formats.py [--repeat N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from make_solver_render import render

from gate.report import FORMATS
from gate.run import RunConfig, run


def best_of(repeat: int, fn) -> tuple[float, str]:
    times, out = [], ""
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "solvers.yaml"
        with path.open("w", encoding="utf-8") as handle:
            render(handle)
        start = time.perf_counter()
        report = run(RunConfig(paths=[str(path)], offline=True))
        pipeline = time.perf_counter() - start
        baseline, _ = best_of(args.repeat, lambda: FORMATS["json"](report, False))
        print(f"{len(report.findings)} findings; pipeline {pipeline:.2f} s; json (baseline) {baseline:.3f} s")
        print(f"{'format':<10} {'seconds':>8} {'x json':>7} {'MiB':>7}")
        for name, renderer in FORMATS.items():
            seconds, out = best_of(args.repeat, lambda renderer=renderer: renderer(report, False))
            print(f"{name:<10} {seconds:8.3f} {seconds / baseline:7.2f} {len(out.encode()) / 2**20:7.2f}")


if __name__ == "__main__":
    main()
