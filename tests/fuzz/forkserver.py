"""A fork server for fuzz runs: imports tinyc once, then forks one child per request.

Starting the `tinyc` program costs about a second of imports; a fuzz case then takes a
tenth of that. Each child is a fresh process that runs `tinyc.cli.main` with the case's
argv, cwd, umask, TMPDIR and file descriptors, exactly as the installed entry point does
(`sys.exit(main())`), so its exit status, signals and output are those of a real run. The
server itself never runs a case, so no state leaks from one case to the next.

Protocol: one JSON request per line on stdin, {"argv", "cwd", "stdout", "stderr", "tmpdir",
"timeout", "memory"}; one JSON reply per line on stdout, {"status": "exit"|"signal"|
"timeout", "code", "seconds"}.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

PRELOAD = ("tinyc.cli", "tinyc.compiler", "tinyc.frontend.onnx", "tinyc.backend.generate",
           "tinyc.prune.driver", "tinyc.quant.driver", "tinyc.memory.report")


def _child(request: dict) -> None:
    """Never returns: becomes the tinyc process and exits with its status."""
    import resource
    import tempfile

    os.setpgid(0, 0)
    os.chdir(request["cwd"])
    os.umask(0o022)
    os.environ["TMPDIR"] = request["tmpdir"]
    tempfile.tempdir = None
    resource.setrlimit(resource.RLIMIT_AS, (request["memory"], request["memory"]))
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
        f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(f, fd)
    sys.argv = ["tinyc", *request["argv"]]
    code = 1
    try:
        from tinyc.cli import main

        result = main()
        code = result if isinstance(result, int) else (0 if result is None else 1)
    except SystemExit as exc:  # argparse, as the entry point's sys.exit would see it
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - what the interpreter would print and exit with
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code & 0xFF)


def _wait(pid: int, timeout: float) -> dict:
    start = time.monotonic()
    delay = 0.002
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        elapsed = time.monotonic() - start
        if done:
            if os.WIFSIGNALED(status):
                return {"status": "signal", "code": os.WTERMSIG(status), "seconds": elapsed}
            return {"status": "exit", "code": os.WEXITSTATUS(status), "seconds": elapsed}
        if elapsed > timeout:
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return {"status": "timeout", "code": -1, "seconds": elapsed}
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def serve() -> None:
    import importlib

    for module in PRELOAD:  # the imports every child would otherwise pay for
        try:
            importlib.import_module(module)
        except ImportError:  # a module another branch renamed: the child imports the rest
            pass

    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(request)
        reply = _wait(pid, request["timeout"])
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
