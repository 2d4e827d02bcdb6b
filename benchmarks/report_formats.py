"""Report formats at the incident's scale: each format against the checks that produced its findings.

The render is the 22,514 solver HTTPRoutes of benchmarks/make_solver_render.py, offline: every
route's backend Service is missing, so the Report holds about 45,000 findings, the worst case for a
reporter. The pipeline runs with `run(config, timings=...)`; the checks stage is the sum of its
`check:<id>` seconds, measured in this same process (with `--runs N`, the fastest of N runs). Each
format is then rendered from that Report, best of --repeat, as the CLI renders it (cyclic GC on,
see gate/cli.py), and shown as a ratio against the checks stage (the budget: a format must cost
less than the checks, `--budget`) and against the standard library's C JSON encoder writing every
finding's fields once (how fast this machine serialises that much data; no reporter code in it).

    python benchmarks/report_formats.py [--repeat N] [--runs N] [--budget 1.0] [--strict]

`--strict` exits 1 when a format costs more than `--budget` times the checks stage.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
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


def stdlib_reference(report) -> str:
    """Every finding's fields, once, through json's C encoder: no reporter code involved."""
    names = [f.name for f in dataclasses.fields(report.findings[0])] if report.findings else []
    return json.dumps([{name: getattr(f, name) for name in names} for f in report.findings])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--budget", type=float, default=1.0,
                        help="most a format may cost, as a multiple of the checks stage (default 1.0)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a format is over budget")
    parser.add_argument("--runs", type=int, default=1,
                        help="pipeline runs; the checks stage is the fastest run's (a busy machine varies it)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "solvers.yaml"
        with path.open("w", encoding="utf-8") as handle:
            render(handle)
        pipeline = checks = float("inf")
        for _ in range(max(1, args.runs)):
            timings: dict[str, float] = {}
            start = time.perf_counter()
            report = run(RunConfig(paths=[str(path)], offline=True), timings=timings)
            pipeline = min(pipeline, time.perf_counter() - start)
            checks = min(checks, sum(seconds for stage, seconds in timings.items() if stage.startswith("check:")))
    reference, _ = best_of(args.repeat, lambda: stdlib_reference(report))
    print(f"{len(report.findings)} findings; pipeline {pipeline:.2f} s, of which checks {checks:.3f} s; "
          f"stdlib json reference {reference:.3f} s")
    print(f"budget: each format at most {args.budget:g} x checks = {args.budget * checks:.3f} s")
    print(f"{'format':<10} {'seconds':>8} {'x checks':>9} {'x stdlib':>9} {'MiB':>7}  verdict")
    over = []
    for name, renderer in FORMATS.items():
        seconds, out = best_of(args.repeat, lambda renderer=renderer: renderer(report, False))
        ratio = seconds / checks if checks else float("inf")
        verdict = "pass" if ratio <= args.budget else "FAIL"
        if verdict == "FAIL":
            over.append(name)
        print(f"{name:<10} {seconds:8.3f} {ratio:9.2f} {seconds / reference:9.2f} "
              f"{len(out.encode('utf-8', 'surrogatepass')) / 2**20:7.2f}  {verdict}")
    if over:
        print(f"over budget: {', '.join(over)}")
    return 1 if over and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
