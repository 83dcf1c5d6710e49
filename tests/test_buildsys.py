"""OUT as a build-system package (tinyc.backend.packages): a host program built through the
generated CMake target and through the Make fragments matches onnxruntime; the Arduino and
Zephyr layouts' sources cross-build for a Cortex-M4 (as C, and their header from C++); the
math library is linked exactly when the C calls it; a re-run into OUT with another layout
replaces the previous one and touches nothing else; the README's embedding commands work
as written."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinyc
from tests.clirun import cli
from tinyc.backend.packages import LAYOUTS, calls_libm
from tinyc.compiler import Options, load_model, optimize
from tinyc.errors import UsageError
from tinyc.harness import STRICT_FLAGS, harness_source, run_host
from tinyc.mcu.harness import GCC as ARM_GCC
from tinyc.reference import ONNXRUNTIME, reference_outputs

REPO = Path(__file__).resolve().parents[1]
ARM_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-O2"]


def _sigsoft_model(path: Path) -> Path:
    """Gemm -> Sigmoid -> Softmax: its C calls expf, so it needs libm."""
    rng = np.random.default_rng(14)
    weights = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), n)
               for n, s in (("w", (8, 6)), ("b", (6,)))]
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["g"]),
             helper.make_node("Sigmoid", ["g"], ["s"]),
             helper.make_node("Softmax", ["s"], ["y"], axis=-1)]
    graph = helper.make_graph(
        nodes, "sigsoft", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 6])], weights)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def _nomath_model(path: Path) -> Path:
    """MaxPool only: its C calls no <math.h> function."""
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2])
    graph = helper.make_graph(
        [node], "nomath", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 3, 3])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {"sigsoft": _sigsoft_model(root / "sigsoft.onnx"),
            "nomath": _nomath_model(root / "nomath.onnx")}


def _run(cmd: list[str] | str, cwd: Path, **kwargs) -> None:  # noqa: ANN003
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, **kwargs)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout}\n{proc.stderr}"


def _check_against_onnxruntime(model: Path, exe: Path) -> None:
    """Run the built program on seeded inputs; its outputs must match onnxruntime's."""
    graph, _ = optimize(load_model(model, Options()), Options())
    rng = np.random.default_rng(7)
    inputs = [rng.standard_normal(v.shape).astype(np.float32) for v in graph.inputs]
    reference, expected = reference_outputs(str(model), graph, inputs)
    assert reference == ONNXRUNTIME
    for got, want in zip(run_host(exe, graph, inputs), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def _main_c(model: Path, name: str) -> str:
    """A host program that runs NAME_run on raw input files (tinyc.harness)."""
    graph, _ = optimize(load_model(model, Options()), Options())
    return harness_source(graph, name)


def _compile(model: Path, out: Path, name: str, layout: str = "plain") -> None:
    """In-process (tinyc.compile), which is the CLI's pipeline without a Python start-up
    per compile; the CLI's --layout is run in the Arduino test."""
    tinyc.compile(model, out, name=name, layout=layout)


def test_cmake_targets_build_programs_that_match_onnxruntime(models: dict[str, Path],
                                                            tmp_path: Path) -> None:
    """add_subdirectory(OUT) + target_link_libraries(app NAME), for two models in one
    project: no -lm, include path or C standard in the parent, the targets bring them (and
    the parent's strict flags apply to them too)."""
    lines = ["cmake_minimum_required(VERSION 3.13)", "project(app C)",
             f'set(CMAKE_C_FLAGS "{" ".join(STRICT_FLAGS[1:])}")']
    for name in models:
        _compile(models[name], tmp_path / f"{name}_out", name)
        (tmp_path / f"main_{name}.c").write_text(_main_c(models[name], name))
        lines += [f"add_subdirectory({name}_out)", f"add_executable(app_{name} main_{name}.c)",
                  f"target_link_libraries(app_{name} PRIVATE {name})"]
    (tmp_path / "CMakeLists.txt").write_text("\n".join(lines) + "\n")
    _run(["cmake", "-S", ".", "-B", "build", "-DCMAKE_BUILD_TYPE=Release"], tmp_path)
    _run(["cmake", "--build", "build"], tmp_path)
    for name in models:
        _check_against_onnxruntime(models[name], tmp_path / "build" / f"app_{name}")


def test_two_make_fragments_in_one_makefile_after_moving_out(models: dict[str, Path],
                                                            tmp_path: Path) -> None:
    """Both fragments are included in one Makefile; each OUT was moved after compiling (the
    fragment's paths are its own directory's); the libm-free model links without -lm."""
    (tmp_path / "compiled").mkdir()
    for name in models:
        _compile(models[name], tmp_path / "compiled" / name, name)
        shutil.move(tmp_path / "compiled" / name, tmp_path / f"moved_{name}")
        (tmp_path / f"main_{name}.c").write_text(_main_c(models[name], name))
    shutil.rmtree(tmp_path / "compiled")
    assert "-lm" in (tmp_path / "moved_sigsoft" / "sigsoft.mk").read_text()
    rules = [f"include moved_{name}/{name}.mk" for name in models]
    rules.append(f"CFLAGS := {' '.join(STRICT_FLAGS)} -O2")
    for name in models:
        rules += [f"app_{name}: main_{name}.c $({name}_SRCS)",
                  f"\t$(CC) $(CFLAGS) $({name}_CFLAGS) $^ $({name}_LDLIBS) -o $@"]
    (tmp_path / "Makefile").write_text("\n".join(rules) + "\n")
    _run(["make", *(f"app_{name}" for name in models)], tmp_path)
    for name in models:
        _check_against_onnxruntime(models[name], tmp_path / f"app_{name}")


def test_libm_is_linked_exactly_when_the_c_calls_it(models: dict[str, Path],
                                                   tmp_path: Path) -> None:
    for name, needs in (("sigsoft", True), ("nomath", False)):
        for layout in LAYOUTS:
            out = tmp_path / f"{name}_{layout}"
            _compile(models[name], out, name, layout)
            files = {p.name: p.read_text() for p in out.rglob("*.[ch]")}
            assert calls_libm(files) == needs
            if layout == "plain":
                assert ("PUBLIC m)" in (out / "CMakeLists.txt").read_text()) == needs
                assert (out / f"{name}.mk").read_text().endswith(
                    f"{name}_LDLIBS := -lm\n" if needs else f"{name}_LDLIBS :=\n")
            elif layout == "arduino":
                assert ("ldflags=-lm" in (out / "library.properties").read_text()) == needs
            else:
                assert ("select REQUIRES_FULL_LIBC" in (out / "Kconfig").read_text()) == needs


def test_calls_libm_reads_calls_through_includes_and_not_comments() -> None:
    assert calls_libm({"a.c": '#include "b.h"\n', "b.h": "static float f(float v) "
                       "{ return expf (v); }\n"})
    assert not calls_libm({"a.c": "/* expf(x) */ // sqrtf(x)\nint tinyc_exp(int v);\n"})
    assert not calls_libm({"a.c": "int x;\n", "unused.h": "float g(float v) "
                           "{ return logf(v); }\n"})  # a header no .c includes


def _cross_compile(sources: list[Path], include: Path, work: Path) -> list[Path]:
    """Each source compiled for Cortex-M4 with the strict flags, as C."""
    objects = []
    for source in sources:
        obj = work / f"{source.stem}.o"
        _run([ARM_GCC, *STRICT_FLAGS, *ARM_FLAGS, "-x", "c", "-I", str(include), "-c",
              str(source), "-o", str(obj)], work)
        objects.append(obj)
    return objects


def _cxx_compiler() -> str:
    for cxx in ("arm-none-eabi-g++", "g++", "clang++"):
        if shutil.which(cxx):
            return cxx
    pytest.fail("no C++ compiler: install g++-arm-none-eabi, g++ or clang++")


def _cxx_caller(name: str, work: Path) -> Path:
    """A C++ file (an Arduino sketch's part) that includes NAME.h and calls NAME_run."""
    upper = name.upper()
    source = work / "sketch.cpp"
    source.write_text(
        f'#include "{name}.h"\n\n'
        f"static float input[{upper}_INPUT0_SIZE];\n"
        f"static float output[{upper}_OUTPUT0_SIZE];\n\n"
        f"int main() {{ return {name}_run(input, output); }}\n")
    return source


def _cross_build_with_header_from_cxx(name: str, sources: list[Path], include: Path,
                                      work: Path, ldflags: list[str]) -> None:
    """The C sources and a C++ caller compile for Cortex-M4 and link into one program
    (with the C driver: the caller needs no C++ runtime, which the Debian toolchain lacks):
    the listed files are complete (no undefined symbol) and the header works from C++."""
    objects = _cross_compile(sources, include, work)
    cxx = _cxx_compiler()
    sketch = _cxx_caller(name, work)
    flags = ARM_FLAGS if cxx.startswith("arm-none-eabi") else ["-O2"]
    _run([cxx, "-std=c++11", "-Wall", "-Wextra", "-Werror", "-pedantic", *flags, "-I",
          str(include), "-c", str(sketch), "-o", str(work / "sketch.o")], work)
    if cxx.startswith("arm-none-eabi"):
        _run([ARM_GCC, *ARM_FLAGS, "--specs=nosys.specs", str(work / "sketch.o"),
              *map(str, objects), *ldflags, "-o", str(work / "sketch.elf")], work)


@pytest.mark.usefixtures("mcu_tools")
def test_arduino_library_cross_builds_with_its_header_from_cxx(models: dict[str, Path],
                                                               tmp_path: Path) -> None:
    """Through the CLI, with the Cortex-M4 kernel variants (and their private headers)."""
    out = tmp_path / "sigsoft"
    proc = cli(str(models["sigsoft"]), "-o", str(out), "--name", "sigsoft", "--layout",
               "arduino", "--target", "cortex-m4")
    assert proc.returncode == 0 and proc.stdout.startswith(f"tinyc: wrote {out}/src/sigsoft.c")
    properties = dict(line.split("=", 1) for line in
                      (out / "library.properties").read_text().splitlines()
                      if line and not line.startswith("#"))
    assert properties["name"] == "sigsoft" and properties["includes"] == "sigsoft.h"
    for field in ("version", "author", "maintainer", "sentence", "paragraph", "category",
                  "url", "architectures"):
        assert field in properties
    assert sorted(p.name for p in out.iterdir()) == [".tinyc-manifest", "library.properties",
                                                     "src"]
    sources = sorted((out / "src").glob("*.c"))
    work = tmp_path / "work"
    work.mkdir()
    _cross_build_with_header_from_cxx("sigsoft", sources, out / "src", work,
                                      properties["ldflags"].split())


def _yaml_mapping(text: str) -> dict:
    """The block-style YAML mappings module.yml uses (`key: value`, two-space nesting)."""
    root: dict = {}
    stack = [(-1, root)]
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        key, sep, value = line.strip().partition(":")
        assert sep and re.fullmatch(r"[a-z_]+", key) and "\t" not in line, line
        while stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        assert key not in parent, f"duplicate key {key}"
        if value.strip():
            parent[key] = value.strip()
        else:
            parent[key] = {}
            stack.append((indent, parent[key]))
    return root


@pytest.mark.usefixtures("mcu_tools")
def test_zephyr_module_is_well_formed_and_its_sources_cross_build(models: dict[str, Path],
                                                                  tmp_path: Path) -> None:
    out = tmp_path / "sigsoft"
    _compile(models["sigsoft"], out, "sigsoft", "zephyr")  # the portable kernels
    module = _yaml_mapping((out / "zephyr" / "module.yml").read_text())
    assert module == {"name": "tinyc_sigsoft", "build": {"cmake": ".", "kconfig": "Kconfig"}}
    assert (out / module["build"]["cmake"] / "CMakeLists.txt").is_file()
    kconfig = (out / module["build"]["kconfig"]).read_text()
    symbol = re.fullmatch(r"(?s)(?:#[^\n]*\n)*config (\w+)\n\tbool \"[^\"\n]+\"\n"
                          r"\tselect REQUIRES_FULL_LIBC\n\thelp\n(?:\t  [^\n]+\n)+", kconfig)
    assert symbol is not None, kconfig
    cmake = (out / "CMakeLists.txt").read_text()
    body = re.search(rf"if\(CONFIG_{symbol.group(1)}\)\n(.*)\nendif\(\)\n$", cmake, re.S)
    assert body is not None, cmake
    listed = re.search(r"zephyr_library_sources\(\n(.*?)\n  \)", body.group(1), re.S)
    assert listed is not None and "zephyr_library_named(tinyc_sigsoft)" in body.group(1)
    assert "zephyr_include_directories(${CMAKE_CURRENT_SOURCE_DIR})" in body.group(1)
    sources = listed.group(1).split()
    assert sources == sorted(p.name for p in out.glob("*.c"))  # every .c, nothing else
    work = tmp_path / "work"
    work.mkdir()
    _cross_build_with_header_from_cxx("sigsoft", [out / s for s in sources], out, work,
                                      ["-lm"])


def _tree(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): None if p.is_dir() else p.read_bytes()
            for p in sorted(root.rglob("*"))}


