"""Read a .tflite flatbuffer (with the `tflite` package's generated accessors) into plain
records: tensors with their data and quantization parameters, and operators with their
builtin name and options table. Everything after this module sees numpy and dataclasses,
never flatbuffer objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tflite
from tflite.BuiltinOperator import BuiltinOperator
from tflite.TensorType import TensorType

from tinyc.errors import ModelError, UnsupportedError, UsageError

#: TFLite tensor type -> numpy dtype (the types tinyc's IR holds)
DTYPES: dict[int, np.dtype] = {
    TensorType.FLOAT32: np.dtype(np.float32), TensorType.INT8: np.dtype(np.int8),
    TensorType.UINT8: np.dtype(np.uint8), TensorType.INT16: np.dtype(np.int16),
    TensorType.INT32: np.dtype(np.int32), TensorType.INT64: np.dtype(np.int64),
    TensorType.BOOL: np.dtype(np.bool_), TensorType.FLOAT16: np.dtype(np.float16),
}
_TYPE_NAMES = {v: k for k, v in vars(TensorType).items() if not k.startswith("_")}
_OP_NAMES = {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}


@dataclass(frozen=True)
class Quant:
    """A tensor's affine quantization: real = scale * (q - zero_point), per channel along
    `axis` when `scale` has more than one entry."""

    scale: np.ndarray
    zero_point: np.ndarray
    axis: int

    @property
    def per_channel(self) -> bool:
        return self.scale.size > 1


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    #: the constant's data (shape `shape`), None for activations and graph inputs
    data: np.ndarray | None
    quant: Quant | None


@dataclass
class Operator:
    index: int
    #: builtin name as TFLite spells it ("CONV_2D"), or "CUSTOM:<code>"
    name: str
    inputs: list[int]
    outputs: list[int]
    #: the builtin options table (flatbuffer), read by the op converters
    options: object | None = field(repr=False, default=None)


@dataclass
class Subgraph:
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]
    description: str


def read_tflite(path: Path) -> Subgraph:
    """The model's single subgraph, or a one-line error (UsageError for a missing file,
    ModelError for a broken one, UnsupportedError for control flow)."""
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    data = path.read_bytes()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelError(f"{path}: not a TFLite flatbuffer (no 'TFL3' identifier)")
    try:
        model = tflite.Model.GetRootAsModel(data, 0)
        if model.SubgraphsLength() != 1:
            raise UnsupportedError(
                f"{path}: {model.SubgraphsLength()} subgraphs; tinyc compiles TFLite models "
                "with exactly one (no control flow)")
        return _subgraph(model, data)
    except (UnsupportedError, ModelError):
        raise
    except Exception as exc:  # a truncated or corrupt flatbuffer raises many types
        raise ModelError(f"{path}: unreadable TFLite flatbuffer ({type(exc).__name__})") from None


def _subgraph(model: tflite.Model, data: bytes) -> Subgraph:
    g = model.Subgraphs(0)
    tensors = [_tensor(model, g.Tensors(i), i, data) for i in range(g.TensorsLength())]
    ops = [_operator(model, g.Operators(i), i) for i in range(g.OperatorsLength())]
    desc = (model.Description() or b"").decode("utf-8", "replace")
    for op in ops:
        bad = [i for i in op.inputs + op.outputs if not -1 <= i < len(tensors)]
        if bad:
            raise ModelError(f"operator {op.index} ({op.name}): tensor index {bad[0]} out of "
                             f"range ({len(tensors)} tensors)")
    inputs = _ints(g.InputsLength(), g.InputsAsNumpy)
    outputs = _ints(g.OutputsLength(), g.OutputsAsNumpy)
    if not outputs or any(not 0 <= i < len(tensors) for i in inputs + outputs):
        raise ModelError(f"graph inputs {inputs} or outputs {outputs}: no output, or a "
                         f"tensor index out of range ({len(tensors)} tensors)")
    return Subgraph(tensors, ops, inputs, outputs, desc)


def _ints(length: int, vector) -> list[int]:  # noqa: ANN001
    """A flatbuffer int vector as a list (its numpy accessor returns 0 when it is empty)."""
    return [int(i) for i in vector()] if length else []


def _tensor(model: tflite.Model, t: tflite.Tensor, index: int, data: bytes) -> Tensor:
    name = (t.Name() or b"").decode("utf-8", "replace")
    dtype = DTYPES.get(t.Type())
    if dtype is None:
        raise UnsupportedError(
            f"tensor {index} '{name}': type {_TYPE_NAMES.get(t.Type(), t.Type())} is not supported")
    shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
    if any(d < 0 for d in (t.ShapeSignatureAsNumpy() if t.ShapeSignatureLength() else ())[1:]):
        raise UnsupportedError(f"tensor {index} '{name}': dynamic shape")
    raw = _buffer_bytes(model, t.Buffer(), data)
    values = None
    if raw:
        count = int(np.prod(shape, dtype=np.int64))
        if len(raw) != count * dtype.itemsize:
            raise ModelError(f"tensor {index} '{name}': {len(raw)} data bytes for shape {shape}")
        values = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    return Tensor(index, name, shape, dtype, values,
                  _checked(_quant(t.Quantization()), shape, f"tensor {index} '{name}'"))


def _checked(quant: Quant | None, shape: tuple[int, ...], what: str) -> Quant | None:
    """`quant` when it is well formed: finite positive scales, one zero point per scale, a
    per-channel axis that exists and has one scale per channel."""
    if quant is None:
        return None
    if quant.zero_point.size != quant.scale.size:
        raise ModelError(f"{what}: {quant.scale.size} scales, {quant.zero_point.size} "
                         "zero points")
    if not np.all(np.isfinite(quant.scale)) or not np.all(quant.scale > 0):
        raise ModelError(f"{what}: quantization scale not finite and positive")
    if quant.per_channel and not (0 <= quant.axis < len(shape)
                                  and shape[quant.axis] == quant.scale.size):
        raise ModelError(f"{what}: {quant.scale.size} scales along axis {quant.axis} of "
                         f"shape {list(shape)}")
    return quant


def _buffer_bytes(model: tflite.Model, index: int, data: bytes) -> bytes:
    if index <= 0 or index >= model.BuffersLength():
        return b""
    buf = model.Buffers(index)
    if buf.Offset() > 1:  # models over 2 GB keep data after the flatbuffer
        return data[buf.Offset(): buf.Offset() + buf.Size()]
    if buf.DataLength() == 0:
        return b""
    return buf.DataAsNumpy().tobytes()


def _quant(q: tflite.QuantizationParameters | None) -> Quant | None:
    if q is None or q.ScaleLength() == 0:
        return None
    scale = np.asarray(q.ScaleAsNumpy(), dtype=np.float32)
    zp = (np.asarray(q.ZeroPointAsNumpy(), dtype=np.int64) if q.ZeroPointLength()
          else np.zeros(scale.shape, np.int64))
    return Quant(scale, zp, int(q.QuantizedDimension()))


def _operator(model: tflite.Model, op: tflite.Operator, index: int) -> Operator:
    code = model.OperatorCodes(op.OpcodeIndex())
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    name = _OP_NAMES.get(builtin, f"builtin {builtin}")
    if builtin == BuiltinOperator.CUSTOM:
        name = "CUSTOM:" + (code.CustomCode() or b"").decode("utf-8", "replace")
    return Operator(index, name, _ints(op.InputsLength(), op.InputsAsNumpy),
                    _ints(op.OutputsLength(), op.OutputsAsNumpy), op.BuiltinOptions())
