"""`--weight-bits 4` on the Cortex-M4 under QEMU: the keyword spotter with int4 weights runs
the packed-weight kernels (SXTB16/SMLAD on unpacked nibbles, the depthwise layers through
the int8 kernel) bit-exactly with the interpreter and with the host build, on less flash
than int8 weights. Instructions per MAC are a figure of README, not asserted."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import tinyc
from tinyc.compiler import Options, load_model

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"
KWS = MODELS / "kws_dscnn.onnx"


def test_kws_with_int4_weights_is_bit_exact_on_cortex_m4(mcu_tools: None, tmp_path: Path) -> None:
    shape = load_model(KWS, Options()).inputs[0].shape
    calib = tmp_path / "calib.npy"
    np.save(calib, np.random.default_rng(1).standard_normal((8, *shape)).astype(np.float32))
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    result = tinyc.validate(KWS, [x], quantize="int8", calib=calib, weight_bits=4, profile=True)
    assert result.ok and result.reference == "tinyc's interpreter", result.lines()
    assert all(c.ok for c in result.host_outputs)
    convs = [n for n in result.profile if n.label.split()[0] in ("QConv", "QGemm")]
    assert len(convs) == 10 and sum(n.macs for n in convs) == result.macs
    int8 = tinyc.compile(KWS, tmp_path / "int8", target="cortex-m4", quantize="int8",
                         calib=calib)
    assert result.measurement.model.rodata < int8.weight_bytes
