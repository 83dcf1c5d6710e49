"""Measure the dense and sparse kernels on Cortex-M4 and fit the sparse cost model.

Dev-only benchmark (needs arm-none-eabi-gcc and qemu-system-arm). It compiles one-layer
models (Conv 3x3, pointwise, depthwise, strided, Gemm) at several weight densities, runs
each under QEMU with `-icount` (exact instruction counts, see tinyc/mcu/harness.py), and
fits by least squares the per-unit instruction costs that `tinyc.prune.sparse.CYCLES`
uses to choose dense or sparse kernels per layer. It prints the measurements, the fitted
constants and the relative error of the model on every measurement.

    python examples/bench_sparse.py [--target cortex-m4] [--quick]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

from tinyc.compiler import Options, compile_graph, optimize
from tinyc.ir import Graph, Node, Value
from tinyc.mcu.harness import build_mcu, run_qemu
from tinyc.mcu.targets import get_target
from tinyc.ops import get_op
from tinyc.ops.registry import REQUIRED
from tinyc.ops.sparse import dense_weight
from tinyc.passes import PassContext
from tinyc.passes.sparsify_weights import DENSE_OPS, SPARSE_OPS, SparsifyWeights
from tinyc.prune.sparse import (
    CYCLES,
    best_encoding,
    dense_features,
    geometry,
    kernel_set,
    sparse_features,
)


def one_layer(op: str, x_shape: tuple[int, ...], w: np.ndarray, **attrs: object) -> Graph:
    """A graph with a single Conv or Gemm node, built as the ONNX frontend builds it."""
    graph = Graph("bench")
    x = graph.add_input("x", _f32(x_shape))
    wv = graph.add_const("w", w)
    b = graph.add_const("b", np.full(w.shape[0], 0.25, np.float32))
    opdef = get_op(op)
    full = {k: (list(s.default) if isinstance(s.default, list) else s.default)
            for k, s in opdef.attrs.items() if s.default is not REQUIRED}
    full.update(attrs)
    node = Node(op, [x, wv, b], [], full, name="layer")
    opdef.normalize(node, 17)
    (ttype,) = opdef.infer(node)
    node.outputs = [Value("y", ttype, node, 0)]
    graph.add_node(node)
    graph.outputs = [node.outputs[0]]
    return graph


def _f32(shape: tuple[int, ...]):  # noqa: ANN202
    from tinyc.ir import DType, TensorType

    return TensorType(DType.F32, shape)


def quantized(graph: Graph) -> Graph:
    """The one-layer graph quantized to int8 with an int8 interface (no boundary ops)."""
    x = graph.inputs[0]
    with tempfile.TemporaryDirectory(prefix="tinyc-bench-calib-") as tmp:
        calib = Path(tmp) / "calib.npy"
        np.save(calib, np.random.default_rng(1).standard_normal((4, *x.shape))
                .astype(np.float32))
        opts = Options(quantize="int8", calib=str(calib), passes="", io="int8")
        return optimize(graph, opts)[0]


def instructions(graph: Graph, target: str, kernels: str) -> int:
    """Instructions of one NAME_run on `target`, with that target's kernel variants or
    (kernels="ref") the portable ones."""
    compiled = compile_graph(graph, Options(target=target if kernels == "target" else "generic"),
                             "bench")
    shape, dtype = graph.inputs[0].shape, graph.inputs[0].dtype.np
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    x = (x * 40).clip(-128, 127).astype(dtype) if dtype != np.float32 else x
    with tempfile.TemporaryDirectory(prefix="tinyc-bench-") as tmp:
        out = Path(tmp)
        compiled.code.write(out)
        build = build_mcu(out, graph, compiled.code.name, get_target(target))
        return run_qemu(build, graph, [x]).instructions


def sparse_weight(shape: tuple[int, ...], density: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(shape).astype(np.float32)
    return np.where(rng.random(shape) < density, w, 0).astype(np.float32)


CASES: list[tuple[str, str, tuple[int, ...], tuple[int, ...], dict[str, object]]] = [
    ("conv3x3", "Conv", (1, 8, 12, 12), (16, 8, 3, 3), {"pads": [1, 1, 1, 1]}),
    ("conv3x3s2", "Conv", (1, 16, 16, 16), (16, 16, 3, 3),
     {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
    ("pointwise", "Conv", (1, 32, 10, 5), (32, 32, 1, 1), {}),
    ("depthwise", "Conv", (1, 32, 10, 10), (32, 1, 3, 3), {"pads": [1, 1, 1, 1], "group": 32}),
    ("conv10x4", "Conv", (1, 1, 25, 10), (16, 1, 10, 4), {"pads": [4, 1, 5, 2],
                                                           "strides": [2, 2]}),
    ("tall", "Conv", (1, 4, 40, 4), (8, 4, 3, 3), {"pads": [1, 1, 1, 1]}),
    ("wide", "Conv", (1, 4, 4, 40), (8, 4, 3, 3), {"pads": [1, 1, 1, 1]}),
    ("pw_small", "Conv", (1, 64, 4, 4), (64, 64, 1, 1), {}),
    ("pw_big", "Conv", (1, 16, 20, 20), (32, 16, 1, 1), {}),
    ("dw_s2", "Conv", (1, 32, 16, 16), (32, 1, 3, 3), {"pads": [1, 1, 1, 1], "group": 32,
                                                      "strides": [2, 2]}),
    ("fc256", "Gemm", (1, 256), (10, 256), {"transB": 1}),
    ("fc128", "Gemm", (1, 128), (128, 128), {"transB": 1}),
]


def features(graph: Graph) -> tuple[str, dict[str, float]]:
    """The model's regressors for one measurement (the graph's one layer, dense or sparse)."""
    node = next(n for n in graph.nodes if n.op in DENSE_OPS + SPARSE_OPS)
    sparse = node.op in SPARSE_OPS
    w = dense_weight(node) if sparse else node.inputs[1].const  # type: ignore[union-attr]
    geo = geometry(node, tuple(w.shape))
    matrix = w.reshape(w.shape[0], -1)
    prefix = "q" if geo.int8 else ""
    if not sparse:
        return prefix + ("conv_dense" if geo.conv else "gemm_dense"), dense_features(geo)
    csr = best_encoding(matrix)
    assert csr is not None
    kind = prefix + ("conv_sparse" if geo.conv else "gemm_sparse")
    return kind, sparse_features(geo, matrix, csr.entries)


UNITS = {
    "conv_dense": ("conv_general_mac", "conv_pointwise_mac", "conv_depthwise_mac", "conv_out"),
    "conv_sparse": ("sconv_mac", "sconv_plane_mac", "sconv_entry", "sconv_row", "sconv_out"),
    "gemm_dense": ("gemm_mac", "gemm_out"),
    "gemm_sparse": ("sgemm_entry", "sgemm_out"),
    "qconv_dense": ("qconv_general_mac", "qconv_pointwise_mac", "qconv_depthwise_mac",
                    "qconv_out"),
    "qconv_sparse": ("qsconv_mac", "qsconv_entry", "qsconv_row", "qsconv_out"),
    "qgemm_dense": ("qgemm_mac", "qgemm_out"),
    "qgemm_sparse": ("qsgemm_entry", "qsgemm_out"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", default="cortex-m4")
    parser.add_argument("--quick", action="store_true", help="fewer densities")
    parser.add_argument("--kernels", choices=("target", "ref"), default="target",
                        help="the target's kernel variants, or the portable ref/ ones")
    parser.add_argument("--int8", action="store_true",
                        help="quantize the layers (int8 kernels) before measuring")
    parser.add_argument("--cache", type=Path, help="JSON file of earlier measurements to reuse")
    args = parser.parse_args()
    densities = (0.1, 0.5) if args.quick else (0.05, 0.1, 0.2, 0.35, 0.5, 0.75)
    cache: dict[str, int] = {}
    if args.cache is not None and args.cache.exists():
        cache = json.loads(args.cache.read_text())

    def measure(key: str, graph: Graph) -> int:
        if key not in cache:
            cache[key] = instructions(graph, args.target, args.kernels)
        return cache[key]

    table = CYCLES[kernel_set(args.target) if args.kernels == "target" else "ref"]
    rows: dict[str, list[tuple[list[float], int, str]]] = {k: [] for k in UNITS}
    empty = one_layer("Gemm", (1, 1), np.ones((1, 1), np.float32), transB=1)
    tag = f"{args.target}:{args.kernels}:v2" + (":int8" if args.int8 else "")
    base = measure(f"{tag}/baseline", empty)
    print(f"empty-model baseline: {base} instructions")
    for label, op, xs, ws, attrs in CASES:
        for d in (1.0, *densities):
            w = sparse_weight(ws, d, 0 if d == 1.0 else 1)
            g = one_layer(op, xs, w, **attrs)
            if args.int8:
                g = quantized(g)
            if d < 1.0:
                SparsifyWeights(policy="always").run(g, PassContext())
            kind, named = features(g)
            feats = [float(named.get(u, 0.0)) for u in UNITS[kind]]
            n = measure(f"{tag}/{label}/{d}", g) - base
            rows[kind].append((feats, n, f"{label} d={d}"))
            model = int(sum(f * table[u] for f, u in zip(feats, UNITS[kind], strict=True)))
            print(f"{label:10s} {'dense' if d == 1.0 else 'sparse'} d={d:<4} {n:>9d} instr"
                  f"   model {model:>9d}")
    if args.cache is not None:
        args.cache.write_text(json.dumps(cache, indent=1, sort_keys=True))
    print("\nfitted instructions per unit (tinyc.prune.sparse.CYCLES), non-negative LSQ:")
    if not any(rows[k] for k in UNITS):
        return
    for kind, units in UNITS.items():
        if not rows[kind]:
            continue
        feats = np.array([f for f, _, _ in rows[kind]], dtype=np.float64)
        target = np.array([n for _, n, _ in rows[kind]], dtype=np.float64)
        coef, _ = nnls(feats, target)
        for unit, value in zip(units, coef, strict=True):
            print(f"    {unit!r}: {value:.2f},   (now {table[unit]})")
        pred = feats @ np.array([table[u] for u in units])
        err = np.abs(pred - target) / target
        worst = int(np.argmax(err))
        print(f"    current model: mean error {err.mean():.0%}, worst {err.max():.0%} "
              f"({rows[kind][worst][2]})")


if __name__ == "__main__":
    main()
