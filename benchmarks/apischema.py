"""apischema budget: validating every object of a render against a bare libyaml parse of it.

Goal (the run's 20% share for validation): defaulting + structural schema + CEL over all objects
of ../shared/corpus/big/shared-corpus-all.yaml in at most 0.2x the time
``yaml.load_all(..., Loader=yaml.CSafeLoader)`` takes on the same file. Both measured here, in one
process, best of N; validation includes a fresh Validator (compiling the schemas the file uses
and the file's own CRDs, as one gate run does) and a cold CEL result cache.

    python3 benchmarks/apischema.py [--repeat N] [FILE...]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from gate.apischema import Validator  # noqa: E402
from gate.apischema import cel  # noqa: E402

BIG = HERE.parent.parent / "shared" / "corpus" / "big" / "shared-corpus-all.yaml"


def parse(path: Path) -> tuple[float, list]:
    start = time.perf_counter()
    with open(path, "rb") as handle:
        docs = [d for d in yaml.load_all(handle, Loader=yaml.CSafeLoader) if isinstance(d, dict)]
    return time.perf_counter() - start, docs


def validate(docs: list) -> tuple[float, dict]:
    cel._RESULTS.clear()
    start = time.perf_counter()
    v = Validator()
    for d in docs:
        if d.get("kind") == "CustomResourceDefinition":
            v.add_crd(d)
    counts: dict[str, int] = {}
    for d in docs:
        s = v.validate(d).status.value
        counts[s] = counts.get(s, 0) + 1
    return time.perf_counter() - start, counts


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("files", nargs="*", type=Path)
    args = ap.parse_args()
    files = args.files or ([BIG] if BIG.exists() else [])
    if not files:
        print("no file: pass one, or have ../shared/corpus/big/", file=sys.stderr)
        return 2
    for path in files:
        parses, validations = [], []
        for _ in range(args.repeat):
            tp, docs = parse(path)
            tv, counts = validate(docs)
            parses.append(tp)
            validations.append(tv)
        p, v = min(parses), min(validations)
        print(f"{path.name}: {len(docs)} objects, parse {p:.3f}s, validate {v:.3f}s, "
              f"ratio {v / p:.3f} (goal <= 0.2)  {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
