"""Several models in one program: every file and external symbol tinyc writes is the
model's own (NAME_tinyc_*, tinyc.backend.prefix), so outputs link together.

Three different models -- the digits CNN (float, portable kernels), the keyword spotter
(int8, Cortex-M4 kernels) and the anomaly autoencoder (int8, portable kernels: the same
`qfc` family as the keyword spotter's, in another variant) -- are built into one program
with the strict flags, on the host and on QEMU's Cortex-M4, and every output is checked:
float against onnxruntime, int8 bit for bit against tinyc's interpreter. Their names
`kws` and `kws_anomaly` are one the prefix of the other on purpose.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

import tinyc
from tinyc.backend.cnames import model_identifiers
from tinyc.backend.generate import codegen_root
from tinyc.backend.prefix import prefix_files, prefix_text, prefixed
from tinyc.backend.writer import CWriter
from tinyc.harness import SANITIZE_FLAGS, STRICT_FLAGS
from tinyc.interp import run_graph
from tinyc.ir import Graph
from tinyc.mcu import get_target
from tinyc.mcu.harness import (
    compile_object,
    link_elf,
    mcu_cflags,
    qemu_command,
    runtime_objects,
)
from tinyc.mcu.targets import kernel_dirs

MODELS = Path(__file__).resolve().parents[1] / "examples" / "models"
CXX = shutil.which("g++") or shutil.which("clang++") or "c++"


@dataclass(frozen=True)
class Spec:
    name: str
    stem: str
    target: str
    quantize: str | None


SPECS = (
    Spec("digits", "digits_cnn", "generic", None),
    Spec("kws", "kws_dscnn", "cortex-m4", "int8"),
    Spec("kws_anomaly", "ad_autoencoder", "generic", "int8"),
)


@dataclass(frozen=True)
class Built:
    spec: Spec
    out: Path
    graph: Graph  # the compiled (optimized, quantized) IR
    inputs: list[np.ndarray]
    expected: list[np.ndarray]


def _input(spec: Spec, shape: tuple[int, ...]) -> np.ndarray:
    if spec.stem == "digits_cnn":
        return np.load(MODELS / "digits_test_x.npy")[:1].astype(np.float32)
    return np.random.default_rng(len(spec.name)).standard_normal(shape).astype(np.float32)


def _compile(spec: Spec, root: Path) -> Built:
    path = MODELS / f"{spec.stem}.onnx"
    shape = tinyc.load(path).inputs[0].shape
    calib = None
    if spec.quantize:
        calib = root / f"{spec.name}_calib.npy"
        noise = np.random.default_rng(7).standard_normal((8, *shape[1:]))
        np.save(calib, noise.astype(np.float32))
    result = tinyc.compile(path, root / spec.name, name=spec.name, target=spec.target,
                           quantize=spec.quantize, calib=calib)
    x = _input(spec, shape)
    if spec.quantize:  # integer kernels: the interpreter, bit for bit
        expected = run_graph(result.graph, {result.graph.inputs[0].name: x})
    else:
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        expected = sess.run(None, {sess.get_inputs()[0].name: x})
    return Built(spec, result.out_dir, result.graph, [x], [np.asarray(e) for e in expected])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> list[Built]:
    root = tmp_path_factory.mktemp("models")
    return [_compile(spec, root) for spec in SPECS]


def _main_source(models: list[Built]) -> str:
    """One program that runs every model once: inputs from `NAME_inK.bin`, outputs to
    `NAME_outK.bin` (stdio on the host, semihosting on the MCU)."""
    w = CWriter()
    w.lines(["#include <stddef.h>", "#include <stdint.h>", ""])
    w.lines([f'#include "{m.spec.name}.h"' for m in models])
    w.lines(["", "#ifdef MULTIMODEL_MCU", '#include "tinyc_mcu.h"',
             "#define read_file tinyc_mcu_read_file", "#define write_file tinyc_mcu_write_file",
             "#else", "#include <stdio.h>"])
    for fn, mode, op in (("read_file", "rb", "fread"), ("write_file", "wb", "fwrite")):
        const = "const " if fn == "write_file" else ""
        with w.block(f"static int {fn}(const char *path, {const}void *buf, size_t size)"):
            w.line(f'FILE *f = fopen(path, "{mode}");')
            w.line(f"size_t n = f ? {op}(buf, 1, size, f) : 0;")
            w.line("if (f) fclose(f);")
            w.line("return n == size ? 0 : 1;")
    w.lines(["#endif", ""])
    calls = []
    for m in models:
        name, upper = m.spec.name, m.spec.name.upper()
        args = []
        for kind, values in (("in", m.graph.inputs), ("out", m.graph.outputs)):
            for i, v in enumerate(values):
                size = f"{upper}_{'INPUT' if kind == 'in' else 'OUTPUT'}{i}_SIZE"
                w.line(f"static {v.dtype.c_type} {name}_{kind}{i}[{size}];")
                args.append((kind, f"{name}_{kind}{i}"))
        calls.append((name, args))
    w.line("")
    with w.block("int main(void)"):
        for name, args in calls:
            for kind, buf in args:
                if kind == "in":
                    w.line(f'if (read_file("{buf}.bin", {buf}, sizeof {buf}) != 0) return 2;')
            w.line(f"if ({name}_run({', '.join(buf for _, buf in args)}) != 0) return 3;")
            for kind, buf in args:
                if kind == "out":
                    w.line(f'if (write_file("{buf}.bin", {buf}, sizeof {buf}) != 0) return 4;')
        w.line("return 0;")
    return w.text()


def _write_inputs(models: list[Built], workdir: Path) -> None:
    for m in models:
        for i, (v, x) in enumerate(zip(m.graph.inputs, m.inputs, strict=True)):
            np.ascontiguousarray(x, dtype=v.dtype.np).tofile(workdir / f"{m.spec.name}_in{i}.bin")


def _check_outputs(models: list[Built], workdir: Path, rtol: float, atol: float) -> None:
    for m in models:
        for i, (v, want) in enumerate(zip(m.graph.outputs, m.expected, strict=True)):
            got = np.fromfile(workdir / f"{m.spec.name}_out{i}.bin", v.dtype.np).reshape(v.shape)
            want = want.reshape(v.shape)
            if m.spec.quantize:
                np.testing.assert_array_equal(got, want, err_msg=m.spec.name)
            else:
                np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=m.spec.name)


def _sources(models: list[Built]) -> list[str]:
    return [str(p) for m in models for p in sorted(m.out.glob("*.c"))]


def _includes(models: list[Built]) -> list[str]:
    """Every model directory on the include path: no model's header may shadow another's."""
    return [flag for m in models for flag in ("-I", str(m.out))]


def test_three_models_link_and_run_on_the_host(built: list[Built], tmp_path: Path) -> None:
    (tmp_path / "main.c").write_text(_main_source(built))
    exe = tmp_path / "three_models"
    cmd = ["cc", *STRICT_FLAGS, "-O0", *SANITIZE_FLAGS, *_includes(built),
           str(tmp_path / "main.c"), *_sources(built), "-lm", "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _write_inputs(built, tmp_path)
    run = subprocess.run([str(exe)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    _check_outputs(built, tmp_path, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_three_models_link_and_run_on_qemu_cortex_m4(
    mcu_tools: None, built: list[Built], tmp_path: Path
) -> None:
    target = get_target("cortex-m4")
    cflags = mcu_cflags(target, [m.out for m in built])
    strict = [*STRICT_FLAGS, *cflags]
    (tmp_path / "main.c").write_text(_main_source(built))
    objects = [compile_object(tmp_path / "main.c", tmp_path / "main.o",
                              [*strict, "-DMULTIMODEL_MCU"])]
    for m in built:
        objects += [compile_object(src, tmp_path / f"{src.stem}.o", strict)
                    for src in sorted(m.out.glob("*.c"))]
    objects += runtime_objects(tmp_path, cflags)
    elf = link_elf(objects, target, tmp_path / "three_models.elf")
    _write_inputs(built, tmp_path)
    proc = subprocess.run(qemu_command(target, elf), cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-2000:]
    # float: the generic kernels on the FPU, single precision; int8: bit for bit
    _check_outputs(built, tmp_path, rtol=1e-4, atol=1e-5)
    # the keyword spotter ran its Cortex-M4 DSP kernels, the autoencoder the portable ones
    kws, anomaly = built[1].out, built[2].out
    assert "SMLAD" in (kws / "kws_tinyc_qfc.c").read_text()
    assert "SMLAD" not in (anomaly / "kws_anomaly_tinyc_qfc.c").read_text()


# -- cheap checks on two outputs of one model under names that share a prefix ------------

NAMES = ("net", "net_conv")


@dataclass(frozen=True)
class Pair:
    dirs: dict[str, Path]
    objects: dict[str, list[Path]]  # each model's C, compiled with both on the include path

    @property
    def includes(self) -> list[str]:
        return [flag for d in self.dirs.values() for flag in ("-I", str(d))]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Pair:
    root = tmp_path_factory.mktemp("pair")
    model = MODELS / "digits_cnn.onnx"
    dirs = {n: tinyc.compile(model, root / n, name=n).out_dir for n in NAMES}
    includes = [flag for d in dirs.values() for flag in ("-I", str(d))]
    objects: dict[str, list[Path]] = {}
    for n, d in dirs.items():
        objects[n] = []
        for src in sorted(d.glob("*.c")):
            obj = root / f"{src.stem}.o"
            cmd = ["cc", *STRICT_FLAGS, *includes, "-c", str(src), "-o", str(obj)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            assert proc.returncode == 0, proc.stderr[-2000:]
            objects[n].append(obj)
    return Pair(dirs, objects)


def _defined_externals(obj: Path) -> set[str]:
    out = subprocess.run(["nm", "-g", "--defined-only", str(obj)], capture_output=True,
                         text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def test_two_outputs_share_no_file_and_no_external_symbol(pair: Pair) -> None:
    files = {n: {p.name for p in d.iterdir() if p.suffix in (".c", ".h")}
             for n, d in pair.dirs.items()}
    assert not files["net"] & files["net_conv"]
    for n, names in files.items():
        assert all(f.startswith((f"{n}.", f"{n}_tinyc_")) for f in names), names
    symbols = {n: set().union(*map(_defined_externals, objs)) for n, objs in pair.objects.items()}
    assert not symbols["net"] & symbols["net_conv"]
    for n, defined in symbols.items():
        assert f"{n}_run" in defined and f"{n}_tinyc_conv2d_f32" in defined
        assert all(s.startswith(f"{n}_") for s in defined), sorted(defined)


def test_two_headers_in_one_c_and_one_cxx_translation_unit(pair: Pair, tmp_path: Path) -> None:
    body = ['#include "net.h"', '#include "net_conv.h"', "",
            "static float x[NET_INPUT0_SIZE + NET_CONV_INPUT0_SIZE];",
            "static float y[NET_OUTPUT0_SIZE + NET_CONV_OUTPUT0_SIZE];", "",
            "int main(void) {",
            "  return net_run(x, y) + net_conv_run(x + NET_INPUT0_SIZE, y + NET_OUTPUT0_SIZE);",
            "}", ""]
    (tmp_path / "both.c").write_text("\n".join(body))
    (tmp_path / "both.cpp").write_text("\n".join(body))
    cxx = [CXX, "-std=c++11", "-Wall", "-Wextra", "-Werror", "-pedantic"]
    for cmd, src in ((["cc", *STRICT_FLAGS], "both.c"), (cxx, "both.cpp")):
        proc = subprocess.run([*cmd, *pair.includes, "-c", str(tmp_path / src), "-o",
                               str(tmp_path / "both.o")], capture_output=True, text=True)
        assert proc.returncode == 0, f"{src}: {proc.stderr[-2000:]}"
    # and a C++ program links both models' C and runs them
    objs = [str(o) for objs in pair.objects.values() for o in objs]
    exe = tmp_path / "both"
    proc = subprocess.run([*cxx, str(tmp_path / "both.cpp"), *pair.includes, *objs, "-lm",
                           "-o", str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert subprocess.run([str(exe)]).returncode == 0


def test_a_header_defines_only_its_models_macros(pair: Pair, tmp_path: Path) -> None:
    def macros(text: str) -> set[str]:
        (tmp_path / "tu.c").write_text(text)
        out = subprocess.run(["cc", "-std=c99", "-dM", "-E", "-I", str(pair.dirs["net"]),
                              str(tmp_path / "tu.c")], capture_output=True, text=True,
                             check=True).stdout
        return set(re.findall(r"^#define (\w+)", out, re.M))

    added = macros('#include "net.h"\n') - macros("#include <stdint.h>\n")
    assert "NET_H" in added and "NET_ARENA_SIZE" in added
    assert all(m.startswith("NET_") for m in added), sorted(added)


# -- the naming scheme itself --------------------------------------------------------------


@pytest.mark.slow  # compiles all of codegen/ (about 10 s)
@pytest.mark.parametrize("variant", sorted(d.name for d in (codegen_root() / "kernels").iterdir()
                                           if d.is_dir()))
def test_every_kernel_file_defines_only_prefixed_external_symbols(
    variant: str, tmp_path: Path
) -> None:
    """All of codegen/, prefixed for a model `m` and compiled (host cc; a target variant
    takes its portable C path): a kernel added without the `tinyc_` convention fails here."""
    root = codegen_root()
    # the variant's private headers, then those of the variants it falls back to (the
    # Cortex-M55 files use the Cortex-M4 blocks), as tinyc copies them into OUT
    private = [d for d in dict.fromkeys((variant, *kernel_dirs(variant))) if d != "ref"]
    headers = {p.name: p for p in [*(root / "runtime").glob("*.h"), *(root / "kernels").glob("*.h"),
                                   *(h for d in reversed(private)
                                     for h in (root / "kernels" / d).glob("*.h"))]}.values()
    sources = list((root / "kernels" / variant).glob("*.c"))
    files = prefix_files("m", {p.name: p.read_text() for p in [*headers, *sources]})
    for fname, text in files.items():
        (tmp_path / fname).write_text(text)
    cmd = ["cc", *STRICT_FLAGS, "-O0", "-I", str(tmp_path), "-c",
           *(str(tmp_path / f"m_{p.name}") for p in sorted(sources))]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    defined = set().union(*map(_defined_externals, tmp_path.glob("*.o")))
    assert len(defined) > len(sources)
    assert all(s.startswith("m_tinyc_") for s in defined), sorted(defined)


def test_prefixing_rewrites_code_and_includes_but_not_comments() -> None:
    text = ('/* tinyc_conv2d_f32: see TINYC_ALIGN */\n#include "tinyc_rt.h"\n'
            "static const tinyc_act a TINYC_ALIGN(16); // tinyc_x\n"
            "int my_tinyc_y = tinyc_s_##op;\n")
    assert prefix_text("kws", text) == (
        '/* tinyc_conv2d_f32: see TINYC_ALIGN */\n#include "kws_tinyc_rt.h"\n'
        "static const kws_tinyc_act a KWS_TINYC_ALIGN(16); // tinyc_x\n"
        "int my_tinyc_y = kws_tinyc_s_##op;\n"
    )
    assert prefixed("kws", "tinyc_conv.c") == "kws_tinyc_conv.c"
    with pytest.raises(ValueError):
        prefixed("kws", "conv.c")


def test_no_interface_name_continues_into_another() -> None:
    """The argument in tinyc.backend.prefix: if model `b` = `a_` + p had a name of model
    `a`, a's suffix would be p + `_` + q with q one of b's suffixes. For a `tinyc` suffix p
    holds `_tinyc` (refused in a name); here: no fixed interface suffix splits that way."""
    suffixes = {i.split("_", 1)[1].lower() for i in model_identifiers("m", 1000, 1000)}
    for suffix in suffixes:
        parts = suffix.split("_")
        for k in range(1, len(parts)):
            tail = "_".join(parts[k:])
            assert tail not in suffixes and not tail.startswith("tinyc"), (suffix, tail)
