"""The int8 MLPerf Tiny keyword model from its .tflite file on QEMU Cortex-M4: the board's
outputs equal tinyc's interpreter and the host build, and its RAM with the input and output
buffers is under half of TFLite Micro's arena for the same file (24,272 B, measured with
TFLite Micro's RecordingMicroAllocator; tests/models/tflite/README.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import tinyc

MODEL = Path(__file__).parent.parent / "models" / "tflite" / "kws_ref_model.tflite"
TFLM_ARENA = 24_272


def test_kws_tflite_on_cortex_m4(mcu_tools: None) -> None:
    x = np.random.default_rng(0).integers(-128, 128, (1, 49, 10, 1)).astype(np.int8)
    result = tinyc.validate(MODEL, [x], target="cortex-m4")
    assert result.ok, result
    io_bytes = 49 * 10 + 12  # int8 input and output, owned by the caller
    assert result.measurement.ram + io_bytes <= TFLM_ARENA // 2
