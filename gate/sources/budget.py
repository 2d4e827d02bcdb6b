"""What one run may read, whatever its files: documents, and memory the parsed objects take.

Memory is the process's resident size grown since the run began, sampled as documents are parsed.
Together with the file size limit these keep a run under 1 GB: hostile input stops being read
(manifest-invalid, so the gate fails) instead of growing the process until the machine kills it.
"""

from __future__ import annotations

import os
import sys

MAX_DOCUMENTS = 200_000
MEMORY_BUDGET = 512 * 1024 * 1024
_SAMPLE_BYTES = 1024 * 1024  # parsed text between two samples of the resident size


def resident_bytes() -> int:
    """The process's resident set size now (Linux /proc), or its peak elsewhere."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


class LoadBudget:
    """Shared by every load of one run (render, cluster state): documents left, memory left."""

    def __init__(self, documents: int = MAX_DOCUMENTS, memory: int = MEMORY_BUDGET, of: str = "") -> None:
        self.documents = documents
        self.memory = memory
        self.of = of  # for a part of the run's budget (a parse share): what it is a part of, for the message
        self.baseline = resident_bytes()
        self.unsampled = 0
        self.exhausted: str | None = None  # why reading stopped

    def spend(self, text_bytes: int) -> str | None:
        """Account for one document about to be parsed; the reason to stop, when the budget is gone."""
        if self.exhausted:
            return self.exhausted
        self.documents -= 1
        if self.documents < 0:
            self.exhausted = (f"more than {MAX_DOCUMENTS:,} documents in one run; the rest is not read "
                              f"(the gate's memory bound)")
            return self.exhausted
        self.unsampled += text_bytes
        if self.unsampled >= _SAMPLE_BYTES:
            self.unsampled = 0
            grown = resident_bytes() - self.baseline
            if grown > self.memory:
                self.exhausted = (f"the objects read so far take {grown / 1048576:,.0f} MiB, more than the "
                                  f"{self.memory / 1048576:,.0f} MiB {self.of or 'the gate allows itself'}; the rest "
                                  f"is not read")
                return self.exhausted
        return None

    def memory_left(self) -> int:
        return max(0, self.memory - max(0, resident_bytes() - self.baseline))
