"""The memory bound: with the default limits a run stays under 1 GB, measured as the peak resident size of
a fresh process (`resource.getrusage`), on inputs built to cost the most memory per byte."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT

# The run in a child process, which prints its verdict, its manifest-invalid messages and its peak RSS (MiB).
# VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over an exec, and subprocess's vfork
# makes that the high-water mark of the (large) pytest process; VmHWM is the new process image's own.
MEASURE = """
import json, sys
from gate.run import RunConfig, run
report = run(RunConfig(paths=[sys.argv[1]], offline=True))
hwm_kib = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"peak_mib": hwm_kib / 1024,
                  "resources": report.resources, "passed": report.passed,
                  "invalid": [f.message for f in report.findings if f.check == "manifest-invalid"]}))
"""
LIMIT_MIB = 1024


def measure(path) -> dict:
    proc = subprocess.run([sys.executable, "-c", MEASURE, str(path)], cwd=ROOT, capture_output=True, check=False, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_a_quarter_million_tiny_documents_stop_at_the_document_limit(tmp_path):
    """The fault campaign's 62 MB of 857,000 tiny documents peaked at 1.47 GB; reading now stops at
    200,000 documents (the gate fails: manifest-invalid), well under the bound."""
    path = tmp_path / "tiny.yaml"
    with path.open("w") as handle:
        for i in range(250_000):
            handle.write(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\n---\n")
    result = measure(path)
    assert result["peak_mib"] < LIMIT_MIB, result["peak_mib"]
    assert result["resources"] == 200_000 and not result["passed"]
    assert result["invalid"] == [("more than 200,000 documents in one run; the rest is not read "
                                  "(the gate's memory bound)")]


def _items(unit: str, size: int) -> str:
    if unit == "unique":  # short strings all different: the loader's string sharing cannot fold them
        items, total, i = [], 0, 0
        while total < size:
            items.append(f"  - s{i:x}\n")
            total += len(items[-1])
            i += 1
        return "".join(items)
    return unit * (size // len(unit))


@pytest.mark.parametrize("unit", ["  - a:\n", "  - ab\n"], ids=["mappings", "strings"])
def test_dense_block_documents_stop_at_the_memory_budget(tmp_path, unit):
    """Eight 7 MiB documents of one-key mappings (or short strings) in one 56 MiB file: the cheapest YAML per
    object; reading stops once the objects take the run's memory budget."""
    path = tmp_path / "dense.yaml"
    with path.open("w") as handle:
        for i in range(8):
            handle.write(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\ndata:\n  x:\n"
                         + _items(unit, 7 * 1024 * 1024) + "---\n")
    result = measure(path)
    assert result["peak_mib"] < LIMIT_MIB, result["peak_mib"]
    assert not result["passed"] and any("the gate allows itself" in m for m in result["invalid"])


def test_dense_documents_of_distinct_short_strings_stay_under_the_bound(tmp_path):
    """Eight 7 MiB documents of distinct short strings (5.4 million): read whole within the budget, under the
    bound."""
    path = tmp_path / "dense.yaml"
    with path.open("w") as handle:
        for i in range(8):
            handle.write(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\ndata:\n  x:\n"
                         + _items("unique", 7 * 1024 * 1024) + "---\n")
    result = measure(path)
    assert result["peak_mib"] < LIMIT_MIB, result["peak_mib"]
    assert result["resources"] == 8 and not result["passed"]


def test_dense_flow_documents_that_libyaml_reads_are_counted_first(tmp_path):
    """`{a: },` repeated: libyaml composes ~1.8 KB of nodes per entry while parsing (2.3 GB for this file
    before the bound); each such document is refused by its node count before it is composed."""
    path = tmp_path / "dense.yaml"
    with path.open("w") as handle:
        for i in range(4):
            handle.write(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\ndata:\n  x: ["
                         + "{a: }," * (7 * 1024 * 1024 // 6) + "]\n---\n")
    result = measure(path)
    assert result["peak_mib"] < LIMIT_MIB, result["peak_mib"]
    assert len(result["invalid"]) == 4 and all("more than 300,000 YAML nodes" in m for m in result["invalid"])
