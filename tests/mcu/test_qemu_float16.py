"""`--quantize float16` on QEMU's Cortex-M4: the half-weight kernels (VCVTB/VCVTT, see
codegen/kernels/cortex-m4/tinyc_fpu_f16.h) give what the host build of the same C and the
interpreter give, on every kernel shape of tests/quant/test_float16.py and on the KWS
and digits models (whose plans take the overlapping forms); the conversion instructions
are really in the build; and the C compiles warning-free for the compilers of every kernel
set (cortex-m0plus: the portable kernels; cortex-m4 and cortex-m33: the FPU variants)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_compile_matrix import compilers

from tests.quant.test_float16 import MODELS, _cases_model, _save, kernel_cases, model_graph
from tinyc.compiler import Options, compile_graph
from tinyc.harness import STRICT_FLAGS
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


# the M7/M33 build the Cortex-M4 files with other flags; the compile matrix covers them
@pytest.mark.parametrize("target", ["cortex-m0plus", "cortex-m4"])
def test_half_weight_c_compiles_everywhere(mcu_tools: None, target: str, tmp_path: Path) -> None:
    """Every half-weight kernel (the shapes model has them all, KWS the stream forms) is
    warning-free for the target's compilers (tests/mcu/test_compile_matrix.py's list)."""
    shapes = _save(_cases_model(kernel_cases(), "shapes"), tmp_path)
    for path in (shapes, MODELS / "kws_dscnn.onnx"):
        graph = model_graph(path, "float16", target)
        out = tmp_path / f"{path.stem}-{target}"
        # one C name: the kernel files are the same text, compiled once (tests/objcache.py)
        compile_graph(graph, Options(quantize="float16", target=target), "net").code.write(out)
        files = sorted(str(p) for p in out.glob("*.c"))
        for cmd in compilers(target):
            proc = subprocess.run([*cmd, *STRICT_FLAGS, "-O2", "-c", "-I", str(out), *files],
                                  cwd=tmp_path, capture_output=True, text=True)
            assert proc.returncode == 0, f"{' '.join(cmd)}:\n{proc.stderr[-3000:]}"


def test_kernel_shapes_on_cortex_m4(mcu_tools: None, tmp_path: Path) -> None:
    path = _save(_cases_model(kernel_cases(), "shapes"), tmp_path)
    elf = _check_on_m4(path, "net", tmp_path)
    code = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True,
                          text=True, check=True).stdout
    assert "vcvtb.f32.f16" in code and "vcvtt.f32.f16" in code


@pytest.mark.parametrize("name", ["kws_dscnn", "digits_cnn"])
def test_models_on_cortex_m4(mcu_tools: None, name: str, tmp_path: Path) -> None:
    """KWS runs the depthwise and 1x1 stream forms, the digits CNN the row-by-row one."""
    _check_on_m4(MODELS / f"{name}.onnx", "net", tmp_path)  # the kernel shapes' C name
