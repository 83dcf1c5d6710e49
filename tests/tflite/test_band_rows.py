"""band-rows on the int8 ResNet-8 from its .tflite file (host): the pass fuses the stem and
the first two residual blocks into one row-banded node, which lowers the Cortex-M4 arena
to what issue 17 asks (RAM incl. I/O at most half of TFLite Micro's 55,984 B arena; the
stack is measured on QEMU in tests/mcu/test_qemu_tflite.py), and the C (ASan, UBSan) gives
bit for bit what the interpreter gives on the unfused graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyc.compiler import Options, compile_graph, load_model, optimize
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph
from tinyc.mcu.targets import kernel_dirs
from tinyc.memory import plan_memory
from tinyc.passes.manager import PIPELINES

MODEL = Path(__file__).parent.parent / "models" / "tflite" / "pretrainedResnet_quant.tflite"
#: 32x32x3 int8 input, 10 int8 scores: the caller's buffers
IO_BYTES = 32 * 32 * 3 + 10
#: TFLite Micro's arena for this file, half of it, and the M4 stack high-water with band-rows
TFLM_ARENA = 55_984
STACK_BOUND = 800


def _graph(passes: str | None, target: str = "cortex-m4"):  # noqa: ANN202
    options = Options(target=target, passes=passes)
    return optimize(load_model(MODEL, options), options)[0], options


def test_resnet8_banded_arena_fits_half_tflm() -> None:
    banded, _ = _graph(None)
    plain, _ = _graph(PIPELINES[1].replace(",band-rows", ""))
    assert [n.op for n in banded.nodes].count("QBanded") == 1
    dirs = kernel_dirs("cortex-m4")
    arena = plan_memory(banded, align=8, kernel_dirs=dirs).size
    assert arena < plan_memory(plain, align=8, kernel_dirs=dirs).size
    assert arena + IO_BYTES + STACK_BOUND <= TFLM_ARENA // 2


def test_resnet8_banded_c_equals_unfused_interpreter(tmp_path: Path) -> None:
    banded, options = _graph(None, target="generic")
    plain, _ = _graph(PIPELINES[1].replace(",band-rows", ""), target="generic")
    compiled = compile_graph(banded, options, "r")
    compiled.code.write(tmp_path)
    exe = build_host(tmp_path, banded, "r", [*SANITIZE_FLAGS, "-O1"])
    rng = np.random.default_rng(3)
    (x,) = banded.inputs
    for _ in range(3):
        feed = rng.integers(-128, 128, x.shape).astype(np.int8)
        want = run_graph(plain, {plain.inputs[0].name: feed})
        got = run_host(exe, banded, [feed])
        np.testing.assert_array_equal(got[0], want[0])
