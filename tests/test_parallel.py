"""gate.parallel: the same results whether the shares ran in forks, here, or after a child failed."""
from __future__ import annotations

import os
import threading

import pytest

from gate import parallel

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="forking needs a POSIX system")


@pytest.fixture
def forking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Servers other tests started may still have threads in this process, which makes the real
    `can_fork` (rightly) refuse; these tests fork anyway, with work that takes no lock."""
    monkeypatch.setattr(parallel, "can_fork", lambda: True)


def test_results_come_back_in_share_order_from_real_children(forking: None) -> None:
    parent = os.getpid()
    pids = parallel.fork_map(lambda k: (k, os.getpid()), 3)
    assert [k for k, _ in pids] == [0, 1, 2]
    assert pids[0][1] == parent and len({pid for _, pid in pids}) == 3


def test_a_failing_child_share_is_done_here(forking: None) -> None:
    parent = os.getpid()

    def work(k: int) -> int:
        if os.getpid() != parent and k == 1:
            raise RuntimeError("child fails")
        if os.getpid() != parent and k == 2:
            os._exit(9)
        return k * 10

    assert parallel.fork_map(work, 3) == [0, 10, 20]


def test_an_unpicklable_result_is_computed_here(forking: None) -> None:
    parent = os.getpid()
    assert parallel.fork_map(lambda k: (lambda: k) if os.getpid() != parent else k, 2)[1] == 1


def test_with_another_thread_running_every_share_runs_here(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> int:
        raise AssertionError("forked while a thread was running")

    monkeypatch.setattr(os, "fork", refuse)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert parallel.shares_for(10_000, 100) == 1
        assert parallel.fork_map(lambda k: k + 1, 3) == [1, 2, 3]
    finally:
        stop.set()
        thread.join()


def test_small_work_is_not_split(forking: None) -> None:
    assert parallel.shares_for(99, 100) == 1
    assert parallel.shares_for(100, 100) == parallel.cpus()


def test_the_progress_ticker_does_not_stop_a_fork_another_thread_does() -> None:
    """A terminal run has gate.progress's ticker thread, which holds nothing a child needs: it must not
    turn the run serial. Any other thread still does. In a fresh process, where no server thread runs."""
    import subprocess
    import sys

    from conftest import ROOT

    probe = """
import io, sys, threading
from gate import parallel
from gate.progress import Progress
assert parallel.can_fork()
with Progress(io.StringIO(), enabled=True):
    assert parallel.can_fork(), "the ticker stopped a fork"
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    assert not parallel.can_fork(), "forked beside an unknown thread"
    stop.set()
    other.join()
    assert parallel.can_fork()
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_started_shares_run_in_children_while_this_process_goes_on(forking: None, tmp_path) -> None:
    parent = os.getpid()
    gate_file = tmp_path / "go"

    def work(k: int) -> tuple[int, int]:
        # Each child waits until the parent has gone on and written the file: the work runs alongside.
        while not gate_file.exists():
            pass
        return k, os.getpid()

    started = parallel.start(work, 2)
    gate_file.write_text("go")
    results = started.join()
    assert [k for k, _ in results] == [0, 1]
    assert parent not in {pid for _, pid in results} and len({pid for _, pid in results}) == 2
    assert started.join() is results  # joined once


def test_a_started_share_whose_child_fails_is_done_by_join(forking: None) -> None:
    parent = os.getpid()

    def work(k: int) -> int:
        if os.getpid() != parent and k == 0:
            os._exit(3)
        return k + 100

    assert parallel.start(work, 2).join() == [100, 101]


def test_where_forking_is_unsafe_join_does_the_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "can_fork", lambda: False)
    ran: list[int] = []
    started = parallel.start(lambda k: ran.append(k) or k, 3)
    assert ran == []  # nothing yet: the caller's own work comes first
    assert started.join() == [0, 1, 2] and ran == [0, 1, 2]


def test_a_start_never_joined_leaves_no_child_behind(forking: None) -> None:
    started = parallel.start(lambda k: __import__("time").sleep(30), 2)
    pids = [child[0] for child in started._children if child is not None]
    assert len(pids) == 2
    del started  # the run stopped on an error before collecting
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reaped already: no zombie, no child running on


