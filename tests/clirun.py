"""Run `tinyc` as a real process, the way a user does, and judge its error line."""

from __future__ import annotations

import atexit
import json
import locale
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tinyc.progress import is_progress_line

#: TINYC_TEST_CLI_FORK=0 starts every run as `python -m tinyc.cli` instead of forking it
#: from tests/cliserver.py (the same process after the same imports, a second sooner)
FORK = os.environ.get("TINYC_TEST_CLI_FORK", "1") != "0" and hasattr(os, "fork")
_server: subprocess.Popen[str] | None = None


def _close() -> None:
    if _server is not None and _server.stdin is not None:
        _server.stdin.close()
        _server.wait(timeout=30)


def _forked(args: tuple[str, ...], cwd: str | os.PathLike[str] | None
            ) -> subprocess.CompletedProcess[str]:
    """One run through this process's fork server (started on first use: it inherits the
    environment the suite has set up by then, the compile cache's PATH included)."""
    global _server
    if _server is None or _server.poll() is not None:
        _server = subprocess.Popen([sys.executable, str(Path(__file__).with_name("cliserver.py"))],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                   encoding="utf-8")
        atexit.register(_close)
    assert _server.stdin is not None and _server.stdout is not None
    with tempfile.TemporaryDirectory(prefix="tinyc-cli-") as tmp:
        out, err = Path(tmp, "stdout"), Path(tmp, "stderr")
        request = {"argv": list(args), "cwd": None if cwd is None else os.fspath(cwd),
                   "stdout": str(out), "stderr": str(err)}
        _server.stdin.write(json.dumps(request) + "\n")
        _server.stdin.flush()
        reply = _server.stdout.readline()
        if not reply:
            raise RuntimeError(f"tests/cliserver.py ended (status {_server.wait()})")
        # decoded as subprocess.run(text=True) decodes a pipe
        encoding = locale.getpreferredencoding(False)
        text = [p.read_bytes().decode(encoding).replace("\r\n", "\n").replace("\r", "\n")
                for p in (out, err)]
    return subprocess.CompletedProcess([sys.executable, "-m", "tinyc.cli", *args],
                                       json.loads(reply)["returncode"], *text)


def cli(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:  # noqa: ANN003
    if FORK and set(kwargs) <= {"cwd"}:
        return _forked(args, kwargs.get("cwd"))
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
