"""Exact execution counts from QEMU: the `tinyc_tbcount` TCG plugin, built on demand.

Why a plugin and not `-d exec,nochain` logs: the log prints one line per executed block
(millions of lines, hundreds of MB for ResNet-8, and `nochain` slows QEMU down), and its
line format is not an interface; the plugin keeps one counter per translated block in
QEMU's memory and writes a few thousand lines. The plugin API is versioned: QEMU refuses a
plugin built for a version it no longer (or not yet) supports and says which it wants, so
the plugin is rebuilt once with that number (QEMU 7.2 to 8.2 take 1; newer ones more).

The guest calls `tinyc_mcu_mark()` (tinyc/mcu/runtime) at the edges of what is measured;
each call closes a region: the blocks run since the previous mark, how often each ran and
how often it was left by a taken branch.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from tinyc.errors import VerifyError

PLUGIN_SOURCE = "tinyc_tbcount.c"
#: the plugin API version tried first (QEMU 7.2, Debian 12's, through 8.2)
FIRST_API = 1
_API_REFUSED = re.compile(r"API version (\d+).*?version (?:of )?(\d+)", re.S)

_built: dict[int, Path] = {}


@dataclass(frozen=True)
class BlockRuns:
    """One translated block in one region: where it starts, its length, how often it ran
    and how often it ended in a taken branch."""

    vaddr: int
    insns: int
    runs: int
    taken: int


def host_cc() -> str | None:
    """The host C compiler the plugin is built with ($CC, else cc), or None."""
    cc = os.environ.get("CC", "cc")
    return cc if shutil.which(cc) else None


def plugin(api: int = FIRST_API) -> Path:
    """The plugin shared object for API version `api`, compiled once per process into a
    temporary directory (removed at exit)."""
    if api in _built:
        return _built[api]
    cc = host_cc()
    if cc is None:
        raise VerifyError("no host C compiler (cc or $CC) to build the QEMU counting plugin")
    tmp = Path(tempfile.mkdtemp(prefix="tinyc-tbcount-"))
    atexit.register(shutil.rmtree, tmp, True)
    source = Path(str(resources.files("tinyc.mcu"))) / "plugin" / PLUGIN_SOURCE
    so = tmp / f"tinyc_tbcount_v{api}.so"
    cmd = [cc, "-shared", "-fPIC", "-fvisibility=hidden", "-O2", "-std=c99",
           f"-DTINYC_QEMU_PLUGIN_API={api}", str(source), "-o", str(so)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise VerifyError(f"building the QEMU counting plugin failed:\n{proc.stderr.strip()}")
    _built[api] = so
    return so


def plugin_args(so: Path, out: Path, mark: int) -> list[str]:
    """qemu-system-arm arguments loading the plugin, writing to `out`, with regions closed
    at each entry of the function at address `mark`."""
    return ["-plugin", f"file={so},out={out},mark={mark & ~1:x}"]


def wanted_api(qemu_output: str) -> int | None:
    """The plugin API version QEMU asks for when it refused to load the plugin, else None.
    (QEMU says: "plugin requires API version N, but this QEMU supports only a minimum
    version of M" or "... up to version M".)"""
    match = _API_REFUSED.search(qemu_output)
    return int(match[2]) if match and "plugin" in qemu_output else None


def read_regions(path: Path) -> list[list[BlockRuns]]:
    """The regions the plugin wrote, in order; the first is everything before the first
    mark, the last (written at exit) everything after the last mark."""
    regions: list[list[BlockRuns]] = []
    current: list[BlockRuns] | None = None
    for line in path.read_text().splitlines():
        if line == "region":
            current = []
        elif line == "end":
            if current is None:
                raise VerifyError(f"{path.name}: malformed counting output")
            regions.append(current)
            current = None
        elif current is not None:
            vaddr, insns, runs, taken = line.split()
            current.append(BlockRuns(int(vaddr, 16), int(insns), int(runs), int(taken)))
    return regions
