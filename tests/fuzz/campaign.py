#!/usr/bin/env python3
"""A bounded fuzz campaign against the whole pipeline: loader, index, every check (canned network answers).

Seeds: ../shared/corpus when present, the project's fixtures otherwise (or both with --fixtures). Each round
takes a seed and mutates it, as objects (any value of any type at any field, or at a field the code reads)
or as text (byte flips, YAML indicators, deep nesting, aliases, tags, truncation, splices, CRLF, BOM), then
runs the gate on it as a render or as a cluster state. A round must end in a report; an exception, a run
longer than --hang seconds, a MemoryError under the --memory cap or a dead worker (a segfault) is a crash.
Each new crash (by exception type and innermost gate frame) is saved under tests/fuzz/reproducers/ as the
input plus a .json of how to replay it; tests/fuzz/test_reproducers.py replays every one of them.

    python3 tests/fuzz/campaign.py --seconds 60          # what CI runs
    python3 tests/fuzz/campaign.py --seconds 3600 --seed 7   # a longer hunt

Exit 0 when no crash was found, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent.parent)]  # hostile.py, and this checkout's gate

import yaml
from hostile import (
    CORPUS,
    POLICIES,
    PROBE_ANSWERS,
    REPRODUCERS,
    field_names,
    run_gate,
    seed_files,
    to_yaml,
)

WEIRD_SCALARS: list[Any] = [
    None, True, False, 0, -1, 80, 443, 65536, 2 ** 63, 10 ** 300, float("nan"), float("inf"), -0.0, 8000.0,
    8000.5, "", " ", "*", "*.", ".", "~", "null", "80", "a" * 500, "\u202e", "x\ny", "Secret", "HTTPS", "TLS",
    "Terminate", "Gateway", "gateway.networking.k8s.io", "cert-manager.io", "*.example.com", "1.2.3.4", "::1",
    "nginx:latest", "@sha256:", "In", "Exists", "All", "Selector", "-1", b"\x00\xff",
]
INDICATORS = ["- ", ": ", "[", "]", "{", "}", ",", "&a ", "*a", "!!int ", "!!set ", "!!binary ", "!x ", "? ", "|",
              ">", "'", '"', "#", "%YAML 1.1\n", "---\n", "...\n", "\t", "\r", "\ufeff", "\x85", "<<: ", "\\",
              "\x00", "0x", "1e999", "9" * 1200, ".nan", "=", "\n  ", "\n"]


def random_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.6:
        return rng.choice(WEIRD_SCALARS) if rng.random() < 0.7 else rng.choice(field_names())
    if roll < 0.75:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if roll < 0.95:
        keys = [rng.choice([*field_names(), 0, 1, True, None, 1.5, ""]) for _ in range(rng.randint(0, 4))]
        return {k: random_value(rng, depth + 1) for k in keys}
    return {rng.choice(["a", "b", 1, 2])for _ in range(rng.randint(0, 3))}


def mutate_object(doc: Any, rng: random.Random) -> Any:
    for _ in range(rng.randint(1, 4)):
        holders = []
        stack = [doc]
        while stack:
            node = stack.pop()
            if isinstance(node, dict | list):
                holders.append(node)
                stack.extend(node.values() if isinstance(node, dict) else node)
        if not holders:
            return random_value(rng)
        holder = rng.choice(holders)
        if isinstance(holder, dict):
            key = rng.choice([*holder.keys(), rng.choice(field_names())]) if holder else rng.choice(field_names())
            holder[key] = random_value(rng)
        elif holder:
            holder[rng.randrange(len(holder))] = random_value(rng)
        else:
            holder.append(random_value(rng))
    return doc


def mutate_text(text: str, rng: random.Random, other: str) -> str:
    for _ in range(rng.randint(1, 5)):
        at = rng.randint(0, len(text))
        roll = rng.random()
        if roll < 0.4:
            text = text[:at] + rng.choice(INDICATORS) + text[at:]
        elif roll < 0.55:
            text = text[:at] + text[at + rng.randint(1, 20):]
        elif roll < 0.65 and text:
            text = text[:at] + chr(rng.choice([0, 1, 9, 13, 127, 0x85, 0x2028, 0xFEFF, rng.randint(32, 0x2FFF)])) + \
                text[at + 1:]
        elif roll < 0.75:  # a line again
            start = text.rfind("\n", 0, at) + 1
            end = text.find("\n", at)
            line = text[start:end if end >= 0 else len(text)]
            text = text[:start] + line + "\n" + text[start:]
        elif roll < 0.8:
            text = text[:at] + rng.choice(["- ", "[", "a:\n "]) * rng.choice([600, 20000]) + text[at:]
        elif roll < 0.9:
            cut = rng.randint(0, len(other))
            text = text[:at] + other[cut:cut + rng.randint(1, 400)] + text[at:]
        else:
            text = text[:at]
    if rng.random() < 0.2:
        text = text.replace("\n", "\r\n")
    if rng.random() < 0.1:
        text = "\ufeff" + text
    return text


class Campaign:
    def __init__(self, seeds: list[Path], rng: random.Random, out: Path) -> None:
        self.texts = [p.read_text(encoding="utf-8", errors="replace") for p in seeds]
        self.docs = []
        for text in self.texts:
            try:
                self.docs.extend(d for d in yaml.safe_load_all(text) if isinstance(d, dict))
            except (yaml.YAMLError, ValueError):
                pass
        self.rng = rng
        self.out = out

    def case(self) -> dict[str, Any]:
        rng = self.rng
        if rng.random() < 0.5 and self.docs:
            docs = [mutate_object(json_copy(rng.choice(self.docs)), rng) for _ in range(rng.randint(1, 3))]
            try:
                data = to_yaml(docs, flow=rng.choice([None, False, True])).encode("utf-8", "surrogatepass")
            except (yaml.YAMLError, ValueError, TypeError):
                data = b""
        else:
            data = mutate_text(rng.choice(self.texts), rng, rng.choice(self.texts)).encode("utf-8", "surrogatepass")
        as_state = rng.random() < 0.25
        return {"render": data if not as_state else rng.choice(self.texts).encode("utf-8", "surrogatepass"),
                "state": data if as_state else None, "policy": rng.choice(sorted(POLICIES)),
                "probes": rng.choice(sorted(PROBE_ANSWERS))}


def json_copy(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: json_copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [json_copy(v) for v in obj]
    return obj


def signature(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/gate/" in f.filename]
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    return f"{type(exc).__name__} at {where}"


def save(case: dict[str, Any], reason: str, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(case["render"] + (case["state"] or b"")).hexdigest()[:16]
    (out / f"{digest}.render.yaml").write_bytes(case["render"])
    if case["state"] is not None:
        (out / f"{digest}.state.yaml").write_bytes(case["state"])
    (out / f"{digest}.json").write_text(json.dumps({"crash": reason, "policy": case["policy"],
                                                    "probes": case["probes"]}, indent=2) + "\n")
    return out / f"{digest}.json"


class Hang(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise Hang("the run took longer than the hang limit")


def worker(campaign: Campaign, deadline: float, hang: float, current: Path, results: Path, work: Path) -> None:
    """Runs cases until the deadline; writes each case to `current` first, so a segfault leaves it behind."""
    signal.signal(signal.SIGALRM, _alarm)
    found: dict[str, str] = {}
    runs = 0
    while time.monotonic() < deadline:
        case = campaign.case()
        current.write_bytes(json.dumps({k: v.decode("latin-1") if isinstance(v, bytes) else v
                                        for k, v in case.items()}).encode())
        signal.setitimer(signal.ITIMER_REAL, hang)
        try:
            run_gate(work / "case", case["render"], case["state"], policy=case["policy"], probes=case["probes"])
        except BaseException as exc:  # every way out but a report is a finding of the campaign
            signal.setitimer(signal.ITIMER_REAL, 0)
            if isinstance(exc, KeyboardInterrupt):
                raise
            key = signature(exc)
            if key not in found:
                found[key] = str(save(case, f"{key}: {str(exc)[:300]}", campaign.out))
                print(f"crash: {key} -> {found[key]}", flush=True)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        runs += 1
        if runs % 200 == 0:
            results.write_text(json.dumps({"runs": runs, "found": found}))
    results.write_text(json.dumps({"runs": runs, "found": found}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="time budget (default 60)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock)")
    parser.add_argument("--hang", type=float, default=20.0, help="seconds after which one run counts as a hang")
    parser.add_argument("--memory", type=int, default=2048, help="address-space cap in MiB per worker")
    parser.add_argument("--fixtures", action="store_true", help="seed from the fixtures even when the corpus is present")
    parser.add_argument("--out", type=Path, default=REPRODUCERS, help="where crashes are saved")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else int(time.time())
    seeds = seed_files(corpus=False)
    if CORPUS.is_dir() and not args.fixtures:
        seeds = sorted(p for p in CORPUS.rglob("*.yaml") if p.is_file() and p.stat().st_size < 256 * 1024)
    rng = random.Random(seed)
    campaign = Campaign(seeds, rng, args.out)
    print(f"fuzz campaign: seed {seed}, {len(seeds)} seed files ({'corpus' if seeds and CORPUS in seeds[0].parents else 'fixtures'}), "
          f"{args.seconds:.0f} s", flush=True)
    deadline = time.monotonic() + args.seconds
    total_runs, found = 0, {}
    with tempfile.TemporaryDirectory(prefix="gate-fuzz-") as tmp:
        work = Path(tmp)
        while time.monotonic() < deadline:
            current, results = work / "current.json", work / "results.json"
            results.unlink(missing_ok=True)
            pid = os.fork()
            if pid == 0:  # the worker: a crash of the interpreter kills only it
                code = 0
                try:
                    memory = args.memory * 1024 * 1024
                    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
                    campaign.rng = random.Random(rng.random())
                    worker(campaign, deadline, args.hang, current, results, work)
                except BaseException:  # noqa: BLE001
                    traceback.print_exc()
                    code = 3
                os._exit(code)
            _, status = os.waitpid(pid, 0)
            if results.exists():
                summary = json.loads(results.read_text())
                total_runs += summary["runs"]
                found.update(summary["found"])
            if os.WIFSIGNALED(status) and current.exists():
                case = {k: v.encode("latin-1") if isinstance(v, str) and k in ("render", "state") else v
                        for k, v in json.loads(current.read_text()).items()}
                key = f"worker killed by signal {os.WTERMSIG(status)}"
                found.setdefault(key, str(save(case, key, args.out)))
                print(f"crash: {key} -> {found[key]}", flush=True)
    print(f"fuzz campaign: {total_runs} runs, {len(found)} distinct crash{'es' if len(found) != 1 else ''}")
    for key, path in sorted(found.items()):
        print(f"  {key}: {path}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
