"""Validating every object of a render, split between processes (gate.parallel) when it pays.

CEL evaluation and the structural walk cost more than parsing at the incident's scale (22,514
solver routes). Objects are independent: each process validates runs of objects round-robin and
keeps only the results that are not valid, so little comes back through the pipe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from gate import parallel

from .validator import Result, Status, Validator

# Below this many objects one process is faster: a fork and a pipe cost a few milliseconds.
MIN_PARALLEL = 2_000
# Objects go out in runs of this many, round-robin: neighbours in a render tend to be alike in
# cost (a chart's CRDs together, solver routes together), so every process gets some of each.
CHUNK = 64


def validate_all(validator: Validator, objects: Sequence[Any], workers: int | None = None) -> list[tuple[int, Result]]:
    """(index, result) for every object that is not VALID or NOT_VALIDATED, in index order.

    A result comes without its defaulted copy of the object (at the incident's scale the copies would
    double the run's memory). `workers`: processes to use (default: every CPU available, for a batch of
    at least MIN_PARALLEL objects); 1 validates in this process only.
    """
    count = workers if workers is not None else parallel.shares_for(len(objects), MIN_PARALLEL)
    count = max(1, min(count, len(objects) // CHUNK + 1))

    def share(k: int) -> list[tuple[int, Result]]:
        found = []
        for start in range(k * CHUNK, len(objects), count * CHUNK):
            for index in range(start, min(start + CHUNK, len(objects))):
                result = validator.validate(objects[index])
                if result.status not in (Status.VALID, Status.NOT_VALIDATED):
                    found.append((index, replace(result, defaulted=None)))
        return found

    found = [pair for part in parallel.fork_map(share, count) for pair in part]
    found.sort(key=lambda pair: pair[0])
    return found
