"""A fork server for the suite's `tinyc` runs (tests/clirun.py): imports tinyc once, then
forks one child per run.

Starting the `tinyc` program costs over a second of imports (ml_dtypes' extension alone
is most of it) where a refused command line then takes a few milliseconds, and the suite
starts the program a few hundred times. Each child is a fresh process of its own that does
what `python -m tinyc.cli ARGS` does after its imports: sets sys.argv, runs
`sys.exit(main())` in the run's directory with /dev/null as stdin and its stdout and
stderr going to files, and ends as the interpreter would (exit status, a traceback and 1
for an uncaught exception, atexit handlers, flushed streams). The server itself never runs
a command, so no state passes from one run to the next, and it imports only what every
`tinyc` run that gets past its argument parser imports.

Protocol: one JSON request per line on the server's stdin, {"argv", "cwd", "stdout",
"stderr"}; one JSON reply per line on its stdout, {"returncode"} (as subprocess gives it:
the exit status, or minus the signal).
"""

from __future__ import annotations

import json
import os
import sys

#: what `python -m tinyc.cli` imports at startup, and what every run past the argument
#: parser imports first (`_dispatch`: tinyc.compiler and the ONNX front end with it)
PRELOAD = ("tinyc.cli", "tinyc.compiler")


def _exit_code(code: object) -> int:
    """The exit status the interpreter gives `raise SystemExit(code)`."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _child(request: dict, protocol: tuple[int, int]) -> None:
    """Never returns: becomes the tinyc process and exits with its status."""
    import atexit

    for fd in protocol:
        os.close(fd)
    if request["cwd"] is not None:
        os.chdir(request["cwd"])
    sys.path[0] = os.getcwd()  # as `python -m` puts it
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
        f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(f, fd)
        os.close(f)
    import tinyc.cli

    sys.argv = [tinyc.cli.__file__, *request["argv"]]
    code = 1
    try:
        try:
            raise SystemExit(tinyc.cli.main())
        except SystemExit as exc:
            code = _exit_code(exc.code)
        except BaseException:  # noqa: BLE001 - what the interpreter prints and exits with
            sys.excepthook(*sys.exc_info())
            code = 1
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - the interpreter's status when it cannot flush
                code = 120
    finally:
        os._exit(code)


def serve() -> None:
    import importlib

    for module in PRELOAD:
        importlib.import_module(module)
    # the protocol on descriptors of its own: the children's 0, 1 and 2 are theirs
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    protocol = (requests.fileno(), replies.fileno())
    for line in requests:
        request = json.loads(line)
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(request, protocol)
        _, status = os.waitpid(pid, 0)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        replies.write(json.dumps({"returncode": code}) + "\n")
        replies.flush()


if __name__ == "__main__":
    serve()
