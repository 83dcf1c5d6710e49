"""Run a function in a forked child process.

ONNX's shape inference is C++ that trusts the model more than tinyc may: on some malformed
models it fails an assertion and aborts the whole process (a Split whose `num_outputs`
disagrees with its outputs). Run in a child, such a crash becomes a one-line `ModelError`
and the compiler survives. Where `fork` does not exist the function runs in-process.
"""

from __future__ import annotations

import faulthandler
import os
import pickle
from collections.abc import Callable
from typing import TypeVar

from tinyc.errors import ModelError, TinycError

T = TypeVar("T")


def run_isolated(what: str, fn: Callable[[], T]) -> T:
    """`fn()` computed in a forked child; its result (or `TinycError`) comes back pickled.
    A child killed by a signal is reported as a `ModelError` naming `what`."""
    if not hasattr(os, "fork"):
        return fn()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compute, send, and leave without running any cleanup
        status = 0
        try:
            os.close(read_end)
            quiet = os.open(os.devnull, os.O_WRONLY)  # an assertion's text is not ours to
            os.dup2(quiet, 1)  # print: the parent reports the crash in one line
            os.dup2(quiet, 2)
            faulthandler.disable()  # it may hold its own copy of stderr (pytest's does)
            try:
                outcome: tuple[str, object] = ("value", fn())
            except TinycError as exc:
                outcome = ("error", exc)
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(pickle.dumps(outcome))
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        raise ModelError(f"{what} crashed on this model (signal {os.WTERMSIG(status)})")
    if os.WEXITSTATUS(status) != 0 or not data:
        raise RuntimeError(f"{what} failed in its child process")
    kind, payload = pickle.loads(data)
    if kind == "error":
        raise payload  # type: ignore[misc]
    return payload  # type: ignore[return-value]
