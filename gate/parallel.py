"""CPU-bound stages on every core the machine lends: the work split between this process and forks.

Parsing YAML and validating objects are pure Python (or C under the GIL), one object at a time, and
at the incident's scale each costs seconds. A forked child shares what the parent holds (the file's
text, the parsed objects, compiled schemas) copy-on-write, so nothing is serialised on the way in;
it sends back its share's results, pickled, while the parent works on its own share (fork_map), or on
something else altogether (start: the API validation runs beside the other checks).

A fork is used only where it is safe and worth it: POSIX fork, no other thread in this process but
ones declared fork-safe (a fork copies locks other threads hold), more than one CPU in this process's
affinity (a container's cpuset, a taskset), and a caller that judged the work large enough. Whatever goes wrong in a child
(it dies, is killed, cannot pickle its results) costs only time: the parent does that share itself,
so results never depend on how the work was split.
"""

from __future__ import annotations

import gc
import os
import signal
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


def cpus() -> int:
    """CPUs this process may run on, at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return 1


# Threads known to hold nothing a child needs (gate.progress's ticker: it only sleeps and writes to
# stderr, which a child never does), so they do not stop a fork: a terminal user's run, where the
# ticker runs, validates on every CPU as CI's does.
_QUIET: weakref.WeakSet[threading.Thread] = weakref.WeakSet()


def fork_safe(thread: threading.Thread) -> None:
    """Declare a thread that never holds a lock a forked child may take."""
    _QUIET.add(thread)


def can_fork() -> bool:
    if not hasattr(os, "fork"):
        return False
    current = threading.current_thread()
    return all(t is current or t in _QUIET for t in threading.enumerate())


def shares_for(items: int, minimum: int) -> int:
    """How many processes to split `items` between: 1 below `minimum` or where forking is unsafe."""
    if items < minimum or not can_fork():
        return 1
    return cpus()


def fork_map(work: Callable[[int], T], shares: int) -> list[T]:
    """[work(0), ..., work(shares - 1)]: work(0) here, the others in forked children at the same time
    (one after the other here, where forking is unsafe)."""
    if shares <= 1 or not can_fork():
        return [work(share) for share in range(shares)]
    import pickle  # noqa: F401 - imported before forking: a child then only finds it in sys.modules

    # Share 0 has no child: join does it here while the children do theirs, then collects them.
    return Started(work, [None, *(_start(work, share) for share in range(1, shares))]).join()


class Started(Generic[T]):
    """Shares of work running in forked children while this process goes on (see `start`)."""

    def __init__(self, work: Callable[[int], T], children: list[tuple[int, int] | None]) -> None:
        self._work = work
        self._children = children
        self._results: list[T] | None = None

    def join(self) -> list[T]:
        """[work(0), ..., work(shares - 1)], waiting for the children; a share whose child did not
        deliver (or every share, where none could start) is done here."""
        if self._results is None:
            children, self._children = self._children, []
            results = []
            for share, child in enumerate(children):
                delivered = _collect(child)
                results.append(delivered[0] if delivered is not None else self._work(share))
            self._results = results
        return self._results

    def cancel(self) -> None:
        """Stop the children's work, unwanted now; join() then does every share here."""
        for child in self._children:
            if child is not None:
                pid, read = child
                try:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                except OSError:
                    pass
                os.close(read)
        self._children = [None] * len(self._children)

    def __del__(self) -> None:
        # Never joined (the run stopped on an error): the children's work is not wanted any more.
        self.cancel()


def start(work: Callable[[int], T], shares: int) -> Started[T]:
    """work(0), ..., work(shares - 1), each in a forked child, while this process does something else;
    `.join()` gives the results. Where forking is unsafe, or for a single share, nothing starts now and
    join() does the work."""
    if shares <= 1 or not can_fork():
        return Started(work, [None] * max(shares, 0))
    import pickle  # noqa: F401 - imported before forking: a child then only finds it in sys.modules

    return Started(work, [_start(work, share) for share in range(shares)])


# --- runs of items, taken as the processes go -------------------------------------------------------
# A fixed split leaves a process idle while another finishes a share that cost more: its items were
# costlier, or the machine lent its core less (on a shared host one process of two ran at half speed
# for a second and more). Instead each process takes the next run of items whenever it is ready. The
# run numbers wait in a pipe, written before the fork: a read of a few bytes from a pipe is atomic, so
# no two processes take the same run, and nothing needs a lock.

# Runs are numbered in 4 bytes, at most this many (16 KiB: within what any pipe holds unread, so the
# writer never waits); a batch larger than MAX_RUNS * run length gets longer runs.
MAX_RUNS = 4096


