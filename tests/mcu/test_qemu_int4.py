"""`--weight-bits 4` on the Cortex-M4 under QEMU: the keyword spotter with int4 weights runs
the packed-weight kernels (SXTB16/SMLAD on unpacked nibbles, the depthwise layers through
the int8 kernel) bit-exactly with the interpreter and with the host build, on less flash
than int8 weights. Instructions per MAC are a figure of README, not asserted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import test_qemu_qconv_shapes as shapes

import tinyc
from tinyc.compiler import Options, load_model, optimize
from tinyc.ops.qint4 import packs_int4

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


#: the int4 kernels' paths on the core (their inner loops are DSP assembly there, which the
#: host tests of test_int4_kernels.py cannot see): four pixels a pass with a partial last
#: block and pass, two pixels for long reductions, the plain loop past the column, the
#: depthwise layers in place, fully connected rows past the widened-row buffer
SHAPES = {
    "dense_k27_odd_pixels": lambda: shapes.model(
        (1, 3, 9, 7), [shapes.conv("c", "x", "y", 3, 5, 3, pads=(1, 1, 1, 1))], "y"),
    "pointwise_odd_pixels": lambda: shapes.model(
        (1, 6, 5, 3), [shapes.conv("c", "x", "y", 6, 7, 1)], "y"),
    "two_pixel_passes": lambda: shapes.model(
        (1, 64, 5, 5), [shapes.conv("c", "x", "y", 64, 5, 3, pads=(1, 1, 1, 1))], "y"),
    "past_the_column": lambda: shapes.model(
        (1, 130, 4, 4), [shapes.conv("c", "x", "y", 130, 3, 3, pads=(1, 1, 1, 1))], "y"),
    "depthwise_in_place": lambda: shapes.dw_chain(8, 9, 5, (1, 1, 1, 1), (1, 1)),
    "fc_past_the_row": lambda: shapes.model(
        (1, 1030), [shapes.gemm("fc0", "x", "a", 1030, 9, seed=6),
                    shapes.gemm("fc1", "ar", "y", 9, 3, seed=7)], "y", [shapes.relu("a", "ar")]),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_int4_kernel_path_on_cortex_m4(mcu_tools: None, name: str, tmp_path: Path) -> None:
    proto = SHAPES[name]()
    path = tmp_path / f"{name}.onnx"
    onnx.save(proto, path)
    shape = tuple(d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim)
    rng = np.random.default_rng(11)
    calib = tmp_path / "calib.npy"
    np.save(calib, rng.standard_normal((6, *shape[1:])).astype(np.float32))
    options = Options(target="cortex-m4", quantize="int8", calib=str(calib), weight_bits=4)
    graph, _ = optimize(load_model(path, options), options)
    assert any(packs_int4(n) for n in graph.nodes)
    x = rng.standard_normal(shape).astype(np.float32)
    shapes.assert_exact_on_cortex_m4(graph, options, x, tmp_path / "out")
