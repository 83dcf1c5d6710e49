"""Start a tinyc process for a fuzz case: through the fork server (fast) or as the
installed `tinyc` program (exact, a second slower per case)."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: address-space limit of a tinyc run: an absurd model must fail, not eat the machine's RAM
MEMORY_LIMIT = 1536 * 2**20
#: one BLAS thread: the machine's cores are shared by the parallel cases
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
       "MKL_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


@dataclass
class Run:
    status: str  # "exit", "signal" or "timeout"
    code: int  # the exit status, or the signal number
    seconds: float


class ForkLauncher:
    """One fork server (tests/fuzz/forkserver.py); not thread-safe: one per worker."""

    def __init__(self) -> None:
        self._server = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("forkserver.py"))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=ENV, text=True,
            errors="surrogateescape",
        )

    def run(self, argv: list[str], cwd: Path, stdout: Path, stderr: Path, tmpdir: Path,
            timeout: float) -> Run:
        request = {"argv": argv, "cwd": str(cwd), "stdout": str(stdout), "stderr": str(stderr),
                   "tmpdir": str(tmpdir), "timeout": timeout, "memory": MEMORY_LIMIT}
        assert self._server.stdin is not None and self._server.stdout is not None
        self._server.stdin.write(json.dumps(request) + "\n")
        self._server.stdin.flush()
        reply = json.loads(self._server.stdout.readline())
        return Run(reply["status"], reply["code"], reply["seconds"])

    def close(self) -> None:
        if self._server.stdin is not None:
            self._server.stdin.close()
        self._server.wait(timeout=30)


def _limit_child() -> None:
    os.umask(0o022)
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


class ExecLauncher:
    """The installed `tinyc` program beside this Python, as a user runs it."""

    program = str(Path(sys.executable).with_name("tinyc"))

    def run(self, argv: list[str], cwd: Path, stdout: Path, stderr: Path, tmpdir: Path,
            timeout: float) -> Run:
        start = time.monotonic()
        with open(stdout, "wb") as out, open(stderr, "wb") as err:
            proc = subprocess.Popen(
                [self.program, *(os.fsencode(a) for a in argv)], cwd=cwd, stdout=out,
                stderr=err, stdin=subprocess.DEVNULL, env={**ENV, "TMPDIR": str(tmpdir)},
                preexec_fn=_limit_child, start_new_session=True,
            )
            try:
                code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return Run("timeout", -1, time.monotonic() - start)
        seconds = time.monotonic() - start
        if code < 0:
            return Run("signal", -code, seconds)
        return Run("exit", code, seconds)

    def close(self) -> None:
        pass


def launcher(kind: str) -> ForkLauncher | ExecLauncher:
    return ForkLauncher() if kind == "fork" else ExecLauncher()