def test_a_rerun_with_another_layout_replaces_out_and_nothing_else(models: dict[str, Path],
                                                                  tmp_path: Path) -> None:
    """plain -> arduino -> zephyr -> plain in one OUT holding a file of the user's: each
    run leaves exactly its own files (as a fresh compile writes them, byte for byte), the
    user's file, and nothing changes beside OUT."""
    out = tmp_path / "out"
    (tmp_path / "beside.txt").write_text("not OUT\n")
    fresh = {}
    (tmp_path / "fresh").mkdir()
    for layout in LAYOUTS:
        _compile(models["sigsoft"], tmp_path / "fresh" / layout, "sigsoft", layout)
        fresh[layout] = _tree(tmp_path / "fresh" / layout)
    shutil.rmtree(tmp_path / "fresh")
    for layout in ("plain", "arduino", "zephyr", "plain"):
        _compile(models["sigsoft"], out, "sigsoft", layout)
        (out / "notes.txt").write_text("mine\n")
        assert _tree(out) == {**fresh[layout], "notes.txt": b"mine\n"}
        assert sorted(p.name for p in tmp_path.iterdir()) == ["beside.txt", "out"]
        assert (tmp_path / "beside.txt").read_text() == "not OUT\n"


def test_api_compile_takes_a_layout(models: dict[str, Path], tmp_path: Path) -> None:
    result = tinyc.compile(models["sigsoft"], tmp_path / "out", name="sigsoft",
                           layout="arduino")
    assert result.source == result.out_dir / "src" / "sigsoft.c" and result.source.is_file()
    assert result.header == result.out_dir / "src" / "sigsoft.h"
    assert result.out_dir / "library.properties" in result.files
    written = {p for p in result.out_dir.rglob("*") if p.is_file()}
    assert written == {*result.files, result.out_dir / ".tinyc-manifest"}
    with pytest.raises(UsageError, match="layout 'cmake': use one of plain, arduino, zephyr"):
        tinyc.compile(models["sigsoft"], tmp_path / "other", layout="cmake")
    assert not (tmp_path / "other").exists()


