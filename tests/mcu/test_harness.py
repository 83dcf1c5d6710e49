"""The bare-metal harness and `tinyc validate`: every Cortex-M target runs on its QEMU
board; instruction counts are deterministic and add up; the profile splits them per node;
a batch runs many samples in one QEMU run; the size and stack figures are sane; a missing
toolchain gives a clear error."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tinyc.cli import main
from tinyc.compiler import Options, load_model, optimize
from tinyc.ir.text import parse_graph
from tinyc.mcu import TARGETS
from tinyc.mcu.harness import (
    ToolMissingError,
    build_mcu,
    require_tools,
    run_qemu,
    run_qemu_batch,
)
from tinyc.mcu.validate import run_on_mcu

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"
DIGITS = MODELS / "digits_cnn.onnx"
# cortex-m4 is the default, run by test_validate_defaults_to_cortex_m4_and_refuses_host
OTHER_MCU_TARGETS = [name for name, t in TARGETS.items() if t.is_mcu and name != "cortex-m4"]


@pytest.fixture(scope="module")
def digits_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("in") / "digit.npy"
    np.save(path, np.load(MODELS / "digits_test_x.npy")[:1])
    return path


@pytest.mark.parametrize("target", OTHER_MCU_TARGETS)
def test_validate_runs_on_every_board(mcu_tools: None, target: str, digits_input: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(DIGITS), "--target", target, "--input", str(digits_input)]) == 0
    out = capsys.readouterr().out
    assert f"on {target} (QEMU {TARGETS[target].machine})" in out
    assert "vs onnxruntime (rtol 0.0001, atol 1e-05): ok" in out
    assert "vs the host build: ok" in out
    for figure in ("instructions/inference", "instructions/MAC", "data reads/inference",
                   "flash", "RAM", "I/O buffers"):
        assert figure in out
    assert "est. cycles" not in out  # the cost model is the Cortex-M4's
    assert "tinyc: validate ok" in out


def test_validate_defaults_to_cortex_m4_and_refuses_host(
    mcu_tools: None, digits_input: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(DIGITS), "--input", str(digits_input)]) == 0
    assert "on cortex-m4" in capsys.readouterr().out
    assert main(["validate", str(DIGITS), "--target", "generic"]) == 2
    assert "no board" in capsys.readouterr().err


TINY = """
graph @tiny(%x: f32[1,8]) -> (%y: f32[1,8]) {
  %y = Relu(%x) : f32[1,8]
  return %y
}
"""


def test_instruction_counts_are_deterministic_and_small_for_a_tiny_model(
    mcu_tools: None, tmp_path: Path
) -> None:
    graph = parse_graph(TINY)
    x = np.linspace(-1, 1, 8, dtype=np.float32).reshape(1, 8)
    counts = []
    for i in range(2):
        result, _ = run_on_mcu(graph, Options(target="cortex-m4"), "tiny", [x], tmp_path / str(i))
        np.testing.assert_array_equal(result.run.outputs[0], np.maximum(x, 0))
        counts.append(result.run.instructions)
    assert counts[0] == counts[1]
    assert 0 < counts[0] < 1000  # a Relu over 8 values, plus the call: tens of instructions
    # the counter resolution is one SysTick tick: 40 instructions on the 25 MHz boards
    assert result.run.spin_ticks in (40000, 50000)


TWO_BY_TWO = """
graph @two(%a: f32[2,3], %b: i32[5]) -> (%s: f32[2,3], %r: i32[5]) {
  %s = Add(%a, %a) : f32[2,3]
  %r = Mul(%b, %b) : i32[5]
  return %s, %r
}
"""


def test_a_batch_runs_every_sample_in_one_qemu_run(mcu_tools: None, tmp_path: Path) -> None:
    """`run_qemu_batch`: each sample's outputs, two inputs and two outputs of different
    sizes, and the first sample measured as a single run measures it."""
    graph = parse_graph(TWO_BY_TWO)
    rng = np.random.default_rng(0)
    samples = [[rng.standard_normal((2, 3)).astype(np.float32),
                rng.integers(-1000, 1000, 5).astype(np.int32)] for _ in range(7)]
    single, _ = run_on_mcu(graph, Options(target="cortex-m4"), "two", samples[0], tmp_path)
    first, outputs = run_qemu_batch(single.build, graph, samples)
    assert (first.instructions, first.stack) == (single.run.instructions, single.run.stack)
    assert len(outputs) == len(samples)
    for (a, b), (s, r) in zip(samples, outputs, strict=True):
        np.testing.assert_array_equal(s, a + a)
        np.testing.assert_array_equal(r, b * b)


def test_profile_splits_the_inference_by_node(mcu_tools: None, tmp_path: Path) -> None:
    options = Options(target="cortex-m4")
    graph, _ = optimize(load_model(MODELS / "kws_dscnn.onnx", options), options)
    from tinyc.compiler import compile_graph

    # the C name of test_qemu_models' builds: the same kernel files, compiled once
    compiled = compile_graph(graph, options, "net")
    compiled.code.write(tmp_path)
    build = build_mcu(tmp_path, graph, "net", TARGETS["cortex-m4"], profile=True)
    x = np.random.default_rng(0).standard_normal(graph.inputs[0].shape).astype(np.float32)
    run = run_qemu(build, graph, [x])
    labels = [label for label, _ in run.profile]
    assert labels[: len(graph.nodes)] == [f"{n.op} {n.name}" for n in graph.nodes]
    # -icount per node (to a tick, 40, at each end, plus the lap's call and return) against
    # the plugin's exact count
    assert [label for label, _ in run.node_costs] == labels
    for (_, n), (_, exact) in zip(run.profile, run.node_costs, strict=True):
        assert abs(n - exact.instructions) <= 2 * 40 + 40
    # each node's stack, at least a lap's depth; the run's is the deepest node's
    assert len(run.node_stacks) == len(labels) and max(run.node_stacks) == run.stack
    with pytest.raises(ValueError, match="profiling build runs one sample"):
        run_qemu_batch(build, graph, [[x], [x]])


def test_missing_toolchain_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(shutil, "which", lambda tool: None)
    with pytest.raises(ToolMissingError, match="gcc-arm-none-eabi libnewlib-arm-none-eabi"):
        require_tools()
    assert main(["validate", str(DIGITS)]) == 1
    assert "qemu-system-arm" in capsys.readouterr().err