def test_a_cancelled_start_stops_its_children_and_join_does_the_work_here(forking: None) -> None:
    parent = os.getpid()
    started = parallel.start(lambda k: (__import__("time").sleep(30) if os.getpid() != parent else None, k)[1], 2)
    pids = [child[0] for child in started._children if child is not None]
    assert len(pids) == 2
    started.cancel()
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # killed and reaped at once, not after 30 s
    assert started.join() == [0, 1]  # done here, without waiting for anything


# --- runs taken as the processes go --------------------------------------------------------------

def _indices(runs) -> list[int]:
    return [i for r in runs for i in r]


@pytest.mark.parametrize("shares", [1, 2, 3])
@pytest.mark.parametrize("items", [0, 1, 63, 64, 65, 1_000])
def test_every_item_is_done_once_whoever_takes_it(forking: None, shares: int, items: int) -> None:
    parts = parallel.fork_ranges(lambda runs: (os.getpid(), _indices(runs)), items, shares, 8)
    assert sorted(i for _, done in parts for i in done) == list(range(items))
    for _, done in parts:
        assert done == sorted(done)  # each process takes the runs in order


def test_a_slow_process_takes_fewer_runs(forking: None) -> None:
    parent = os.getpid()

    def work(runs) -> tuple[int, list[int]]:
        done = []
        for r in runs:
            if os.getpid() == parent:
                __import__("time").sleep(0.05)  # this process's core lent at a fraction
            done.extend(r)
        return os.getpid(), done

    parts = dict(parallel.fork_ranges(work, 400, 2, 4))
    assert len(parts[parent]) < 100 < sum(len(d) for d in parts.values()) == 400


def test_the_runs_of_a_child_that_died_are_done_here(forking: None) -> None:
    parent = os.getpid()

    def work(runs) -> list[int]:
        done = []
        for r in runs:
            done.extend(r)
            if os.getpid() != parent and len(done) > 20:
                os._exit(3)  # killed halfway, holding runs it took
        return done

    parts = parallel.fork_ranges(work, 500, 3, 8)
    assert sorted(i for done in parts for i in done) == list(range(500))


def test_runs_no_share_took_stay_undone(forking: None) -> None:
    # Every share stops early (its memory budget, in the parser): what no one took is not done after.
    def work(runs) -> list[int]:
        first = next(iter(runs), range(0))
        return list(first)

    parts = parallel.fork_ranges(work, 1_000, 2, 10)
    done = sorted(i for part in parts for i in part)
    assert len(done) == 20 and done == sorted(set(done))


def test_started_runs_are_done_by_the_children_or_by_join(forking: None, tmp_path) -> None:
    parent = os.getpid()
    go = tmp_path / "go"

    def work(runs) -> tuple[int, list[int]]:
        done = []
        for r in runs:
            if os.getpid() != parent:
                (tmp_path / f"took-{os.getpid()}").touch()
                while not go.exists():
                    pass  # each child holds a run until this process has gone on
            done.extend(r)
        return os.getpid(), done

    started = parallel.start_ranges(work, 300, 2, 16)
    deadline = __import__("time").monotonic() + 30
    while len(list(tmp_path.glob("took-*"))) < 2 and __import__("time").monotonic() < deadline:
        pass
    go.write_text("go")
    parts = started.join()
    assert sorted(i for _, done in parts for i in done) == list(range(300))
    # Joining, this process takes what the children have not taken yet instead of waiting idle.
    assert {pid for pid, done in parts if done} - {parent}

    cancelled = parallel.start_ranges(lambda runs: (os.getpid(), _indices(runs)), 300, 2, 16)
    cancelled.cancel()
    assert sorted(i for _, done in cancelled.join() for i in done) == list(range(300))


def test_a_batch_of_many_runs_gets_longer_runs() -> None:
    runs = parallel.Runs(1_000_000, 64)
    try:
        assert runs.count <= parallel.MAX_RUNS
        assert _indices(runs.ranges(range(runs.count)))[-1] == 999_999
    finally:
        runs.close()


def test_without_a_pipe_every_run_is_done_once_here(forking: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pipe() -> tuple[int, int]:
        raise OSError("too many open files")

    monkeypatch.setattr(os, "pipe", no_pipe)
    started = parallel.start_ranges(lambda runs: _indices(runs), 300, 2, 16)
    assert sorted(i for part in started.join() for i in part) == list(range(300))
    assert sorted(i for part in parallel.fork_ranges(lambda runs: _indices(runs), 300, 2, 16)
                  for i in part) == list(range(300))
