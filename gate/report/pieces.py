"""Writing a report in pieces: what a format's `write` hands to its sink."""

from __future__ import annotations

from collections.abc import Callable, Iterable

# Characters gathered before they are handed on: few calls to the sink, little held at once.
BATCH_CHARS = 1 << 20


def batched(pieces: Iterable[str], sink: Callable[[str], object]) -> None:
    """Hand the pieces to sink joined in batches of about BATCH_CHARS characters."""
    batch: list[str] = []
    size = 0
    for piece in pieces:
        batch.append(piece)
        size += len(piece)
        if size >= BATCH_CHARS:
            sink("".join(batch))
            batch.clear()
            size = 0
    if batch:
        sink("".join(batch))
