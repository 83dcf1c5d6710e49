"""`--quantize float16` on QEMU's Cortex-M4: the half-weight kernels (VCVTB/VCVTT, see
codegen/kernels/cortex-m4/tinyc_fpu_f16.h) give what the host build of the same C and the
interpreter give, on every kernel shape of tests/quant/test_float16.py and on the KWS
and digits models (whose plans take the overlapping forms); the conversion instructions
are really in the build."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.quant.test_float16 import MODELS, _cases_model, _save, kernel_cases, model_graph
from tinyc.compiler import Options
from tinyc.interp import run_graph
from tinyc.mcu.validate import run_on_mcu


def _check_on_m4(path: Path, name: str, tmp: Path) -> Path:
    options = Options(quantize="float16", target="cortex-m4")
    graph = model_graph(path, "float16", "cortex-m4")
    rng = np.random.default_rng(7)
    xs = [rng.standard_normal(v.shape).astype(np.float32) for v in graph.inputs]
    result, host = run_on_mcu(graph, options, name, xs, tmp / "out", host_check=True)
    assert host is not None
    want = run_graph(graph, {v.name: x for v, x in zip(graph.inputs, xs, strict=True)})
    for v, got, h, w in zip(graph.outputs, result.run.outputs, host, want, strict=True):
        np.testing.assert_allclose(got, h, rtol=1e-4, atol=1e-5, err_msg=v.name)
        np.testing.assert_allclose(got, w, rtol=1e-4, atol=1e-5, err_msg=v.name)
    return result.build.elf


def test_kernel_shapes_on_cortex_m4(mcu_tools: None, tmp_path: Path) -> None:
    path = _save(_cases_model(kernel_cases(), "shapes"), tmp_path)
    elf = _check_on_m4(path, "net", tmp_path)
    code = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True,
                          text=True, check=True).stdout
    assert "vcvtb.f32.f16" in code and "vcvtt.f32.f16" in code


@pytest.mark.parametrize("name", ["kws_dscnn", "digits_cnn"])
def test_models_on_cortex_m4(mcu_tools: None, name: str, tmp_path: Path) -> None:
    """KWS runs the depthwise and 1x1 stream forms, the digits CNN the row-by-row one."""
    _check_on_m4(MODELS / f"{name}.onnx", name, tmp_path)
