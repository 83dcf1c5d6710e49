"""What tinyc is doing during a step that can take seconds (calibration, C builds, QEMU
runs, reference runs, report evaluations), on stderr. One place decides how it looks:

- on a terminal, one line redrawn in place (a spinner or a bar, and the seconds so far),
  erased when the step ends, so what the command prints afterwards stays as it was;
- anywhere else (a pipe, a log, CI), one plain line per step as it starts,
  `tinyc: running on QEMU mps2-an386 ...`, so a log shows where a slow run is.

stdout never carries progress: it stays the command's result. The CLI reports steps unless
`--quiet`; the Python API only when called with `progress=True`. On a failure the error is
still one line, the last on stderr (`is_progress_line` tells the lines before it apart).
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

#: how a plain (not a terminal) progress line starts and ends
PREFIX = "tinyc: "
SUFFIX = " ..."
#: seconds between two redraws of the terminal line
REDRAW_S = 0.1
_SPINNER = "|/-\\"
_BAR = 24

#: the terminal lines being drawn, innermost step last (only the innermost one draws)
_live: list[_LiveLine] = []
_lock = threading.Lock()


def is_progress_line(line: str) -> bool:
    """True for a plain progress line (what a non-terminal stderr gets for each step)."""
    return (line.startswith(PREFIX) and line.endswith(SUFFIX)
            and not line.startswith((f"{PREFIX}error", f"{PREFIX}internal error")))


def _ignore() -> None:
    """The step counter of a step nobody watches."""


class Progress:
    """Reports steps on `stream` (None: reports nothing)."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream

    @contextmanager
    def step(self, what: str, total: int = 0) -> Iterator[Callable[[], None]]:
        """Report `what` (already safe to print: model text through tinyc.display.shown)
        while the block runs. With `total`, the block calls the function it gets once per
        unit of work, and a terminal shows a bar."""
        stream = self.stream
        if stream is None:
            yield _ignore
            return
        if not _isatty(stream):
            stream.write(f"{PREFIX}{what}{SUFFIX}\n")
            stream.flush()
            yield _ignore
            return
        line = _LiveLine(stream, what, total)
        line.start()
        try:
            yield line.tick
        finally:
            line.stop()


#: reports nothing (the API's default, and a caller's that passes none)
QUIET = Progress(None)


def progress(enabled: bool) -> Progress:
    """Steps reported on this process's stderr, or not at all."""
    return Progress(sys.stderr) if enabled else QUIET


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real file
        return False


class _LiveLine:
    """A terminal line redrawn every REDRAW_S by a daemon thread until `stop`."""

    def __init__(self, stream: TextIO, what: str, total: int) -> None:
        self.stream, self.what, self.total = stream, what, total
        self.done = 0
        self.start_time = time.monotonic()
        self.drawn = 0  # characters on the line now
        self.finished = threading.Event()
        self.thread = threading.Thread(target=self._run, name="tinyc-progress", daemon=True)

    def start(self) -> None:
        with _lock:
            if _live:  # an outer step's line: cleared now, redrawn when this one ends
                _live[-1]._erase()
            _live.append(self)
        self.thread.start()

    def tick(self) -> None:
        self.done += 1

    def stop(self) -> None:
        self.finished.set()
        self.thread.join()
        with _lock:
            self._erase()
            _live.remove(self)

    def _run(self) -> None:
        frame = 0
        while True:
            with _lock:
                if _live and _live[-1] is self:
                    self._draw(frame)
            frame += 1
            if self.finished.wait(REDRAW_S):
                return

    def text(self, frame: int) -> str:
        seconds = time.monotonic() - self.start_time
        if self.total:
            filled = _BAR * min(self.done, self.total) // self.total
            shape = f"[{'#' * filled}{'.' * (_BAR - filled)}] {self.done}/{self.total}"
        else:
            shape = _SPINNER[frame % len(_SPINNER)]
        return f"{PREFIX}{self.what} {shape} {seconds:.1f} s"

    def _draw(self, frame: int) -> None:
        width = max(shutil.get_terminal_size().columns - 1, 20)  # a wrapped line can't redraw
        text = self.text(frame)[:width]
        self._write("\r" + text + " " * max(self.drawn - len(text), 0))
        self.drawn = len(text)

    def _erase(self) -> None:
        if self.drawn:
            self._write("\r" + " " * self.drawn + "\r")
            self.drawn = 0

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # the terminal went away: the work goes on
            pass
