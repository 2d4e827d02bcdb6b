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
from collections.abc import Callable
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
