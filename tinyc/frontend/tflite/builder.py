"""The ONNX graph a TFLite subgraph becomes, built one TFLite tensor at a time.

Two rules make the result the same IR the ONNX frontend makes for a QDQ model:

* Quantized tensors stay integer tensors; an op reads them through DequantizeLinear with
  the tensor's own (scale, zero point) and writes them through QuantizeLinear, so the
  `qdq-lower` pass produces tinyc's integer ops with TFLite's parameters.
* Layout. TFLite is NHWC, tinyc's spatial ops are NCHW. Each TFLite tensor may exist in
  both layouts; the NCHW one is made on demand by a Transpose of the integer tensor and
  cached. Spatial ops read and write NCHW, ops that need TFLite's axes (reshape, fully
  connected, softmax) read NHWC, and elementwise ops run in whichever layout their inputs
  already have, so a chain of convolutions, adds and pools has no Transpose inside it; a
  Transpose appears only where the layout really changes (the input, a flatten).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tinyc.errors import ModelError
from tinyc.frontend.tflite.reader import Quant, Subgraph, Tensor

NHWC, NCHW = "nhwc", "nchw"
TO_NCHW, TO_NHWC = (0, 3, 1, 2), (0, 2, 3, 1)
OPSET = 14  # HardSwish; ReduceMean still takes its axes as an attribute
#: integer types that hold quantized activations
QTYPES = (np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int16))


def is_quantized(t: Tensor) -> bool:
    return t.quant is not None and t.dtype in QTYPES


def to_layout(data: np.ndarray, layout: str) -> np.ndarray:
    """A constant as an operand of an op computing in `layout` (TFLite broadcasts on the
    trailing axes, so a rank < 4 constant is first padded to NHWC rank 4)."""
    if layout == NHWC or data.size == 1:
        return data
    if data.ndim > 4:
        raise ModelError(f"constant of rank {data.ndim} in a 4-D layout")
    return data.reshape((1,) * (4 - data.ndim) + data.shape).transpose(TO_NCHW)


class OnnxBuilder:
    def __init__(self, sub: Subgraph, name: str) -> None:
        self.sub = sub
        self.name = name
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        #: (tensor index, layout) -> ONNX name of the tensor as stored (integer if quantized)
        self.stored: dict[tuple[int, str], str] = {}
        #: (tensor index, layout) -> ONNX name of its float view
        self.real: dict[tuple[int, str], str] = {}
        self.used_names: set[str] = set()
        self.io_names = {i: sub.tensors[i].name or f"t{i}" for i in sub.inputs + sub.outputs}
        self.label = "op"
        #: ONNX node name -> attributes tinyc's IR node gets after import (what ONNX's
        #: schema has no attribute for)
        self.ir_attrs: dict[str, dict[str, object]] = {}

    # -- names and nodes -------------------------------------------------------------
    def fresh(self, hint: str) -> str:
        name, k = hint, 1
        while name in self.used_names:
            k += 1
            name = f"{hint}_{k}"
        self.used_names.add(name)
        return name

    def node(self, op: str, inputs: list[str], output: str | None = None, **attrs: object) -> str:
        out = output or self.fresh(f"{self.label}_{op.lower()}")
        self.nodes.append(helper.make_node(op, inputs, [out], name=self.fresh(
            f"{self.label}_{op}"), **attrs))
        return out

    def const(self, data: np.ndarray, hint: str) -> str:
        name = self.fresh(f"{self.label}_{hint}")
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(data), name))
        return name

    def tensor_name(self, t: int, layout: str) -> str:
        if layout == NHWC and t in self.io_names:
            return self.fresh(self.io_names[t])
        return self.fresh(f"t{t}" if layout == NHWC else f"t{t}_{layout}")

    # -- reading tensors -------------------------------------------------------------
    def has(self, t: int, layout: str) -> bool:
        return (t, layout) in self.stored

    def value(self, t: int, layout: str = NHWC) -> str:
        """Tensor `t` as stored (integer when quantized), in `layout`."""
        key = (t, layout)
        if key in self.stored:
            return self.stored[key]
        tensor = self.sub.tensors[t]
        if tensor.data is not None:
            name = self.const(to_layout(tensor.data, layout), f"c{t}")
        else:
            other = NCHW if layout == NHWC else NHWC
            if (t, other) not in self.stored:
                raise ModelError(f"tensor {t} '{tensor.name}' is read before it is written")
            perm = TO_NHWC if layout == NHWC else TO_NCHW
            name = self.node("Transpose", [self.stored[(t, other)]],
                             self.tensor_name(t, layout), perm=list(perm))
        self.stored[key] = name
        return name

    def real_value(self, t: int, layout: str = NHWC) -> str:
        """Tensor `t` as real numbers: a DequantizeLinear of the stored integers when it is
        quantized (per tensor), else the stored float tensor."""
        key = (t, layout)
        if key not in self.real:
            self.real[key] = self.dequantize(t, self.value(t, layout))
        return self.real[key]

    def dequantize(self, t: int, stored: str) -> str:
        """`stored` (tensor `t`'s values, any layout or shape) as real numbers."""
        tensor = self.sub.tensors[t]
        if not is_quantized(tensor):
            return stored
        assert tensor.quant is not None
        if tensor.quant.per_channel:
            raise ModelError(f"tensor {t} '{tensor.name}': per-channel activation")
        scale, zp = self.qparams(tensor.quant, tensor.dtype)
        return self.node("DequantizeLinear", [stored, scale, zp])

    def qparams(self, quant: Quant, dtype: np.dtype, scalar: bool = True) -> tuple[str, str]:
        """ONNX (scale, zero point) initializers for `quant`."""
        scale = quant.scale.astype(np.float32)
        zp = quant.zero_point.astype(dtype)
        if scalar:
            scale, zp = scale.reshape(()), zp.reshape(())
        return self.const(scale, "scale"), self.const(zp, "zero_point")

    def real_const(self, data: np.ndarray, quant: Quant | None, axis: int, hint: str) -> str:
        """A constant operand (weights, bias) already in ONNX layout, as real numbers: a
        DequantizeLinear (per channel along `axis`) of the integer data when quantized."""
        stored = self.const(data, hint)
        if quant is None or data.dtype.kind == "f":
            return stored
        if quant.per_channel:
            scale, zp = self.qparams(quant, data.dtype, scalar=False)
            return self.node("DequantizeLinear", [stored, scale, zp], axis=axis)
        scale, zp = self.qparams(quant, data.dtype)
        return self.node("DequantizeLinear", [stored, scale, zp])

    # -- writing tensors -------------------------------------------------------------
    def write(self, t: int, real: str, layout: str = NHWC) -> None:
        """Record float `real` as tensor `t`'s value in `layout`: a QuantizeLinear to its
        parameters when it is quantized."""
        name = self.tensor_name(t, layout)
        self.stored[(t, layout)] = self.quantize_as(t, real, name)

    def quantize_as(self, t: int, real: str, output: str | None = None) -> str:
        """Float `real` stored as tensor `t` is (QuantizeLinear to its parameters when it
        is quantized), for a value that still needs reshaping into `t`'s shape."""
        tensor = self.sub.tensors[t]
        if is_quantized(tensor):
            assert tensor.quant is not None
            scale, zp = self.qparams(tensor.quant, tensor.dtype)
            return self.node("QuantizeLinear", [real, scale, zp], output)
        return self.node("Identity", [real], output)

    def alias(self, t: int, stored: str, layout: str = NHWC) -> None:
        """Tensor `t` is `stored` (same integers or floats), e.g. after a reshape."""
        self.stored[(t, layout)] = stored

    # -- the model ---------------------------------------------------------------------
    def model(self) -> onnx.ModelProto:
        inputs = [self._value_info(i) for i in self.sub.inputs]
        outputs = []
        for i in self.sub.outputs:
            name = self.value(i, NHWC)
            if name != self.io_names[i]:  # an alias (reshape) or a repeated tensor
                self.node("Identity", [name], self.fresh(self.io_names[i]))
                name = self.nodes[-1].output[0]
            outputs.append(helper.make_tensor_value_info(
                name, helper.np_dtype_to_tensor_dtype(self.sub.tensors[i].dtype),
                list(self.sub.tensors[i].shape)))
        graph = helper.make_graph(self.nodes, self.name, inputs, outputs, self.initializers)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                 producer_name="tinyc tflite frontend")

    def _value_info(self, t: int) -> onnx.ValueInfoProto:
        tensor = self.sub.tensors[t]
        elem = helper.np_dtype_to_tensor_dtype(tensor.dtype)
        if elem == TensorProto.UNDEFINED:
            raise ModelError(f"input tensor {t}: unknown type")
        return helper.make_tensor_value_info(self.stored[(t, NHWC)], elem, list(tensor.shape))
