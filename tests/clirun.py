"""Run `tinyc` as a real process, the way a user does, and judge its error line."""

from __future__ import annotations

import subprocess
import sys


def cli(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:  # noqa: ANN003
    return subprocess.run([sys.executable, "-m", "tinyc.cli", *args], capture_output=True,
                          text=True, **kwargs)


def assert_one_line(proc: subprocess.CompletedProcess[str], code: int) -> str:
    """The exit code is `code` and stderr is exactly one `tinyc: error: ...` line."""
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tinyc: error: "), proc.stderr
    return lines[0]
