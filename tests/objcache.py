"""A compile cache for the test session: the suite compiles the same kernel files again and
again (every model named `net` carries the same `net_tinyc_qconv.c`, and one kernel file
takes seconds to compile where the model's own file takes a tenth of one), so each object
is compiled once per session and reused when the same source meets the same flags.

`install()` (tests/conftest.py) puts wrappers of `cc`, `gcc`, `clang` and
`arm-none-eabi-gcc` first on PATH for the session and its subprocesses (the `tinyc` CLI
runs included). A wrapper caches `-c` compiles of C and assembler sources and splits a
build of sources straight into a program (`cc flags a.c b.c -o prog`, as
tinyc.harness.build_host does) into cached compiles plus a link; anything else goes to the
compiler untouched. The key is the compiler, its flags and the preprocessed source, so any
change in an included header is a miss; an entry keeps the compiler's stderr and replays
it. A compile that fails is never cached: the original command runs as it was, so its
diagnostics are the compiler's own.

A `-c SRC -o OBJ` compile with gcc's stack usage (`-fstack-usage`, `-fcallgraph-info=su`,
as tinyc/mcu/stackuse.py compiles) also keeps the `.su` and `.ci` files gcc writes beside
OBJ and puts them beside the next OBJ. They name the source and its headers as the command
did, so their key also has the source argument and the include flags as written: a
compile with relative paths (stackuse.py compiles in the model's directory) is reused from
any directory, one with absolute paths only from the same place.
TINYC_TEST_OBJCACHE=0 turns the cache off.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

#: where the wrappers find their cache (a directory of this session)
ENV = "TINYC_TEST_OBJCACHE"
WRAPPED = ("cc", "gcc", "clang", "arm-none-eabi-gcc")
SOURCES = (".c", ".S")
#: flags with a separate value argument
VALUED = frozenset({"-o", "-I", "-D", "-U", "-include", "-isystem", "-iquote", "-T",
                    "-Xlinker"})
#: outputs that are not an object or a program: the compiler handles these itself
OTHER_OUTPUTS = frozenset({"-E", "-S", "-M", "-MM", "-MD", "-MMD", "-MF", "-dM", "-x",
                           "-fsyntax-only", "-v", "--version", "-###"})
#: flags that write files beside the object (call graphs other than the stack usage ones,
#: dumps, temps) or that the cache does not follow: these go to the compiler
SIDE_OUTPUTS = ("-print", "-M", "-x", "@", "-fstack-usage", "-fcallgraph-info", "-fdump-",
                "-save-temps", "-Wa,")
#: gcc's stack usage flags and the files they write beside `-o X.o` (X.su, X.ci): cached
#: with the object for a compile of one source to a named object
STACK_USAGE = {"-fstack-usage": ".su", "-fcallgraph-info=su": ".ci"}
LINK_ONLY = ("-l", "-L", "-Wl,", "-shared", "-static", "-rdynamic", "-nostartfiles",
             "-Xlinker", "-T")


def _run(cmd: list[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(cmd, capture_output=True)


def _passthrough(real: str, args: list[str]) -> int:
    os.execv(real, [real, *args])
    return 127  # not reached


def _split(args: list[str]) -> tuple[list[str], list[str], str | None, bool] | None:
    """(flags, sources, output, compile-only) of a command the cache understands, else None.
    The flags keep their order; a valued flag keeps its value next to it."""
    flags: list[str] = []
    sources: list[str] = []
    output = None
    compile_only = False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in STACK_USAGE and "-c" in args:
            flags.append(arg)
            i += 1
            continue
        if arg in OTHER_OUTPUTS or arg.startswith(SIDE_OUTPUTS) or arg == "-":
            return None
        if arg == "-o":
            if i + 1 >= len(args):
                return None
            output = args[i + 1]
            i += 2
            continue
        if arg == "-c":
            compile_only = True
        elif arg in VALUED:
            if i + 1 >= len(args):
                return None
            flags += [arg, args[i + 1]]
            i += 2
            continue
        elif arg.startswith("-"):
            flags.append(arg)
        elif arg.endswith(SOURCES):
            sources.append(arg)
        elif arg.endswith((".o", ".a")) and "-c" not in args:
            pass  # linked as they are
        else:  # other languages: not ours
            return None
        i += 1
    if not sources or (output is None) != (compile_only and len(sources) > 1):
        return None
    if _side_suffixes(flags) and output is None:  # the side files are named after -o
        return None
    return flags, sources, output, compile_only


def _side_suffixes(flags: list[str]) -> list[str]:
    """The suffixes of the files the flags make gcc write beside the object."""
    return [STACK_USAGE[f] for f in flags if f in STACK_USAGE]


def _compile_flags(flags: list[str]) -> list[str]:
    """The flags of a whole build that matter to one compile (no linker inputs)."""
    kept: list[str] = []
    skip = False
    for flag in flags:
        if skip:
            skip = False
        elif flag in ("-Xlinker", "-T"):
            skip = True
        elif not flag.startswith(LINK_ONLY):
            kept.append(flag)
    return kept


def _key(real: str, flags: list[str], source: str) -> str | None:
    """What decides the object: the compiler, the flags other than the include paths, the
    source's name and its preprocessed text (without line markers, so without paths). With
    side files, which name the paths, also the include paths and the source as written."""
    proc = _run([real, *flags, "-E", "-P", source])
    if proc.returncode != 0:
        return None
    paths = bool(_side_suffixes(flags))
    h = hashlib.sha256()
    h.update(real.encode())
    for i, flag in enumerate(flags):
        if paths or not (flag.startswith("-I") or (i and flags[i - 1] == "-I")):
            h.update(flag.encode() + b"\0")
    h.update((source if paths else Path(source).name).encode() + b"\0")
    h.update(proc.stdout)
    return h.hexdigest()


def _cached_object(cache: Path, real: str, flags: list[str],
                   source: str) -> tuple[Path, bytes] | None:
    """The object of `source`, compiled now or earlier, and the compiler's stderr. None if
    it does not compile (the caller runs the original command for the diagnostics)."""
    key = _key(real, flags, source)
    if key is None:
        return None
    obj, err = cache / f"{key}.o", cache / f"{key}.err"
    if obj.exists() and err.exists():
        return obj, err.read_bytes()
    fd, tmp = tempfile.mkstemp(suffix=".o", dir=cache)
    os.close(fd)
    proc = _run([real, *flags, "-c", source, "-o", tmp])
    sides = [Path(tmp).with_suffix(suffix) for suffix in _side_suffixes(flags)]
    if proc.returncode != 0 or not all(side.exists() for side in sides):
        for path in [Path(tmp), *sides]:
            path.unlink(missing_ok=True)
        return None
    for side in sides:  # before the object: an entry is complete once its object is there
        os.replace(side, obj.with_suffix(side.suffix))
    err_tmp = Path(tmp).with_suffix(".err")
    err_tmp.write_bytes(proc.stderr)
    os.replace(err_tmp, err)
    os.replace(tmp, obj)
    return obj, proc.stderr


def main(real: str, args: list[str]) -> int:
    cache = os.environ.get(ENV, "")
    parts = _split(args) if cache and Path(cache).is_dir() else None
    if parts is None:
        return _passthrough(real, args)
    flags, sources, output, compile_only = parts
    compile_flags = _compile_flags(flags)
    compiled = [_cached_object(Path(cache), real, compile_flags, s) for s in sources]
    if any(c is None for c in compiled):
        return _passthrough(real, args)
    objects = [c[0] for c in compiled if c is not None]
    for c in compiled:  # what the compiler said, on a reused object too
        sys.stderr.buffer.write(c[1] if c is not None else b"")
    if compile_only:  # `-o obj` of one source, or each source's `stem.o` here
        outputs = [output] if output else [Path(s).with_suffix(".o").name for s in sources]
        for obj, out in zip(objects, outputs, strict=True):
            shutil.copyfile(obj, out)
            for suffix in _side_suffixes(compile_flags):
                shutil.copyfile(obj.with_suffix(suffix), Path(out).with_suffix(suffix))
        return 0
    link = [real]
    by_source = dict(zip(sources, objects, strict=True))
    for arg in args:
        link.append(str(by_source[arg]) if arg in by_source else arg)
    proc = _run(link)
    sys.stdout.buffer.write(proc.stdout)
    sys.stderr.buffer.write(proc.stderr)
    return proc.returncode


def install() -> Path | None:
    """Put the wrappers first on PATH (this process and its children); the cache
    directory, or None when it is off or already installed (an xdist worker inherits the
    controller's)."""
    if os.environ.get(ENV) is not None:
        return None
    root = Path(tempfile.mkdtemp(prefix="tinyc-objcache-"))
    bin_dir = root / "bin"
    bin_dir.mkdir()
    for tool in WRAPPED:
        real = shutil.which(tool)
        if real is None:  # a missing tool stays missing
            continue
        wrapper = bin_dir / tool
        here = str(Path(__file__).parent)
        wrapper.write_text(
            f"#!{sys.executable} -S\nimport sys\nsys.path.insert(0, {here!r})\n"
            f"import objcache\nsys.exit(objcache.main({real!r}, sys.argv[1:]))\n"
        )
        wrapper.chmod(0o755)
    os.environ[ENV] = str(root)
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    return root
