"""Validating every object of a render: on every core the machine lends, when it pays.

CEL evaluation and the structural walk are CPU-bound Python, and validating the incident's 22,514
solver routes costs more than parsing them. Objects are independent, so the batch is split between
this process and forked children. A child shares the parent's parsed objects and compiled schemas
copy-on-write (nothing is serialised on the way in) and sends back only the results that are not
valid, pickled; the parent validates its own share meanwhile.

Forking is used only where it is safe and worth it: a POSIX fork, no other thread in this process
(a fork copies locks held by other threads), more than one CPU in this process's affinity, and a
batch large enough that a child's start-up is a small part of it. Whatever goes wrong in a child (it
dies, is killed, sends something unreadable) costs only time: the parent validates that share itself,
so the results never depend on how the work was split.
"""

from __future__ import annotations

import gc
import os
import pickle
import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from .validator import Result, Status, Validator

# Below this many objects one process is faster: a fork and a pipe cost a few milliseconds.
MIN_PARALLEL = 2_000
# Objects go out in runs of this many, round-robin: neighbours in a render tend to be alike in
# cost (a chart's CRDs together, solver routes together), so every worker gets some of each.
CHUNK = 64


def workers_available() -> int:
    """CPUs this process may run on (a container's cpuset, a taskset), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def validate_all(validator: Validator, objects: Sequence[Any], workers: int | None = None) -> list[tuple[int, Result]]:
    """(index, result) for every object that is not VALID or NOT_VALIDATED, in index order.

    A result comes without its defaulted copy of the object (at the incident's scale the copies would
    double the run's memory). `workers`: processes to use (default: as many as CPUs are available,
    when forking is safe and the batch is large enough); 1 validates in this process only.
    """
    count = workers if workers is not None else (workers_available() if len(objects) >= MIN_PARALLEL else 1)
    count = max(1, min(count, len(objects) // CHUNK + 1))
    if count > 1 and not _can_fork():
        count = 1
    shares = [[start for start in range(first * CHUNK, len(objects), count * CHUNK)] for first in range(count)]
    children = [_fork(validator, objects, share) for share in shares[1:]]
    found = _validate_share(validator, objects, shares[0])
    for child, share in zip(children, shares[1:]):
        result = _collect(child)
        found.extend(result if result is not None else _validate_share(validator, objects, share))
    found.sort(key=lambda pair: pair[0])
    return found


def _can_fork() -> bool:
    return hasattr(os, "fork") and hasattr(os, "sched_getaffinity") and threading.active_count() == 1


def _validate_share(validator: Validator, objects: Sequence[Any], starts: list[int]) -> list[tuple[int, Result]]:
    found = []
    for start in starts:
        for index in range(start, min(start + CHUNK, len(objects))):
            result = validator.validate(objects[index])
            if result.status not in (Status.VALID, Status.NOT_VALIDATED):
                found.append((index, replace(result, defaulted=None)))
    return found


def _fork(validator: Validator, objects: Sequence[Any], starts: list[int]) -> tuple[int, int] | None:
    """Starts a child on `starts`; (pid, read end of its pipe), or None when no child could start."""
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
    # The child. The collector would touch every object's header and so copy the parent's whole
    # heap; validation makes no reference cycles worth collecting in a process this short.
    code = 1
    try:
        gc.disable()
        os.close(read)
        data = pickle.dumps(_validate_share(validator, objects, starts), protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write, "wb") as out:
            out.write(data)
        code = 0
    except BaseException:  # noqa: BLE001, S110 - whatever it is, the parent redoes the share
        pass
    finally:
        os._exit(code)


def _collect(child: tuple[int, int] | None) -> list[tuple[int, Result]] | None:
    """The child's results, or None when it did not deliver them whole."""
    if child is None:
        return None
    pid, read = child
    chunks = []
    try:
        with os.fdopen(read, "rb") as pipe:
            while chunk := pipe.read(1 << 20):
                chunks.append(chunk)
    except OSError:
        chunks = []
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return None
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        return None
    try:
        results = pickle.loads(b"".join(chunks))
    except Exception:  # noqa: BLE001 - a truncated or garbled stream: redo the share
        return None
    return results if isinstance(results, list) else None
