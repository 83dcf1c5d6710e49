"""`tinyc.mcu.codesize`: the flash a generated model costs, weights and linked kernel code,
measured by the target's compiler (here the host cc; tests/mcu/test_codesize_m4.py checks
the Cortex-M4 figure against the QEMU harness's whole-image measurement)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tinyc.compiler import Options, compile_graph, load_model, optimize
from tinyc.mcu import codesize
from tinyc.mcu.codesize import CompilerMissingError, flash_bytes, model_sections

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"
CALIB = str(MODELS / "digits_train_x.npy")


def generated(**options: object):  # noqa: ANN201
    opts = Options(**options)  # type: ignore[arg-type]
    graph, _ = optimize(load_model(MODELS / "digits_cnn.onnx", opts), opts)
    return compile_graph(graph, opts, "digits").code


def test_flash_is_weights_plus_the_linked_code() -> None:
    int8 = generated(quantize="int8", calib=CALIB)
    sections = model_sections(int8, "generic")
    assert sections.flash == flash_bytes(int8, "generic")
    assert sections.rodata >= int8.weight_bytes  # the weights are const data
    assert sections.text > 0 and sections.bss >= int8.arena_size  # the static arena
    # int4 weights: half the weight bytes, another kernel family
    int4 = generated(quantize="int8", calib=CALIB, weight_bits=4)
    assert int4.weight_bytes < int8.weight_bytes
    assert flash_bytes(int4, "generic") != flash_bytes(int8, "generic")


def test_unreached_kernels_cost_nothing() -> None:
    """A kernel file nothing calls adds no flash: the link keeps what NAME_run reaches."""
    code = generated()
    before = flash_bytes(code, "generic")
    code.files["tinyc_unused.c"] = "int tinyc_unused(int x) { return x * 3 + 1; }\n"
    assert flash_bytes(code, "generic") == before
    # the same function called from NAME_run is counted
    run = f"{code.name}.c"
    code.files[run] = code.files[run].replace(
        "#include", "int tinyc_unused(int x);\n#include", 1) + (
        "\nint digits_extra(void);\nint digits_extra(void) { return tinyc_unused(2); }\n")
    assert flash_bytes(code, "generic") == before  # not reached from digits_run either


def test_objects_are_reused_across_candidates(monkeypatch: pytest.MonkeyPatch) -> None:
    """A second mix compiles only what changed: the kernels' objects come from the cache."""
    flash_bytes(generated(quantize="int8", calib=CALIB), "generic")
    compiled: list[str] = []
    real = codesize._run

    def spy(cmd: list[str], what: str):  # noqa: ANN202
        compiled.extend(c for c in cmd if c.endswith(".c"))
        return real(cmd, what)

    monkeypatch.setattr(codesize, "_run", spy)
    flash_bytes(generated(quantize="int8", calib=CALIB, layer_precision=(("/fc/*", "int8"),)),
                "generic")
    assert compiled == []  # the same C as before: nothing compiled
    flash_bytes(generated(quantize="int8", calib=CALIB, layer_precision=(("/fc/*", "int4"),)),
                "generic")  # a new NAME.c and the int4 kernels (if not built yet)
    assert any(c.endswith("digits.c") for c in compiled)
    assert not any(c.endswith("tinyc_quantize.c") for c in compiled)  # cached


def test_missing_compiler_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda tool: None)
    with pytest.raises(CompilerMissingError, match="arm-none-eabi-gcc"):
        codesize.toolchain("cortex-m4")
    with pytest.raises(CompilerMissingError, match="host cc"):
        codesize.toolchain("generic")
