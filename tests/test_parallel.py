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
