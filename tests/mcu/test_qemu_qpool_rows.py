"""The Cortex-M4 int8 pool row paths and QConcat's table requantization on the core (the
SSUB8/SEL and SXTAB16 forms only run there) and, built from the same C on the host, under
ASan/UBSan (the portable fallbacks): one graph of 2x2 and 3x3 pools, strides 1 and 2, with
and without padding, over planes 5, 10 and 13 wide, every output bit-exact with the
interpreter."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.unit.test_quant_ops import Builder, qp
from tinyc.compiler import Options
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph
from tinyc.ir import Graph, Value
from tinyc.ir.verify import verify
from tinyc.mcu.validate import run_on_mcu


def pools(b: Builder, x: Value, params: tuple[float, int]) -> list[Value]:
    """Max pools in the input's parameters (the word-store form) and rescaled; average
    pools with and without count_include_pad; a QConcat of a max pool (its slice of the
    output: aliased) and an average pool (requantized through the table)."""
    base = {"ceil_mode": 0, "dilations": [1, 1], "count_include_pad": 0, "act_min": -128,
            "act_max": 127}
    k3s1 = dict(base, kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1])
    k3s2 = dict(base, kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 0, 1])
    k2s2 = dict(base, kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 0, 0])
    k2s1 = dict(base, kernel_shape=[2, 2], strides=[1, 1], pads=[0, 0, 0, 0])
    same, other = qp(*params), qp(params[0] * 1.3, params[1] + 9)
    cat_in = b.node("QMaxPool", [x], same, **k3s1)
    outs = [
        b.node("QMaxPool", [x], same, **k2s2),
        b.node("QMaxPool", [x], other, **k3s2),
        b.node("QMaxPool", [x], same, **dict(k2s1, act_min=params[1] + 3)),
        b.node("QAveragePool", [x], same, **dict(k3s1, count_include_pad=1)),
        b.node("QAveragePool", [x], other, **k3s1),
        b.node("QAveragePool", [x], other, **k3s2),
        b.node("QAveragePool", [x], same, **k2s2),
        b.node("QAveragePool", [x], other, **k2s1),
    ]
    avg = b.node("QAveragePool", [x], other, **dict(k3s1, count_include_pad=1))
    outs.append(b.node("QConcat", [cat_in, avg], same, axis=1, act_min=-128, act_max=127))
    return outs


def pool_graph() -> tuple[Graph, list[np.ndarray]]:
    b = Builder()
    outs: list[Value] = []
    for h, w, params in ((9, 5, (0.05, -7)), (6, 10, (0.02, 11)), (7, 13, (0.1, -128))):
        outs += pools(b, b.input((1, 8, h, w), qp(*params)), params)
    b.graph.outputs = outs
    verify(b.graph)
    return b.graph, [b.feeds[v.name] for v in b.graph.inputs]


def test_int8_pool_rows_on_cortex_m4(mcu_tools: None, tmp_path: Path) -> None:
    graph, inputs = pool_graph()
    expected = run_graph(graph, {v.name: x for v, x in zip(graph.inputs, inputs, strict=True)})
    options = Options(target="cortex-m4")
    result, host = run_on_mcu(graph, options, "net", inputs, tmp_path, host_check=True)
    assert host is not None
    source = result.compiled.code.files[f"{result.compiled.code.name}.c"]
    assert source.count("requantize_s8(") == 3  # the max pool slices of the QConcats: none
    sanitized = run_host(build_host(tmp_path, graph, result.compiled.code.name, SANITIZE_FLAGS),
                         graph, inputs)
    for v, got, h, s, e in zip(graph.outputs, result.run.outputs, host, sanitized, expected,
                               strict=True):
        want = np.asarray(e).reshape(got.shape)
        np.testing.assert_array_equal(got, want, err_msg=v.name)
        np.testing.assert_array_equal(h, want, err_msg=v.name)
        np.testing.assert_array_equal(s, want, err_msg=v.name)
