"""int16x8 on QEMU's Cortex-M4 (SMLAD/SMLALD on int16 activation pairs, SXTB16-widened
weights): a conv model's outputs are bit-exact with the host build and the interpreter,
and its cost stays within a stated factor of the int8 build's (the figures README quotes
come from examples/bench_quant.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyc.compiler import Options, load_model, optimize
from tinyc.interp import run_graph
from tinyc.mcu.validate import run_on_mcu

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"


def test_int16x8_conv_model_on_cortex_m4(mcu_tools: None, tmp_path: Path) -> None:
    x = [np.load(MODELS / "digits_test_x.npy")[3:4]]
    calib = str(MODELS / "digits_train_x.npy")
    measured = {}
    for mode in ("int8", "int16x8"):
        options = Options(target="cortex-m4", quantize=mode, calib=calib)
        graph, _ = optimize(load_model(MODELS / "digits_cnn.onnx", options), options)
        result, host = run_on_mcu(graph, options, "net", x, tmp_path / mode,
                                  host_check=True)
        assert host is not None
        got = result.run.outputs[0]
        np.testing.assert_array_equal(got, host[0])
        np.testing.assert_array_equal(got, run_graph(graph, {"input": x[0]})[0])
        measured[mode] = result.measurement
    q8, q16 = measured["int8"], measured["int16x8"]
    assert q16.macs == q8.macs
    # the int16x8 kernels' own cost: 5.12 instructions per MAC measured (2026-12-07); a
    # bound on the int16 kernels themselves, not a ratio to int8's, which moves whenever the
    # int8 kernels get faster (their register tiles and word gathers, which the int16 ones
    # lack, make int8 about 2.7x faster on this model)
    assert q16.instructions < 5.5 * q16.macs, (q16.instructions, q16.macs)
    assert q8.instructions < q16.instructions / 2, (q8.instructions, q16.instructions)
    assert q16.arena <= 2.5 * q8.arena
