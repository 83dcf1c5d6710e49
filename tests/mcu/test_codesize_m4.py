"""The Cortex-M4 flash `codesize` measures is the QEMU harness's whole-image figure (model
ELF minus a stub) less the C library routines the model calls, which a partial link
leaves unresolved."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinyc.compiler import Options, compile_graph, load_model, optimize
from tinyc.mcu.codesize import flash_bytes
from tinyc.mcu.harness import build_mcu
from tinyc.mcu.targets import TARGETS

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"


@pytest.mark.parametrize("weight_bits", [8, 4])
def test_flash_agrees_with_the_harness(mcu_tools: None, tmp_path: Path,
                                       weight_bits: int) -> None:
    options = Options(quantize="int8", calib=str(MODELS / "digits_train_x.npy"),
                      weight_bits=weight_bits, target="cortex-m4")
    graph, _ = optimize(load_model(MODELS / "digits_cnn.onnx", options), options)
    code = compile_graph(graph, options, "digits").code
    code.write(tmp_path)
    harness = build_mcu(tmp_path, graph, "digits", TARGETS["cortex-m4"]).model.flash
    measured = flash_bytes(code, "cortex-m4")
    assert code.weight_bytes < measured <= harness <= measured + 300
