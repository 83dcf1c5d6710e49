"""Run `tinyc` as a real process, the way a user does, and judge its error line."""

from __future__ import annotations

import subprocess
import sys

from tinyc.progress import is_progress_line


def cli(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:  # noqa: ANN003
    return subprocess.run([sys.executable, "-m", "tinyc.cli", *args], capture_output=True,
                          text=True, **kwargs)


def assert_one_line(proc: subprocess.CompletedProcess[str], code: int) -> str:
    """The exit code is `code` and stderr is exactly one `tinyc: error: ...` line."""
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tinyc: error: "), proc.stderr
    return lines[0]


def strip_progress(stderr: str) -> str:
    """stderr without the progress lines of slow steps (tinyc.progress: one per step when
    stderr is not a terminal), which come before anything else; the rest as it was."""
    while True:
        line, newline, rest = stderr.partition("\n")
        if not (newline and is_progress_line(line)):
            return stderr
        stderr = rest
