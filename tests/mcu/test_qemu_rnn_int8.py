"""The int8 digits LSTM and GRU on QEMU's Cortex-M4 (SMLAD kernel): bit-exact with the host
build and the interpreter, and cheaper than the float build in arena, weights,
instructions and total RAM -- arena + I/O + the measured stack, which counts since the int8
kernels' scratch moved from the stack into the planned arena (the figures the closing note
of issue 13 reports)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinyc.compiler import Options, load_model, optimize
from tinyc.interp import run_graph
from tinyc.mcu.validate import run_on_mcu

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"


@pytest.mark.parametrize("name", ["digits_lstm", "digits_gru"])
def test_int8_rnn_on_cortex_m4(mcu_tools: None, name: str, tmp_path: Path) -> None:
    x = [np.load(MODELS / "digits_test_x.npy")[5:6]]
    measured = {}
    for label, options in (
        ("float", Options(target="cortex-m4")),
        ("int8", Options(target="cortex-m4", quantize="int8",
                         calib=str(MODELS / "digits_train_x.npy"))),
    ):
        graph, _ = optimize(load_model(MODELS / f"{name}.onnx", options), options)
        result, host = run_on_mcu(graph, options, "net", x, tmp_path / label, host_check=True)
        assert host is not None
        got = result.run.outputs[0]
        if label == "int8":
            np.testing.assert_array_equal(got, host[0])
            np.testing.assert_array_equal(got, run_graph(graph, {"input": x[0]})[0])
        measured[label] = result.measurement
    f, q = measured["float"], measured["int8"]
    assert q.macs == f.macs
    assert q.instructions < f.instructions
    assert q.arena < f.arena
    assert q.model.flash < f.model.flash
    # the I/O is the same float interface in both builds; the stack is the inference's
    assert q.arena + q.stack < f.arena + f.stack
