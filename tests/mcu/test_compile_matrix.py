"""The generated C of every --target compiles warning-free (-std=c99 -Wall -Wextra -Werror
-pedantic) with the host gcc and clang and with arm-none-eabi-gcc (and clang) for each
Cortex-M core: a target only changes which kernel variant is copied, never what a user's
compiler must accept. Compile only (-c): running is test_qemu_models' job."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tinyc.compiler import Options, compile_graph, load_model, optimize
from tinyc.harness import STRICT_FLAGS
from tinyc.mcu import TARGETS

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"
NEWLIB = Path("/usr/lib/arm-none-eabi/include")


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    """digits CNN, float and int8 generated for every target, int16x8 for generic and
    cortex-m4 (one directory each)."""
    root = tmp_path_factory.mktemp("matrix")
    calib = root / "calib.npy"
    np.save(calib, np.load(MODELS / "digits_train_x.npy")[:32].astype(np.float32))
    out = {}
    for precision in ("float", "int8", "int16x8"):
        quantized = precision != "float"
        options = Options(quantize=precision if quantized else None,
                          calib=str(calib) if quantized else None)
        graph, _ = optimize(load_model(MODELS / "digits_cnn.onnx", options), options)
        for target in TARGETS if precision != "int16x8" else ("generic", "cortex-m4"):
            # the target only changes code generation
            d = root / f"{precision}-{target}"
            compile_graph(graph, replace(options, target=target), "digits").code.write(d)
            out[(precision, target)] = d
    return out


def compilers(target: str) -> list[list[str]]:
    """Compiler command prefixes that must accept code generated for `target`. The host
    compilers see each distinct kernel set once (cortex-m7 and -m33 copy the cortex-m4
    files, host the generic ones); arm-none-eabi-gcc compiles every target for its core."""
    t = TARGETS[target]
    cmds = []
    if target in ("generic", "cortex-m0plus", "cortex-m4"):
        cmds += [["gcc"], ["clang"]]
    arm = list(t.cpu_flags) if t.is_mcu else ["-mcpu=cortex-m4", "-mthumb"]
    cmds.append(["arm-none-eabi-gcc", *arm])
    if target in ("cortex-m0plus", "cortex-m4") and NEWLIB.is_dir():
        cmds.append(["clang", "--target=arm-none-eabi", *t.cpu_flags, "-ffreestanding",
                     "-isystem", str(NEWLIB)])
    return [c for c in cmds if shutil.which(c[0])]


#: int16x8 once per kernel set (the portable one and the cortex-m4 one, which m7 and m33 copy)
@pytest.mark.parametrize(("target", "precision"), [
    *((t, p) for p in ("float", "int8") for t in TARGETS),
    ("generic", "int16x8"), ("cortex-m4", "int16x8")])
def test_generated_c_compiles_everywhere(mcu_tools: None, sources: dict, precision: str,
                                         target: str, tmp_path: Path) -> None:
    d = sources[(precision, target)]
    files = sorted(str(p) for p in d.glob("*.c"))
    for cmd in compilers(target):
        proc = subprocess.run([*cmd, *STRICT_FLAGS, "-O2", "-c", "-I", str(d), *files],
                              cwd=tmp_path, capture_output=True, text=True)
        assert proc.returncode == 0, f"{' '.join(cmd)}:\n{proc.stderr[-3000:]}"


def test_targets_pick_their_kernels(sources: dict) -> None:
    generic = (sources[("int8", "generic")] / "digits_tinyc_qconv.c").read_text()
    assert "SMLAD" not in generic
    for target in ("cortex-m4", "cortex-m7", "cortex-m33"):
        assert "SMLAD" in (sources[("int8", target)] / "digits_tinyc_qconv.c").read_text()
        assert "digits_tinyc_dsp.h" in {p.name for p in sources[("int8", target)].iterdir()}
    assert (sources[("int8", "cortex-m0plus")] / "digits_tinyc_qconv.c").read_text() == generic


#: the optimization levels a firmware build uses besides -O2 (the test above): the kernels'
#: assembly forms need registers gcc keeps back at some of them (-O0's frame pointer, -Os),
#: and fall back to C there
LEVELS = ("-O0", "-O1", "-Og", "-Os", "-O3")


@pytest.mark.parametrize(("target", "precision"), [
    (t, p) for t in ("cortex-m4", "cortex-m55") for p in ("float", "int8")])
def test_arm_gcc_accepts_every_optimization_level(mcu_tools: None, sources: dict,
                                                  target: str, precision: str,
                                                  tmp_path: Path) -> None:
    d = sources[(precision, target)]
    files = sorted(str(p) for p in d.glob("*.c"))
    cmd = ["arm-none-eabi-gcc", *TARGETS[target].cpu_flags, *STRICT_FLAGS]
    for level in LEVELS:
        proc = subprocess.run([*cmd, level, "-c", "-I", str(d), *files], cwd=tmp_path,
                              capture_output=True, text=True)
        assert proc.returncode == 0, f"{level}:\n{proc.stderr[-3000:]}"
