"""Exporter patterns against their clean twins, on models the real exporters wrote
(`examples/exporters/make_models.py`; rows in `tests/models/exporters/registry.json`).

For every export with a clean twin (same network, same weights), float and int8: both
compile to the same node kinds and arenas within 5 %, and (slow tier) the same Cortex-M4
instruction count within 5 % on QEMU. Float outputs of the generated C match onnxruntime;
int8 outputs of pattern and twin agree with each other.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import tinyc
from tinyc.compiler import Options, compile_graph, load_model, optimize
from tinyc.interp import run_graph
from tinyc.ir import Graph
from tinyc.mcu.validate import run_on_mcu

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = json.loads((ROOT / "tests" / "models" / "exporters" / "registry.json").read_text())
#: ops that are views of their input (tinyc.memory.liveness): exporters pick different ones
#: for the same flatten, and none of them costs a byte or an instruction
VIEWS = {"Flatten": "Reshape", "Squeeze": "Reshape", "Unsqueeze": "Reshape"}
TOLERANCE = 0.05


@dataclass(frozen=True)
class Pair:
    model: Path
    twin: Path
    #: int8 already (a QDQ model): compiled as it is, and only as int8
    quantized: bool

    @property
    def id(self) -> str:
        return f"{self.model.stem}-vs-{self.twin.stem}"


PAIRS = [Pair(ROOT / r["model"], ROOT / r["twin"], r.get("quantized", False))
         for r in REGISTRY["exports"] if r["twin"] and "checked_by" not in r]
#: (pair, precision) for every precision the pair has
CASES = [pytest.param(p, precision, id=f"{p.id}-{precision}") for p in PAIRS
         for precision in (("int8",) if p.quantized else ("float", "int8"))]
PATTERNS = sorted({p.model for p in PAIRS if not p.quantized})


def calibration(shape: tuple[int, ...], directory: Path) -> str:
    """Eight fixed N(0, 1) samples (as examples/bench_exports.py calibrates)."""
    path = directory / f"calib_{'x'.join(map(str, shape))}.npy"
    np.save(path, np.random.default_rng(7).standard_normal((8, *shape[1:])).astype(np.float32))
    return str(path)


def options(pair: Pair, model: Path, precision: str, directory: Path,
            target: str = "generic") -> Options:
    if precision == "float" or pair.quantized:
        return Options(target=target)
    shape = load_model(model, Options()).inputs[0].shape
    return Options(target=target, quantize="int8", calib=calibration(shape, directory))


def optimized(model: Path, opts: Options) -> Graph:
    graph, _ = optimize(load_model(model, opts), opts)
    return graph


def kinds(graph: Graph) -> Counter[str]:
    return Counter(VIEWS.get(n.op, n.op) for n in graph.nodes)


def within(value: int, base: int) -> bool:
    return abs(value - base) <= TOLERANCE * base


def sample(graph: Graph) -> np.ndarray:
    return np.random.default_rng(0).standard_normal(graph.inputs[0].shape).astype(np.float32)


@pytest.mark.parametrize(("pair", "precision"), CASES)
def test_same_kernels_and_arena_as_clean_twin(pair: Pair, precision: str, tmp_path: Path) -> None:
    graphs = [optimized(m, options(pair, m, precision, tmp_path))
              for m in (pair.model, pair.twin)]
    assert kinds(graphs[0]) == kinds(graphs[1])
    o = options(pair, pair.model, precision, tmp_path)
    arena, twin_arena = (compile_graph(g, o, "net").plan.size for g in graphs)
    assert within(arena, twin_arena), (arena, twin_arena)
    if precision == "int8":
        # no float arithmetic left but the boundary's (de)quantization
        assert not [n.op for n in graphs[0].nodes if n.op in ("Div", "Mul", "HardSigmoid",
                                                              "Clip", "Pad", "ReduceMean")]
        x = sample(graphs[0])
        feeds = {graphs[0].inputs[0].name: x}
        (y,), (y_twin,) = run_graph(graphs[0], feeds), run_graph(graphs[1], feeds)
        step = float(np.abs(y_twin).max()) / 127
        np.testing.assert_allclose(y, y_twin, rtol=0, atol=2 * step)


@pytest.mark.parametrize("model", PATTERNS, ids=lambda p: p.stem)
def test_pattern_export_matches_onnxruntime(model: Path) -> None:
    result = tinyc.verify(model)
    assert result.reference == "onnxruntime"
    assert result.ok, result


#: (model, precision) -> Cortex-M4 instructions: a twin shared by two patterns runs once
_M4_INSTRUCTIONS: dict[tuple[Path, str], int] = {}


def m4_instructions(pair: Pair, model: Path, precision: str, directory: Path) -> int:
    """One QEMU run of `model`; its outputs must match the reference interpreter (as the
    MCU tests judge them: float within the FPU's fused multiply-adds, int8 exactly up to
    the float boundary)."""
    key = (model, precision)
    if key not in _M4_INSTRUCTIONS:
        opts = options(pair, model, precision, directory, target="cortex-m4")
        graph = optimized(model, opts)
        x = sample(graph)
        result, _ = run_on_mcu(graph, opts, "net", [x], directory / f"{model.stem}-{precision}")
        tol = {"rtol": 1e-3, "atol": 1e-4} if precision == "float" else {"rtol": 1e-5,
                                                                           "atol": 1e-6}
        want = run_graph(graph, {graph.inputs[0].name: x})
        for got, w in zip(result.run.outputs, want, strict=True):
            np.testing.assert_allclose(got, w, **tol)
        _M4_INSTRUCTIONS[key] = result.measurement.instructions
    return _M4_INSTRUCTIONS[key]


@pytest.mark.slow
@pytest.mark.usefixtures("mcu_tools")
@pytest.mark.parametrize(("pair", "precision"), CASES)
def test_same_cortex_m4_instructions_as_clean_twin(
    pair: Pair, precision: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    directory = tmp_path_factory.mktemp("m4")
    counts = [m4_instructions(pair, m, precision, directory) for m in (pair.model, pair.twin)]
    assert within(counts[0], counts[1]), counts