class Runs:
    """The runs of item indices of one batch, handed out once each, to whichever process asks."""

    def __init__(self, items: int, length: int) -> None:
        self.items = items
        self.length = max(1, length, -(-items // MAX_RUNS))
        self.count = -(-items // self.length)
        self._read: int | None = None
        self._given = False  # without a pipe: whether the runs were handed out
        try:
            read, write = os.pipe()
        except OSError:
            return  # no pipe: the first process to ask takes every run
        try:
            os.write(write, b"".join(n.to_bytes(4, "little") for n in range(self.count)))
        except OSError:
            os.close(read)
            return
        finally:
            os.close(write)
        self._read = read

    def take(self, taken: list[int]) -> Iterator[range]:
        """The runs this process takes, as index ranges, each number added to `taken`."""
        if self._read is None:
            # No pipe: only this process works (see `shareable`); the first to ask takes them all.
            if self._given:
                return
            self._given = True
            taken.extend(range(self.count))
            yield from self.ranges(range(self.count))
            return
        while True:
            try:
                data = os.read(self._read, 4)
            except OSError:
                return
            if len(data) < 4:
                return  # none left
            number = int.from_bytes(data, "little")
            taken.append(number)
            yield self._range(number)

    @property
    def shareable(self) -> bool:
        """Whether several processes can take from these runs (their pipe could be made)."""
        return self._read is not None

    def untaken(self) -> set[int]:
        """The runs no process took (every share stopped early): read out, so that none is taken now."""
        left: set[int] = set()
        if self._read is not None:
            while len(data := self._read_some()) >= 4:
                left.update(int.from_bytes(data[i:i + 4], "little") for i in range(0, len(data) - 3, 4))
        return left

    def _read_some(self) -> bytes:
        try:
            os.set_blocking(self._read, False)
            return os.read(self._read, 4 * MAX_RUNS)
        except (BlockingIOError, OSError):
            return b""

    def ranges(self, numbers: Iterable[int]) -> Iterator[range]:
        return (self._range(n) for n in numbers)

    def _range(self, number: int) -> range:
        return range(number * self.length, min(self.items, (number + 1) * self.length))

    def close(self) -> None:
        if self._read is not None:
            os.close(self._read)
            self._read = None


def _run_shares(work: Callable[[Iterator[range]], T], runs: Runs) -> Callable[[int], tuple[list[int], T]]:
    def share(_: int) -> tuple[list[int], T]:
        taken: list[int] = []
        return taken, work(runs.take(taken))
    return share


def _finish(work: Callable[[Iterator[range]], T], runs: Runs, parts: list[tuple[list[int], T]]) -> list[T]:
    """Each share's result, and the runs a child took but did not deliver done here (a child that died
    or was stopped: its results are lost with it); runs no one took stay undone (every share stopped)."""
    done = {number for taken, _ in parts for number in taken}
    lost = sorted(set(range(runs.count)) - done - runs.untaken())
    runs.close()
    results = [result for _, result in parts]
    if lost:
        results.append(work(runs.ranges(lost)))
    return results


def fork_ranges(work: Callable[[Iterator[range]], T], items: int, shares: int, length: int) -> list[T]:
    """work(runs of item indices), in this process and shares - 1 forked children at once, each
    taking the next run of `length` indices whenever it is ready: one result per share (and one more
    for runs done here after a child failed). The same work in whatever order; callers merge by index."""
    runs = Runs(items, length)
    if shares <= 1 or not can_fork() or not runs.shareable:
        runs.close()
        return [work(runs.ranges(range(runs.count)))]
    return _finish(work, runs, fork_map(_run_shares(work, runs), shares))


class StartedRanges(Generic[T]):
    """fork_ranges's work running in children only, while this process goes on (see start_ranges)."""

    def __init__(self, work: Callable[[Iterator[range]], T], runs: Runs, started: Started) -> None:
        self._work, self._runs, self._started = work, runs, started
        self._results: list[T] | None = None

    def join(self) -> list[T]:
        """The results, once every run is done: this process first takes the runs the children have
        not taken yet (it would only wait for them otherwise), then collects the children."""
        if self._results is None:
            taken: list[int] = []
            own = self._work(self._runs.take(taken))
            self._results = _finish(self._work, self._runs, [*self._started.join(), (taken, own)])
        return self._results

    def cancel(self) -> None:
        self._started.cancel()


def start_ranges(work: Callable[[Iterator[range]], T], items: int, shares: int, length: int) -> StartedRanges[T]:
    """fork_ranges in `shares` forked children while this process does something else; `.join()` gives
    the results (where forking is unsafe, or for one share, join() does the work)."""
    runs = Runs(items, length)
    return StartedRanges(work, runs, start(_run_shares(work, runs), shares if runs.shareable else 1))


def _start(work: Callable[[int], T], share: int) -> tuple[int, int] | None:
    """(pid, read end of its pipe) of a child computing work(share), or None when none could start."""
    try:
        read, write = os.pipe()
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:
        os.close(read)
        os.close(write)
        return None
    if pid:
        os.close(write)
        return pid, read
    # The child. The cyclic collector would touch every object's header and so copy the parent's whole
    # heap page by page; a process this short-lived has nothing worth collecting.
    code = 1
    try:
        import pickle

        gc.disable()
        os.close(read)
        data = pickle.dumps(work(share), protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write, "wb") as out:
            out.write(data)
        code = 0
    except BaseException:  # noqa: BLE001, S110 - whatever it is, the parent redoes the share
        pass
    finally:
        os._exit(code)  # no atexit handlers, no flush of the parent's copied stdout buffers


def _collect(child: tuple[int, int] | None) -> tuple[object] | None:
    """(the child's result,), or None when it did not deliver it whole."""
    if child is None:
        return None
    pid, read = child
    data = bytearray()  # grown in place: a list of chunks joined would hold the results' bytes twice
    try:
        with os.fdopen(read, "rb") as pipe:
            while chunk := pipe.read(1 << 20):
                data += chunk
    except OSError:
        data = bytearray()
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return None
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        return None
    import pickle  # here, not at the top: a one-document run never forks and pays nothing for it

    try:
        return (pickle.loads(data),)  # our own child's bytes, through our own pipe
    except Exception:  # noqa: BLE001 - truncated or garbled: redo the share
        return None
