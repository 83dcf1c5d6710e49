"""Converter-built .tflite models (scripts/build_tflite_op_models.py) on QEMU Cortex-M4: the
int8 keyword-style LSTM (a float LSTM between int8 layers) and the hybrid model (tinyc's
QDynConv/QDynGemm kernels). The board's outputs equal the host build of the same C and
`tinyc validate`'s reference: tinyc's interpreter for the int8 model (bit for bit;
tests/tflite compares it with TFLite Micro), LiteRT for the hybrid one, which TFLite Micro
refuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tinyc

MODELS = Path(__file__).parent.parent / "models" / "tflite"


@pytest.mark.parametrize("stem", ["lstm_int8", "wide_hybrid"])
def test_converter_model_on_cortex_m4(stem: str, mcu_tools: None) -> None:
    path = MODELS / f"{stem}.tflite"
    v = tinyc.load(path).inputs[0]
    rng = np.random.default_rng(0)
    x = (rng.integers(-128, 128, v.shape).astype(np.int8) if v.dtype.np == np.int8
         else rng.standard_normal(v.shape).astype(np.float32))
    result = tinyc.validate(path, [x], target="cortex-m4")
    assert result.ok, result.lines()
    assert result.reference == ("LiteRT" if stem == "wide_hybrid" else "tinyc's interpreter")
