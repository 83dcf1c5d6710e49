"""The int8 MLPerf Tiny models from their .tflite files on QEMU Cortex-M4: the board's
outputs equal tinyc's interpreter and the host build, and the RAM (arena + static + stack
high-water, measured) with the input and output buffers the caller owns is at most half of
TFLite Micro's arena for the same file (measured with TFLite Micro's RecordingMicroAllocator;
tests/models/tflite/README.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tinyc

MODELS = Path(__file__).parent.parent / "models" / "tflite"

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
