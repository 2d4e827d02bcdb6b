"""`gate audit` on the incident's live state against a bare PyYAML C-loader parse of the same snapshot.

The snapshot is tests/audit/live_state.py's incident: 22,514 solver HTTPRoutes owned by 4 Challenges,
the shared Gateway, Certificates, requests, Orders, Services, Secrets, Deployments and Argo CD
Applications, as one `kind: List` the way `kubectl get ... -A -o yaml` writes it (written to a
temporary file, never committed). Both are measured in fresh child processes, interleaved, best of
N, in this one run; the target is a ratio of at most 1.0.

    python benchmarks/audit.py [--repeat N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "audit"))
import live_state  # noqa: E402

PARSE = """
import sys, time, yaml
start = time.perf_counter()
with open(sys.argv[1], encoding="utf-8") as handle:
    yaml.load(handle.read(), Loader=yaml.CSafeLoader)
print(time.perf_counter() - start)
"""
AUDIT = """
import datetime as dt, resource, sys, time
from gate.audit.run import audit
from gate.config import ClusterOptions, RunConfig
start = time.perf_counter()
result = audit(RunConfig(cluster=ClusterOptions(state_paths=(sys.argv[1],)),
                         now=dt.datetime(2026, 3, 23, 9, 20, tzinfo=dt.timezone.utc)))
elapsed = time.perf_counter() - start
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, len(result.report.findings))
"""


def child(code: str, path: str) -> list[float]:
    out = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, check=True)
    return [float(x) for x in out.stdout.split()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "incident.yaml")
        Path(path).write_text(live_state.kubectl_yaml(live_state.incident()), encoding="utf-8")
        size = Path(path).stat().st_size / 1e6
        parses, audits = [], []
        for _ in range(args.repeat):
            parses.append(child(PARSE, path)[0])
            audits.append(child(AUDIT, path))
        parse = min(parses)
        best = min(audits, key=lambda a: a[0])
        print(f"snapshot: {size:.1f} MB, 22,514 solver HTTPRoutes")
        print(f"PyYAML CSafeLoader parse: {parse:.2f} s (best of {args.repeat})")
        print(f"gate audit: {best[0]:.2f} s, peak RSS {best[1]:.0f} MB, {best[2]:.0f} findings")
        print(f"ratio audit/parse: {best[0] / parse:.2f} (target <= 1.0)")


if __name__ == "__main__":
    main()
