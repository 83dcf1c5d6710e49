"""The MLPerf Tiny models from their .tflite files on QEMU Cortex-M4: on 100 random inputs
(one QEMU run, `run_qemu_batch`), the int8 models' outputs equal TFLite Micro's bit for bit
and the float ResNet-8's are within rtol 1e-4/atol 1e-5 of them; the int8 models' RAM
(arena + static + stack high-water, measured) with the input and output buffers the caller
owns is at most half of TFLite Micro's arena for the same file (measured with TFLite
Micro's RecordingMicroAllocator; tests/models/tflite/README.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tinyc
from tests.tflite.tflm_reference import MODELS, random_inputs, tflite_micro_outputs
from tinyc.compiler import Options, load_model, optimize
from tinyc.mcu.harness import run_qemu_batch
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


def _board_outputs(stem: str, xs: list[np.ndarray], tmp_path: Path) -> list[list[np.ndarray]]:
    """The Cortex-M4 build's outputs for each input: one build, one QEMU run for all of
    them (`run_qemu_batch`), whose measured first inference is the single run's."""
    options = Options(target="cortex-m4")
    graph, _ = optimize(load_model(MODELS / f"{stem}.tflite", options), options)
    single, _ = run_on_mcu(graph, options, "net", xs[:1], tmp_path)
    first, board = run_qemu_batch(single.build, graph, [[x] for x in xs])
    assert (first.instructions, first.stack) == (single.run.instructions, single.run.stack)
    for got, want in zip(board[0], single.run.outputs, strict=True):
        np.testing.assert_array_equal(got, want)
    return board


@pytest.mark.parametrize("stem", ["kws_ref_model", "pretrainedResnet_quant", "ad01_int8"])
def test_int8_tflite_on_cortex_m4_equals_tflite_micro(mcu_tools: None, stem: str,
                                                      tmp_path: Path) -> None:
    """The Cortex-M4 kernels (SMLAL forms of TFLite's double rounding) give TFLite Micro's
    outputs bit for bit on 100 random inputs (as the host build does,
    tests/tflite/test_tflite_semantics.py)."""
    xs = random_inputs(stem, 100, seed=13)
    board = _board_outputs(stem, xs, tmp_path)
    for i, (got, want) in enumerate(zip(board, tflite_micro_outputs(stem, xs), strict=True)):
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g.reshape(w.shape), w, err_msg=f"input {i}")


def test_float_resnet8_on_cortex_m4_matches_tflite_micro(mcu_tools: None,
                                                        tmp_path: Path) -> None:
    """The float ResNet-8 on the Cortex-M4 within rtol 1e-4/atol 1e-5 of TFLite Micro on
    100 random inputs (the host build: tests/tflite/test_tflite_models.py)."""
    stem = "pretrainedResnet"
    xs = [np.random.default_rng(13 + k).standard_normal((1, 32, 32, 3)).astype(np.float32)
          for k in range(100)]
    board = _board_outputs(stem, xs, tmp_path)
    for i, (got, want) in enumerate(zip(board, tflite_micro_outputs(stem, xs), strict=True)):
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g.reshape(w.shape), w, rtol=1e-4, atol=1e-5,
                                       err_msg=f"input {i}")


def test_validate_compares_float16_weights_with_litert(mcu_tools: None) -> None:
    """TFLite Micro refuses float16-weight models (and hybrid ones:
    test_qemu_tflite_converter.py); `validate` compares the board with LiteRT, saying why."""
    x = np.random.default_rng(3).standard_normal((1, 8, 8, 3)).astype(np.float32)
    result = tinyc.validate(MODELS / "wide_fp16.tflite", [x], target="cortex-m4")
    assert result.ok, result.lines()
    assert result.reference == "LiteRT"
    assert len(result.notes) == 1 and result.notes[0].endswith("comparing with LiteRT")
