"""The int8 MLPerf Tiny models from their .tflite files on QEMU Cortex-M4: the board's
outputs equal TFLite Micro's and tinyc's interpreter and the host build, and the RAM (arena +
static + stack high-water, measured) with the input and output buffers the caller owns is at
most half of TFLite Micro's arena for the same file (measured with TFLite Micro's
RecordingMicroAllocator;
tests/models/tflite/README.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tinyc
from tests.tflite.tflm_reference import MODELS, random_inputs, tflite_micro_outputs
from tinyc.compiler import Options, load_model, optimize
from tinyc.mcu.harness import run_qemu
from tinyc.mcu.validate import run_on_mcu

#: file, input shape, output bytes, TFLite Micro arena (B)
CASES = [
    ("kws_ref_model.tflite", (1, 49, 10, 1), 12, 24_272),
    ("ad01_int8.tflite", (1, 640), 640, 3_984),
    ("pretrainedResnet_quant.tflite", (1, 32, 32, 3), 10, 55_984),  # banded (band-rows)
]


@pytest.mark.parametrize("name,shape,out_bytes,tflm_arena", CASES)
def test_tflite_int8_on_cortex_m4_in_half_tflm_ram(mcu_tools: None, name: str, shape: tuple,
                                                  out_bytes: int, tflm_arena: int) -> None:
    x = np.random.default_rng(0).integers(-128, 128, shape).astype(np.int8)
    result = tinyc.validate(MODELS / name, [x], target="cortex-m4")
    assert result.ok, result
    io_bytes = int(np.prod(shape)) + out_bytes  # int8 input and output, owned by the caller
    assert result.measurement.ram + io_bytes <= tflm_arena // 2


@pytest.mark.parametrize("stem", ["kws_ref_model", "pretrainedResnet_quant", "ad01_int8"])
def test_int8_tflite_on_cortex_m4_equals_tflite_micro(mcu_tools: None, stem: str,
                                                      tmp_path: Path) -> None:
    """The Cortex-M4 kernels (SMLAL forms of TFLite's double rounding) give TFLite Micro's
    outputs bit for bit: one build, QEMU run once per input (5 inputs; the host build takes
    100, tests/tflite/test_tflite_semantics.py)."""
    options = Options(target="cortex-m4")
    graph, _ = optimize(load_model(MODELS / f"{stem}.tflite", options), options)
    xs = random_inputs(stem, 5, seed=13)
    first, _ = run_on_mcu(graph, options, stem.lower(), xs[:1], tmp_path)
    board = [first.run.outputs] + [run_qemu(first.build, graph, [x]).outputs for x in xs[1:]]
    for i, (got, want) in enumerate(zip(board, tflite_micro_outputs(stem, xs), strict=True)):
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g.reshape(w.shape), w, err_msg=f"input {i}")
