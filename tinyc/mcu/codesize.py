"""What a model's generated C costs in flash on a target: its weights and the code of every
kernel it links, measured by the target's compiler.

The generated files are compiled as the QEMU harness builds them (`harness.OPT_FLAGS`:
-O2, one section per function and per object; a Cortex-M target with arm-none-eabi-gcc and
the core's flags, any other target with the host cc), partially linked (`-r`) with
`--gc-sections` from `NAME_run`, and measured: every .text, .rodata and .data section
(and the ARM unwind index, as `harness.elf_sections` counts it). A kernel function the
model never reaches is dropped as in a real link; one a kernel's run-time dispatch can
reach is kept, as the device keeps it. A Cortex-M link also takes the math library
routines the model calls from newlib's libm (expf, tanhf: 2.2 KB for the MNIST-1D GRU in
float); the C runtime (memcpy, memset, errno) and libgcc's helpers stay unresolved, as
any firmware has them. This is `validate`'s whole-flash figure (model ELF minus stub) to
within 160 bytes on the MNIST-1D models. On the host the math library is not counted
(it may only exist shared) and no unwind tables are generated.

Objects are cached for the process by what decides them (compiler, flags, the C file and
the generated headers it includes), so a search over many mixes compiles each kernel file
once and then only `NAME.c` of each new candidate.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import NamedTuple

from tinyc.backend.generate import GeneratedC
from tinyc.errors import TinycError, VerifyError
from tinyc.mcu.harness import GCC, OPT_FLAGS, SIZE, Sections
from tinyc.mcu.targets import get_target
from tinyc.mcu.tbcount import host_cc

#: host builds: no unwind tables (a bare-metal build has none either)
HOST_FLAGS = ("-fno-asynchronous-unwind-tables", "-fno-unwind-tables")
#: section name prefixes -> the `Sections` field they count in (after a partial link the
#: per-function sections keep their own names: .text.NAME_run, .rodata.w_conv1, ...)
_KINDS = ((".text", "text"), (".rodata", "rodata"), (".ARM.exidx", "rodata"),
          (".data", "data"), (".bss", "bss"))

_INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.MULTILINE)
_objects: dict[str, bytes] = {}
_sections: dict[str, Sections] = {}


class CompilerMissingError(TinycError):
    """The target's compiler, needed to measure the kernels' code, is not installed."""

    exit_code = 1


class Toolchain(NamedTuple):
    cc: str
    size: str
    cflags: tuple[str, ...]
    #: before `-r`: how the link finds the target's libraries; after the objects: what it
    #: resolves from them
    link_flags: tuple[str, ...] = ()
    libs: tuple[str, ...] = ()


def toolchain(target: str) -> Toolchain:
    """What builds and measures the generated C for `target` (module docstring)."""
    t = get_target(target)
    if t.is_mcu:
        if shutil.which(GCC) is None or shutil.which(SIZE) is None:
            raise CompilerMissingError(
                f"the flash of a {target} build is measured with {GCC} and {SIZE}, which "
                "are not installed (Debian/Ubuntu: gcc-arm-none-eabi)")
        return Toolchain(GCC, SIZE, (*t.cpu_flags, "-std=c99", *OPT_FLAGS),
                         (*t.cpu_flags, "--specs=nano.specs", "-nostartfiles"), ("-lm",))
    cc = host_cc()
    if cc is None or shutil.which("size") is None:
        raise CompilerMissingError("the flash of a host build is measured with the host cc "
                                   "($CC or cc) and binutils' size, which are not installed")
    return Toolchain(cc, "size", ("-std=c99", *OPT_FLAGS, *HOST_FLAGS), ("-nostdlib",))


def flash_bytes(code: GeneratedC, target: str) -> int:
    """Flash the device pays for `code` built for `target`: weights + linked code (module
    docstring)."""
    return model_sections(code, target).flash


def model_sections(code: GeneratedC, target: str) -> Sections:
    """Section sizes of `code`'s C for `target`, linked from `NAME_run` (module docstring)."""
    tools = toolchain(target)
    sources = sorted(f for f in code.files if f.endswith(".c"))
    keys = {f: _digest(repr(tools), *(f"{n}\n{code.files[n]}" for n in _included(code.files, f)))
            for f in sources}
    whole = _digest(code.name, *(keys[f] for f in sources))
    if whole in _sections:
        return _sections[whole]
    with tempfile.TemporaryDirectory(prefix="tinyc-codesize-") as tmp_name:
        tmp = Path(tmp_name)
        code.write(tmp)
        objs = []
        for f in sources:
            obj = tmp / f"{Path(f).stem}.o"
            if keys[f] not in _objects:
                _run([tools.cc, *tools.cflags, "-I", str(tmp), "-c", str(tmp / f), "-o", str(obj)],
                     f"compiling {f}")
                _objects[keys[f]] = obj.read_bytes()
            obj.write_bytes(_objects[keys[f]])
            objs.append(str(obj))
        linked = tmp / "model.o"
        _run([tools.cc, *tools.link_flags, "-r", "-Wl,--gc-sections",
              f"-Wl,--entry={code.name}_run", *objs, *tools.libs, "-o", str(linked)],
             "linking the model")
        sections = section_sizes(_run([tools.size, "-A", str(linked)], tools.size).stdout)
    _sections[whole] = sections
    return sections


def section_sizes(size_output: str) -> Sections:
    """`Sections` from `size -A` of a relocatable object (sections named per function)."""
    sizes = dict.fromkeys(("text", "rodata", "data", "bss"), 0)
    for line in size_output.splitlines():
        parts = line.split()
        if len(parts) < 2 or not parts[1].isdigit():
            continue
        kind = next((k for prefix, k in _KINDS
                     if parts[0] == prefix or parts[0].startswith(prefix + ".")), None)
        if kind is not None:
            sizes[kind] += int(parts[1])
    return Sections(**sizes)


def _included(files: dict[str, str], source: str) -> list[str]:
    """`source` and the generated headers it includes, directly or not (sorted): what its
    object depends on besides the compiler and flags."""
    seen, todo = {source}, [source]
    while todo:
        for name in _INCLUDE.findall(files[todo.pop()]):
            if name in files and name not in seen:
                seen.add(name)
                todo.append(name)
    return sorted(seen)


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode())
        h.update(b"\0")
    return h.hexdigest()


def _run(cmd: list[str], what: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise VerifyError(f"measuring the code size: {what} failed:\n{' '.join(cmd)}\n"
                          f"{proc.stderr.strip()[-2000:]}")
    return proc
