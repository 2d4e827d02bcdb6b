"""Progress on stderr while a run is long: what is being read, DNS names and images answered k/n.

On a terminal one line is rewritten in place, and only once the run has taken more than a second
(a quick run prints nothing). Elsewhere nothing is shown unless asked (`--progress`), and then as
plain lines, at most one a second. Never on stdout: reports stay machine-readable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TextIO

TTY_DELAY = 1.0  # seconds before a terminal sees anything
LINE_INTERVAL = 1.0  # seconds between plain lines (not a terminal)
REDRAW_INTERVAL = 0.2


class Progress:
    def __init__(self, stream: TextIO | None = None, *, enabled: bool = False, delay: float | None = None):
        self.stream = stream
        self.enabled = enabled and stream is not None
        self.tty = bool(self.enabled and stream.isatty())
        # asked for explicitly on a pipe: from the start, as lines; on a terminal: after a second
        self.delay = delay if delay is not None else (TTY_DELAY if self.tty else 0.0)
        self._start = time.monotonic()
        self._text = ""
        self._shown = ""
        self._last_line = float("-inf")
        self._drawn = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what the pipeline reports --------------------------------------------------------------

    def stage(self, text: str) -> None:
        """What is happening now ("reading inputs", "read 6 files, 38 resources")."""
        if self.enabled:
            with self._lock:
                self._text = text
            self._draw()

    def counter(self, label: str, total: int) -> Callable[[], None]:
        """A function to call once per answer: shows `label k/total`."""
        done = 0

        def tick() -> None:
            nonlocal done
            done += 1
            self.stage(f"{label} {done}/{total}")

        if total:
            self.stage(f"{label} 0/{total}")
        return tick

    # -- drawing --------------------------------------------------------------------------------

    def _draw(self, final: bool = False) -> None:
        with self._lock:
            elapsed = time.monotonic() - self._start
            text = self._text
            if not text or elapsed < self.delay or (text == self._shown and not self.tty):
                return
            if self.tty:
                self.stream.write(f"\r\033[K{text} ({elapsed:.0f}s)")
                self._drawn = True
            elif final or time.monotonic() - self._last_line >= LINE_INTERVAL:
                self.stream.write(f"gate: {text}\n")
                self._last_line = time.monotonic()
            else:
                return
            self._shown = text
            self.stream.flush()

    def _tick_loop(self) -> None:
        # Keeps a terminal line alive through long synchronous steps (a big file being parsed).
        while not self._stop.wait(REDRAW_INTERVAL):
            if self.tty:
                with self._lock:
                    self._shown = ""
            self._draw()

    def __enter__(self) -> Progress:
        if self.enabled:
            self._thread = threading.Thread(target=self._tick_loop, name="gate-progress", daemon=True)
            from gate import parallel

            parallel.fork_safe(self._thread)  # it only sleeps and writes to stderr, which no child does
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
        if not self.enabled:
            return
        with self._lock:
            if self._drawn:
                self.stream.write("\r\033[K")  # leave the terminal as it was
                self.stream.flush()
        if not self.tty:
            self._draw(final=True)


NO_PROGRESS = Progress()
