"""Start-up: `gate check --offline` of a one-document file against `python -c "import yaml, click"`.

What a pre-commit hook pays on every commit. Both run as fresh processes of this interpreter,
alternated, --repeat times each; best and median wall time, and their ratio (the budget: 2x); the
CPU time (user + system) of the same runs follows, steadier than wall time on a machine others load. With
--importtime, the gate's slowest imports (`python -X importtime`, cumulative milliseconds) follow.

Bytecode is cached, as an installed gate has it (pip compiles the package when it installs it): both
commands run with a bytecode cache of their own in a temporary folder (PYTHONPYCACHEPREFIX), filled
by the warm-up runs, also where PYTHONDONTWRITEBYTECODE is set. `--no-bytecode` measures a checkout
under PYTHONDONTWRITEBYTECODE instead: every run compiles the gate's sources again. The first line
says which `gate` package is measured (PYTHONPATH decides, as for `python -m gate`).

    python benchmarks/startup.py [--repeat 21] [--importtime] [--no-bytecode]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DOCUMENT = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: shop\ndata:\n  a: b\n"


def child_env(cache: Path | None) -> dict[str, str]:
    """The children's environment: a bytecode cache in `cache`, or none at all."""
    env = dict(os.environ)
    if cache is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wall(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run."""
    cpu, start = _children_cpu(), time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=env)
    return time.perf_counter() - start, _children_cpu() - cpu


def gate_argv(path: Path) -> list[str]:
    return [sys.executable, "-m", "gate", "check", "--offline", str(path)]


def measure(repeat: int, path: Path, env: dict[str, str]) -> dict[str, list[tuple[float, float]]]:
    base = [sys.executable, "-c", "import yaml, click"]
    gate = gate_argv(path)
    for _ in range(2):
        wall(base, env), wall(gate, env)  # warm the page cache and fill the bytecode cache
    times: dict[str, list[tuple[float, float]]] = {"baseline": [], "gate": []}
    for _ in range(repeat):
        times["baseline"].append(wall(base, env))
        times["gate"].append(wall(gate, env))
    return times


def gate_package(env: dict[str, str]) -> str:
    proc = subprocess.run([sys.executable, "-c", "import gate; print(gate.__file__)"], capture_output=True, text=True,
                          check=False, env=env)
    return proc.stdout.strip() or proc.stderr.strip()


def slowest_imports(path: Path, env: dict[str, str], count: int = 15) -> list[tuple[int, str]]:
    proc = subprocess.run([sys.executable, "-X", "importtime", *gate_argv(path)[1:]], capture_output=True, text=True,
                          check=False, env=env)
    rows = []
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = line.removeprefix("import time:").split("|")
            if cumulative.strip().isdigit():
                rows.append((int(cumulative), name.rstrip()))
    return sorted(rows, reverse=True)[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--importtime", action="store_true")
    parser.add_argument("--no-bytecode", action="store_true", help="no bytecode cache: every run compiles again")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "one.yaml")
        path.write_text(DOCUMENT, encoding="utf-8")
        env = child_env(None if args.no_bytecode else Path(tmp, "bytecode"))
        print(f"gate: {gate_package(env)}; bytecode {'not cached' if args.no_bytecode else 'cached'}")
        times = measure(args.repeat, path, env)
        for column, what in ((0, "wall"), (1, "CPU")):
            best = {k: min(t[column] for t in v) for k, v in times.items()}
            median = {k: statistics.median(t[column] for t in v) for k, v in times.items()}
            print(f"{what:<30}{'best s':>9}{'median s':>10}")
            label = 'python -c "import yaml, click"'
            print(f"{label:<30}{best['baseline']:>9.3f}{median['baseline']:>10.3f}")
            print(f"{'gate check --offline (1 doc)':<30}{best['gate']:>9.3f}{median['gate']:>10.3f}")
            print(f"ratio: best {best['gate'] / best['baseline']:.2f}x, median "
                  f"{median['gate'] / median['baseline']:.2f}x (budget 2x, on wall time)")
        if args.importtime:
            for cumulative, name in slowest_imports(path, env):
                print(f"{cumulative / 1000:8.1f} ms {name}")


if __name__ == "__main__":
    main()
