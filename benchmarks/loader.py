"""Loader budget: `gate check --offline` on the incident's scale against a bare libyaml parse.

The goal (docs: architecture.md): on a render of 22,514 cert-manager solver HTTPRoutes (about
22 MB), the whole offline gate run takes at most 0.6x the time `yaml.load_all(...,
Loader=yaml.CSafeLoader)` takes on the same file, with peak memory under 400 MB. Both are measured
here, in this run, each in a fresh child process (so peak RSS is that step's own), best of N.
Also reported for ../shared/corpus/big/ when present.

    python benchmarks/loader.py [--repeat N] [FILE...]
"""

from __future__ import annotations

import argparse
import json
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
GATE = """
import resource, sys, time
from gate.run import RunConfig, run
start = time.perf_counter()
report = run(RunConfig(paths=[sys.argv[1]], offline=True))
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, report.resources)
"""


def measure(script: str, path: Path, repeat: int) -> tuple[float, float, int]:
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True,
                             check=True).stdout.split()
        runs.append((float(out[0]), float(out[1]), int(out[2])))
    return min(r[0] for r in runs), max(r[1] for r in runs), runs[0][2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from gate.sources.yaml_parser import yaml_rs

    with tempfile.TemporaryDirectory() as tmp:
        files = list(args.files)
        if not files:
            solvers = Path(tmp, "solver-routes.yaml")
            subprocess.run([sys.executable, str(HERE / "make_solver_render.py"), str(solvers)], check=True,
                           capture_output=True)
            files = [solvers, *sorted(BIG.glob("*.yaml"))]
        results = []
        for path in files:
            base_s, base_mb, docs = measure(BASELINE, path, args.repeat)
            gate_s, gate_mb, resources = measure(GATE, path, args.repeat)
            results.append({"file": path.name, "mb": round(path.stat().st_size / 1e6, 1), "documents": docs,
                            "resources": resources, "libyaml_s": round(base_s, 3), "gate_s": round(gate_s, 3),
                            "ratio": round(gate_s / base_s, 2), "gate_peak_mb": round(gate_mb),
                            "libyaml_peak_mb": round(base_mb)})
    print(f"yaml-rs fast path: {'on' if yaml_rs else 'off (pip install ingress-gate[fast])'}; best of {args.repeat}")
    print(f"{'file':<26}{'MB':>6}{'docs':>8}{'libyaml s':>11}{'gate s':>9}{'ratio':>7}{'gate MB':>9}{'libyaml MB':>11}")
    for r in results:
        print(f"{r['file']:<26}{r['mb']:>6}{r['documents']:>8}{r['libyaml_s']:>11}{r['gate_s']:>9}{r['ratio']:>7}"
              f"{r['gate_peak_mb']:>9}{r['libyaml_peak_mb']:>11}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