def _readme_block(heading: str) -> str:
    """The first ``` block after `heading` in README.md."""
    text = (REPO / "README.md").read_text()
    start = text.index(heading)
    match = re.search(r"```[a-z]*\n(.*?)```", text[start:], re.S)
    assert match is not None, heading
    return match.group(1)


def test_the_readme_embedding_commands_build_a_model_that_needs_expf(
        models: dict[str, Path], tmp_path: Path) -> None:
    """The README's first two commands, run as written in a directory holding model.onnx
    (one that calls expf) and a main.c that calls model_run."""
    commands = _readme_block("# tinyc").strip().splitlines()
    assert commands[0] == "tinyc model.onnx -o out/" and commands[1].startswith("cc ")
    shutil.copy(models["sigsoft"], tmp_path / "model.onnx")
    (tmp_path / "main.c").write_text(_main_c(models["sigsoft"], "model"))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for command in commands:
        _run(command, tmp_path, shell=True, env=env)
    exe = re.search(r"-o (\S+)$", commands[1])
    assert exe is not None
    _check_against_onnxruntime(models["sigsoft"], tmp_path / exe.group(1))


def test_the_readme_make_example_builds_as_written(models: dict[str, Path],
                                                   tmp_path: Path) -> None:
    """The README's Makefile (list-item indentation removed), for a model named kws."""
    makefile = _readme_block("- Make: `OUT/NAME.mk`")
    (tmp_path / "Makefile").write_text(re.sub(r"(?m)^  ", "", makefile))
    _compile(models["sigsoft"], tmp_path / "out", "kws")
    (tmp_path / "main.c").write_text(_main_c(models["sigsoft"], "kws"))
    _run(["make", "app"], tmp_path)
    _check_against_onnxruntime(models["sigsoft"], tmp_path / "app")
