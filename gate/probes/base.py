"""What a probe is: a batch of network questions a run asks once, concurrently, before checks read answers.

A check names the probe it needs (`ProbeName`); `run` collects the distinct requests every selected
check's probe needs, asks them all at once (or takes canned answers, for tests), and hands back
request -> answer. Failures are answer values, never exceptions, so a failed lookup becomes "could
not verify", never a pass.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gate.checks.base import Context


class ProbeName(StrEnum):
    DNS = "dns"
    REGISTRY = "registry"


class ProbeStatus(StrEnum):
    RAN = "ran"
    CANNED = "canned"  # answers handed to `run` (tests), nothing asked
    OFFLINE = "offline"
    NOTHING_TO_ASK = "nothing to ask"


@dataclass(frozen=True)
class Probe:
    """`requests` returns the distinct questions the index needs answered (names, image references);
    `answer` answers them all and returns request -> result."""

    name: ProbeName
    requests: Callable[[Context], set[Any]]
    answer: Callable[[set[Any], Context], Awaitable[dict[Any, Any]]]
