"""What a fuzz case's generated C must satisfy after exit 0: NAME.h says only what tinyc
defines, the C builds with the strict flags, and it runs clean under ASan/UBSan.

The header is judged by the preprocessor itself (so comments, line splices and trigraphs
count as the compiler sees them), against a header that includes only <stdint.h>."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tinyc.backend.prefix import prefixed

CC = os.environ.get("CC", "cc")
STRICT = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Wtrigraphs"]
SANITIZE = ["-O0", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
SAN_ENV = {**os.environ, "ASAN_OPTIONS": "detect_leaks=0:exitcode=86",
           "UBSAN_OPTIONS": "halt_on_error=1:exitcode=86:print_stacktrace=0"}
#: static buffers (arena and I/O) above this are compiled, not linked and run
RUN_LIMIT = 256 * 2**20
#: element and byte counts must fit the `int` of a 32-bit MCU (issue 12)
INT32_MAX = 2**31 - 1
BUILD_TIMEOUT = 300
RUN_TIMEOUT = 60
_ALLOWED_MACRO = re.compile(
    r"(ARENA_SIZE|ARENA_ALIGN|NUM_INPUTS|NUM_OUTPUTS|(INPUT|OUTPUT)\d+_(SIZE|SCALE|ZERO_POINT))$")
_NUMBER = re.compile(r"-?(\d+|\d*\.\d+([eE][-+]?\d+)?f?|\d+[eE][-+]?\d+f?|\(?-?\d+[uUlL]*\)?)$")
_PROTOTYPE = re.compile(r"int (\w+)_run(_with_arena)?\(([^;]*)\);")
_PARAM = re.compile(r"(?:const )?(\w[\w ]*?) ?\*(\w+)$")


@dataclass
class CheckResult:
    header: list[str] = field(default_factory=list)  # injections: one reason each
    sizes: list[str] = field(default_factory=list)  # interface sizes != the model's
    too_big: list[str] = field(default_factory=list)  # sizes a 32-bit `int` cannot hold
    build: str = ""  # strict build failure
    sanitizer: str = ""  # run failure
    ran: bool = False


def _preprocess(source: Path, include: Path) -> tuple[list[str], set[str], str]:
    """(lines out of `-E -P -dD`, headers it included, errors) for one file."""
    proc = subprocess.run([CC, "-std=c99", "-E", "-P", "-dD", "-H", "-I", str(include),
                           "-x", "c", str(source)], capture_output=True, text=True,
                          errors="replace", timeout=60)
    included = {line.lstrip(". ").strip() for line in proc.stderr.splitlines()
                if line.startswith(".")}
    errors = "" if proc.returncode == 0 else proc.stderr.strip()
    return proc.stdout.splitlines(), included, errors


@functools.cache
def _baseline() -> tuple[frozenset[str], frozenset[str]]:
    """What a header holding only `#include <stdint.h>` preprocesses to."""
    with tempfile.TemporaryDirectory(prefix="tinyc-fuzz-") as tmp:
        probe = Path(tmp) / "baseline.h"
        probe.write_text("#include <stdint.h>\n")
        lines, included, _ = _preprocess(probe, probe.parent)
    return frozenset(lines), frozenset(included)


def check_header(
    header: Path, cname: str, expected_inputs: list[int | None] | None
) -> tuple[list[str], list[str], dict[str, str]]:
    """(injections, size mismatches, macro values) of NAME.h."""
    lines, included, errors = _preprocess(header, header.parent)
    if errors:
        return [f"NAME.h does not preprocess: {errors.splitlines()[0][:200]}"], [], {}
    base_lines, base_included = _baseline()
    extra = sorted(included - base_included)
    problems = [f"includes {', '.join(extra[:3])}"] if extra else []
    upper = cname.upper()
    macros: dict[str, str] = {}
    declarations = []
    for line in lines:
        if line in base_lines:
            continue
        m = re.match(r"#\s*define\s+(\w+)(\(.*?\))?\s*(.*)$", line)
        if m:
            name, value = m.group(1), m.group(3).strip()
            macros[name] = value
            if name == f"{upper}_H" and not value and not m.group(2):
                continue
            tail = name[len(upper) + 1:] if name.startswith(upper + "_") else ""
            if m.group(2) or not _ALLOWED_MACRO.match(tail) or not _NUMBER.match(value):
                problems.append(f"defines {line[:120]!r}")
        elif line.lstrip().startswith("#"):
            problems.append(f"directive {line[:120]!r}")
        elif line.strip():
            declarations.append(line.strip())
    text = " ".join(declarations)
    text = re.sub(r"typedef union \{[^{}]*\} " + re.escape(cname) + r"_arena_t;", "", text)
    rest = _PROTOTYPE.sub(lambda m: "" if m.group(1) == cname else m.group(0), text).strip()
    if rest:
        problems.append(f"declares {rest[:160]!r}")
    if len(problems) > 5:
        problems = [*problems[:5], f"... and {len(problems) - 5} more lines"]
    sizes = []
    count = macros.get(f"{upper}_NUM_INPUTS")
    if expected_inputs is not None and count != str(len(expected_inputs)):
        sizes.append(f"{upper}_NUM_INPUTS is {count}, the model has {len(expected_inputs)} "
                     "inputs")
    for k, numel in enumerate(expected_inputs or []):
        got = macros.get(f"{upper}_INPUT{k}_SIZE")
        if numel is not None and got is not None and got != str(numel):
            sizes.append(f"{upper}_INPUT{k}_SIZE is {got}, the model's input {k} has {numel}")
    return problems, sizes, macros


def harness(header: str, cname: str, macros: dict[str, str]) -> tuple[str, int]:
    """A main() that fills the inputs and calls NAME_run, written from NAME.h alone, as a
    user would; and the bytes of static storage it needs (arena included)."""
    m = _PROTOTYPE.search(header)
    if m is None:
        raise ValueError(f"no {cname}_run prototype in {cname}.h")
    upper = cname.upper()
    decls, args, fills = [], [], []
    storage = int(macros.get(f"{upper}_ARENA_SIZE", "0") or 0)
    for param in [p.strip() for p in m.group(3).split(",") if p.strip() != "void"]:
        pm = _PARAM.match(param)
        if pm is None:
            raise ValueError(f"unexpected parameter {param!r}")
        ctype, pname = pm.group(1), pm.group(2)
        if pname == "arena":
            align = prefixed(cname, "TINYC_ALIGN")
            decls.append(f"static {cname}_arena_t arena {align}({upper}_ARENA_ALIGN);")
            args.append("&arena")
            continue
        macro = f"{upper}_{pname.upper()}_SIZE"
        count = int(macros.get(macro, "1"))
        storage += count * 8
        decls.append(f"static {ctype} {pname}[{macro} > 0 ? {macro} : 1];")
        args.append(pname)
        if pname.startswith("input"):
            fills.append(f"for (i = 0; i < {macro}; i++) {pname}[i] = ({ctype})((int)(i % 7) - 3);")
    lines = ["#include <stdio.h>", f'#include "{cname}.h"']
    if m.group(2):
        lines.append(f'#include "{prefixed(cname, "tinyc_rt.h")}"')
    lines += [*decls, "int main(void) {", "  long i;", "  int rc;", *fills,
              f"  rc = {cname}_run{m.group(2) or ''}({', '.join(args)});",
              '  printf("rc %d\\n", rc);', "  return 0;", "}"]
    if not fills:
        lines.remove("  long i;")
    return "\n".join(lines) + "\n", storage


def build_and_run(out: Path, cname: str, expected_inputs: list[int | None] | None,
                  scratch: Path) -> CheckResult:
    """Copies OUT's C to `scratch`/build, checks NAME.h, builds, runs."""
    result = CheckResult()
    build = scratch / "build"
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir(parents=True)
    for f in out.iterdir():
        if f.suffix in (".c", ".h") and f.is_file():
            shutil.copy(f, build / f.name)
    header = build / f"{cname}.h"
    if not header.is_file():
        result.build = f"no {cname}.h in OUT"
        return result
    result.header, result.sizes, macros = check_header(header, cname, expected_inputs)
    result.too_big = [f"{name} is {value}" for name, value in sorted(macros.items())
                      if re.fullmatch(r"\w+_(ARENA_SIZE|(IN|OUT)PUT\d+_SIZE)", name)
                      and value.isdigit() and int(value) > INT32_MAX]
    sources = sorted(p.name for p in build.glob("*.c"))
    compile_cmd = [CC, *STRICT, *SANITIZE, "-c", *sources]
    proc = subprocess.run(compile_cmd, cwd=build, capture_output=True, text=True,
                          errors="replace", timeout=BUILD_TIMEOUT)
    if proc.returncode != 0:
        first = next((ln for ln in proc.stderr.splitlines() if "error" in ln), proc.stderr)
        result.build = f"strict build: {first.strip()[:300]}"
        return result
    try:
        source, storage = harness(header.read_text(errors="replace"), cname, macros)
    except ValueError as exc:
        result.build = str(exc)
        return result
    if storage > RUN_LIMIT:
        return result
    (build / "fuzz_main.c").write_text(source)
    objects = sorted(p.name for p in build.glob("*.o"))
    link = [CC, *STRICT, *SANITIZE, "fuzz_main.c", *objects, "-lm", "-o", "fuzz_main"]
    proc = subprocess.run(link, cwd=build, capture_output=True, text=True, errors="replace",
                          timeout=BUILD_TIMEOUT)
    if proc.returncode != 0:
        first = next((ln for ln in proc.stderr.splitlines() if "error" in ln), proc.stderr)
        result.build = f"harness build/link: {first.strip()[:300]}"
        return result
    try:
        proc = subprocess.run(["./fuzz_main"], cwd=build, capture_output=True, text=True,
                              errors="replace", timeout=RUN_TIMEOUT, env=SAN_ENV)
    except subprocess.TimeoutExpired:
        result.sanitizer = f"the generated C ran longer than {RUN_TIMEOUT} s"
        return result
    result.ran = True
    if proc.returncode != 0 or "runtime error" in proc.stderr or "Sanitizer" in proc.stderr:
        report = next((ln for ln in proc.stderr.splitlines()
                       if "runtime error" in ln or "ERROR:" in ln), proc.stderr[-300:])
        result.sanitizer = f"exit {proc.returncode}: {report.strip()[:300]}"
    return result
