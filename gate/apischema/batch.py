"""Validating every object of a render, split between processes (gate.parallel) when it pays.

CEL evaluation and the structural walk cost about as much as parsing at the incident's scale (22,514
solver routes). Objects are independent: each process validates runs of objects as it is ready for
more and keeps only the results that are not valid, so little comes back through the pipe. A run validates
in children that start before the other checks and work beside them (`start`): the checks that do
not need the results use the CPU the parent would otherwise leave idle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from gate import parallel

from .validator import Result, Status, Validator

# Below this many objects one process is faster: a fork and a pipe cost a few milliseconds.
MIN_PARALLEL = 2_000
# Objects are taken in runs of this many, each by whichever process is ready first (gate.parallel):
# neighbours in a render tend to be alike in cost (a chart's CRDs together, solver routes together),
# and a process that met the costly ones takes fewer.
CHUNK = 64


def validate_all(validator: Validator, objects: Sequence[Any], workers: int | None = None) -> list[tuple[int, Result]]:
    """(index, result) for every object that is not VALID or NOT_VALIDATED, in index order.

    A result comes without its defaulted copy of the object (at the incident's scale the copies would
    double the run's memory). `workers`: processes to use (default: every CPU available, for a batch of
    at least MIN_PARALLEL objects); 1 validates in this process only.
    """
    return start(validator, objects, workers, alongside=False).results()


class Pending:
    """A validation under way (see `start`)."""

    def __init__(self, parts: Callable[[], list[list[tuple[int, Result]]]],
                 started: parallel.StartedRanges | None = None) -> None:
        self._parts = parts  # each share's results, once they are all done
        self._started = started

    def cancel(self) -> None:
        """Stop the children: the results are not wanted (results() would validate here then)."""
        if self._started is not None:
            self._started.cancel()

    def results(self) -> list[tuple[int, Result]]:
        """What validate_all returns, once every share is done."""
        found = [pair for part in self._parts() for pair in part]
        found.sort(key=lambda pair: pair[0])
        return found


def start(validator: Validator, objects: Sequence[Any], workers: int | None = None,
          alongside: bool = True) -> Pending:
    """Validate the objects in forked children while this process goes on (`alongside`), every share
    in a child; or, not alongside, now, with this process doing the first share. A batch too small
    to split is validated in this process when results() is asked (alongside) or now."""
    count = workers if workers is not None else parallel.shares_for(len(objects), MIN_PARALLEL)
    count = max(1, min(count, len(objects) // CHUNK + 1))

    def share(runs: Iterator[range]) -> list[tuple[int, Result]]:
        found = []
        for indices in runs:
            for index in indices:
                result = validator.validate(objects[index])
                if result.status not in (Status.VALID, Status.NOT_VALIDATED):
                    found.append((index, replace(result, defaulted=None)))
        return found

    if alongside:
        started = parallel.start_ranges(share, len(objects), count, CHUNK)
        return Pending(started.join, started)
    parts = parallel.fork_ranges(share, len(objects), count, CHUNK)
    return Pending(lambda: parts)
