"""Small valid ONNX models that the fuzz cases start from, built with onnx.helper.

Each template is one op with inputs and initializers that make it valid, so that a case
changes exactly one thing (an attribute, a name, a shape) and the rest stays sound."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


@dataclass
class OpTemplate:
    """One node over float inputs (name, shape) and initializers, with its baseline attributes."""

    op: str
    inputs: list[tuple[str, list[int]]]
    initializers: dict[str, np.ndarray] = field(default_factory=dict)
    attrs: dict[str, object] = field(default_factory=dict)
    node_inputs: list[str] | None = None  # default: inputs then initializers, in order


def _f(*shape: int) -> np.ndarray:
    """Deterministic small float weights."""
    n = int(np.prod(shape)) if shape else 1
    return ((np.arange(n, dtype=np.float32) % 7 - 3) / 8).reshape(shape)


def _i(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


X = ("x", [1, 2, 8, 8])
TEMPLATES: dict[str, Callable[[], OpTemplate]] = {
    "Conv": lambda: OpTemplate("Conv", [X], {"w": _f(3, 2, 3, 3), "b": _f(3)},
                               {"kernel_shape": [3, 3], "strides": [1, 1], "pads": [1, 1, 1, 1]}),
    "ConvTranspose": lambda: OpTemplate("ConvTranspose", [X], {"w": _f(2, 3, 2, 2)},
                                        {"strides": [2, 2]}),
    "MaxPool": lambda: OpTemplate("MaxPool", [X], attrs={"kernel_shape": [2, 2],
                                                         "strides": [2, 2]}),
    "AveragePool": lambda: OpTemplate("AveragePool", [X], attrs={"kernel_shape": [3, 3],
                                                                 "pads": [1, 1, 1, 1]}),
    "LpPool": lambda: OpTemplate("LpPool", [X], attrs={"kernel_shape": [2, 2], "p": 2}),
    "Gemm": lambda: OpTemplate("Gemm", [("x", [2, 4])], {"w": _f(4, 3), "c": _f(3)},
                               {"alpha": 1.0, "beta": 1.0}),
    "Softmax": lambda: OpTemplate("Softmax", [("x", [2, 5])], attrs={"axis": -1}),
    "LogSoftmax": lambda: OpTemplate("LogSoftmax", [("x", [2, 5])], attrs={"axis": 1}),
    "Flatten": lambda: OpTemplate("Flatten", [X], attrs={"axis": 1}),
    "Transpose": lambda: OpTemplate("Transpose", [X], attrs={"perm": [0, 2, 3, 1]}),
    "Concat": lambda: OpTemplate("Concat", [("x", [2, 3]), ("y", [2, 3])], attrs={"axis": 0}),
    "Gather": lambda: OpTemplate("Gather", [("x", [5, 3])], {"idx": _i(0, 4, 2)},
                                 attrs={"axis": 0}),
    "Split": lambda: OpTemplate("Split", [("x", [4, 6])], attrs={"axis": 1}),
    "LeakyRelu": lambda: OpTemplate("LeakyRelu", [("x", [2, 5])], attrs={"alpha": 0.1}),
    "Elu": lambda: OpTemplate("Elu", [("x", [2, 5])], attrs={"alpha": 1.0}),
    "HardSigmoid": lambda: OpTemplate("HardSigmoid", [("x", [2, 5])],
                                      attrs={"alpha": 0.2, "beta": 0.5}),
    "Selu": lambda: OpTemplate("Selu", [("x", [2, 5])]),
    "BatchNormalization": lambda: OpTemplate(
        "BatchNormalization", [X], {"s": _f(2) + 1, "bias": _f(2), "mean": _f(2),
                                    "var": np.ones(2, np.float32)}, {"epsilon": 1e-5}),
    "InstanceNormalization": lambda: OpTemplate("InstanceNormalization", [X],
                                                {"s": _f(2) + 1, "bias": _f(2)},
                                                {"epsilon": 1e-5}),
    "LRN": lambda: OpTemplate("LRN", [X], attrs={"size": 3}),
    "DepthToSpace": lambda: OpTemplate("DepthToSpace", [("x", [1, 4, 2, 2])],
                                       attrs={"blocksize": 2}),
    "SpaceToDepth": lambda: OpTemplate("SpaceToDepth", [X], attrs={"blocksize": 2}),
    "ReduceMean": lambda: OpTemplate("ReduceMean", [X], attrs={"axes": [2, 3],
                                                               "keepdims": 1}),
    "ArgMax": lambda: OpTemplate("ArgMax", [("x", [3, 5])], attrs={"axis": 1}),
    "Cast": lambda: OpTemplate("Cast", [("x", [2, 3])], attrs={"to": TensorProto.INT32}),
    "CumSum": lambda: OpTemplate("CumSum", [("x", [2, 5])], {"axis": _i(1)}),
    "Pad": lambda: OpTemplate("Pad", [X], {"pads": _i(0, 0, 1, 1, 0, 0, 1, 1)},
                              attrs={"mode": "constant"}),
    "TopK": lambda: OpTemplate("TopK", [("x", [2, 6])], {"k": _i(3)}, attrs={"axis": -1}),
    "LayerNormalization": lambda: OpTemplate("LayerNormalization", [("x", [2, 6])],
                                             {"s": _f(6) + 1}, {"axis": -1, "epsilon": 1e-5}),
    "Resize": lambda: OpTemplate("Resize", [X], {"scales": np.array([1, 1, 2, 2], np.float32)},
                                 {"mode": "nearest"}, node_inputs=["x", "", "scales"]),
    "Shrink": lambda: OpTemplate("Shrink", [("x", [2, 5])], attrs={"lambd": 0.5}),
    "Clip": lambda: OpTemplate("Clip", [("x", [2, 5])], {"lo": np.array(-1, np.float32),
                                                         "hi": np.array(1, np.float32)}),
    "GlobalAveragePool": lambda: OpTemplate("GlobalAveragePool", [X]),
    "Squeeze": lambda: OpTemplate("Squeeze", [("x", [1, 3, 1, 4])], {"axes": _i(0, 2)}),
    "Unsqueeze": lambda: OpTemplate("Unsqueeze", [("x", [3, 4])], {"axes": _i(0)}),
    "Einsum": lambda: OpTemplate("Einsum", [("x", [2, 3]), ("y", [3, 4])],
                                 attrs={"equation": "ij,jk->ik"}),
    "Hardmax": lambda: OpTemplate("Hardmax", [("x", [2, 5])], attrs={"axis": -1}),
    "Trilu": lambda: OpTemplate("Trilu", [("x", [4, 4])], attrs={"upper": 1}),
}


def op_graph(t: OpTemplate, outputs: int = 1) -> onnx.GraphProto:
    """The template as a one-node graph; output shapes are left to the compiler."""
    node_inputs = t.node_inputs or [n for n, _ in t.inputs] + list(t.initializers)
    out_names = [f"y{i}" for i in range(outputs)]
    node = helper.make_node(t.op, node_inputs, out_names, name=f"{t.op.lower()}0")
    for key, value in t.attrs.items():
        node.attribute.append(helper.make_attribute(key, value))
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in t.inputs]
    outs = [helper.make_tensor_value_info(n, TensorProto.UNDEFINED, None) for n in out_names]
    inits = [numpy_helper.from_array(v, k) for k, v in t.initializers.items()]
    return helper.make_graph([node], "g", inputs, outs, inits)


def wrap(graph: onnx.GraphProto, opset: int = OPSET) -> onnx.ModelProto:
    """A model around `graph` at `opset`, with the IR version that opset needs."""
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="tinyc-fuzz")
    model.ir_version = 8
    return model


def mlp_graph(names: dict[str, str] | None = None) -> onnx.GraphProto:
    """x[1,4] -> Gemm(w, b) -> Relu -> Add(z) -> y: every kind of name in a few nodes.

    `names` renames the roles x, z, w, b, h, r, y, gemm, relu, add."""
    n = {k: k for k in ("x", "z", "w", "b", "h", "r", "y", "gemm", "relu", "add")}
    n.update(names or {})
    nodes = [
        helper.make_node("Gemm", [n["x"], n["w"], n["b"]], [n["h"]], name=n["gemm"], transB=1),
        helper.make_node("Relu", [n["h"]], [n["r"]], name=n["relu"]),
        helper.make_node("Add", [n["r"], n["z"]], [n["y"]], name=n["add"]),
    ]
    inputs = [helper.make_tensor_value_info(n["x"], TensorProto.FLOAT, [1, 4]),
              helper.make_tensor_value_info(n["z"], TensorProto.FLOAT, [1, 3])]
    outputs = [helper.make_tensor_value_info(n["y"], TensorProto.FLOAT, [1, 3])]
    inits = [numpy_helper.from_array(_f(3, 4), n["w"]), numpy_helper.from_array(_f(3), n["b"])]
    return helper.make_graph(nodes, "mlp", inputs, outputs, inits)
