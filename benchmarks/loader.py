"""Loader budget: `gate check --offline` on the incident's scale against a bare libyaml parse.

The goal (docs: architecture.md): on the render of the incident's scale with its sync waves
(benchmarks/make_solver_render.py --waves: 22,514 cert-manager solver HTTPRoutes plus the incident's
Gateway, Namespaces, Certificates and routes in their Argo CD waves), the whole offline gate run --
the `gate check --offline FILE` command, start-up and text report included -- takes at most 0.6x
the time `yaml.load_all(..., Loader=yaml.CSafeLoader)` takes on the same file, with peak memory
under 400 MB. Both are measured here, in this run, each in a fresh child process (so peak RSS is that
step's own), alternated, best and median of --repeat. Also reported for ../shared/corpus/big/ when
present, and for the render without waves.

With --checkov CHECKOV (the `checkov` executable of a separate virtualenv: it is a benchmark-only
tool, never a dependency), Checkov's time and peak memory on the same files are reported beside the
gate's, as `checkov -f FILE --framework kubernetes --quiet --compact -o json --skip-download`.

    python benchmarks/loader.py [--repeat N] [--checkov PATH] [FILE...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIG = HERE.parent.parent / "shared" / "corpus" / "big"

BASELINE = """
import resource, sys, time, yaml
start = time.perf_counter()
with open(sys.argv[1], encoding="utf-8") as handle:
    documents = sum(1 for _ in yaml.load_all(handle, Loader=yaml.CSafeLoader))
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, documents)
"""
# A plain `=` in kube-prometheus' CRD needs a constructor (see domain.md) for the baseline to finish.
BASELINE = BASELINE.replace("import resource, sys, time, yaml",
                            "import resource, sys, time, yaml\n"
                            "yaml.CSafeLoader.add_constructor('tag:yaml.org,2002:value', "
                            "lambda loader, node: loader.construct_scalar(node))")
# The command a user runs, in a child that measures itself: start-up and the text report included.
GATE = """
import io, resource, sys, time
start = time.perf_counter()
from gate.cli import main
out = io.StringIO()
sys.stdout, real = out, sys.stdout
try:
    main(["check", "--offline", sys.argv[1]])
except SystemExit as exc:
    code = exc.code
sys.stdout = real
resources = out.getvalue().rsplit(" resources", 1)[0].rsplit(" ", 1)[-1].replace(",", "")
# The API checks validate in forked children too (gate.parallel): their peak is reported beside.
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, resources, code,
      resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
"""
# Checkov's peak RSS is its process tree's: it is read from the child's rusage here.
CHECKOV = """
import resource, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.run([sys.argv[2], "-f", sys.argv[1], "--framework", "kubernetes", "--quiet", "--compact",
                       "-o", "json", "--skip-download"], capture_output=True, text=True)
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, len(proc.stdout),
      proc.returncode)
"""


def one(script: str, path: Path, *extra: str) -> tuple[float, float, str, float]:
    out = subprocess.run([sys.executable, "-c", script, str(path), *extra], capture_output=True, text=True,
                         check=True).stdout.split()
    return float(out[0]), float(out[1]), out[2], float(out[4]) if len(out) > 4 else 0.0


def measure(path: Path, repeat: int, checkov: str | None) -> dict[str, dict]:
    """Each side `repeat` times, alternated (base, gate, base, gate...), so load on the machine hits both."""
    runs: dict[str, list[tuple[float, float, str, float]]] = {"libyaml": [], "gate": [], "checkov": []}
    for _ in range(repeat):
        runs["libyaml"].append(one(BASELINE, path))
        runs["gate"].append(one(GATE, path))
    if checkov:
        runs["checkov"].append(one(CHECKOV, path, checkov))  # minutes per run: once
    out = {}
    for side, values in runs.items():
        if values:
            times = [v[0] for v in values]
            out[side] = {"best_s": min(times), "median_s": statistics.median(times),
                         "peak_mb": max(v[1] for v in values), "count": values[0][2],
                         "children_peak_mb": max(v[3] for v in values)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--checkov", help="a checkov executable (from its own virtualenv) to compare with")
    args = parser.parse_args()
    from gate.sources.yaml_parser import yaml_rs

    with tempfile.TemporaryDirectory() as tmp:
        files = list(args.files)
        if not files:
            waves = Path(tmp, "incident-waves.yaml")
            solvers = Path(tmp, "solver-routes.yaml")
            subprocess.run([sys.executable, str(HERE / "make_solver_render.py"), "--waves", str(waves)], check=True,
                           capture_output=True)
            subprocess.run([sys.executable, str(HERE / "make_solver_render.py"), str(solvers)], check=True,
                           capture_output=True)
            files = [waves, solvers, *sorted(BIG.glob("*.yaml"))]
        results = []
        for path in files:
            measured = measure(path, args.repeat, args.checkov)
            base, gate = measured["libyaml"], measured["gate"]
            row = {"file": path.name, "mb": round(path.stat().st_size / 1e6, 1), "documents": int(base["count"]),
                   "resources": gate["count"], "libyaml_s": round(base["best_s"], 3),
                   "libyaml_median_s": round(base["median_s"], 3), "gate_s": round(gate["best_s"], 3),
                   "gate_median_s": round(gate["median_s"], 3), "ratio": round(gate["best_s"] / base["best_s"], 2),
                   "ratio_median": round(gate["median_s"] / base["median_s"], 2),
                   "gate_peak_mb": round(gate["peak_mb"]), "gate_children_peak_mb": round(gate["children_peak_mb"]),
                   "libyaml_peak_mb": round(base["peak_mb"])}
            if "checkov" in measured:
                row.update(checkov_s=round(measured["checkov"]["best_s"], 1),
                           checkov_peak_mb=round(measured["checkov"]["peak_mb"]),
                           checkov_over_gate=round(measured["checkov"]["best_s"] / gate["best_s"], 1))
            results.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    print(f"yaml-rs: {'on' if yaml_rs else 'off (libyaml only)'}; {sys.executable}; best and median of {args.repeat}, "
          f"alternated; budget: ratio <= 0.6, gate peak <= 400 MB")
    print(f"{'file':<26}{'MB':>6}{'docs':>8}{'libyaml s':>11}{'gate s':>9}{'ratio':>7}{'(median)':>9}"
          f"{'gate MB':>9}{'forks MB':>9}{'libyaml MB':>11}" + (f"{'checkov s':>11}{'checkov MB':>11}{'x gate':>8}"
                                                  if args.checkov else ""))
    for r in results:
        line = (f"{r['file']:<26}{r['mb']:>6}{r['documents']:>8}{r['libyaml_s']:>11}{r['gate_s']:>9}{r['ratio']:>7}"
                f"{r['ratio_median']:>9}{r['gate_peak_mb']:>9}{r['gate_children_peak_mb']:>9}{r['libyaml_peak_mb']:>11}")
        if "checkov_s" in r:
            line += f"{r['checkov_s']:>11}{r['checkov_peak_mb']:>11}{r['checkov_over_gate']:>8}"
        print(line)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
