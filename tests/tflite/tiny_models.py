"""Tiny .tflite files built with the `tflite` package's flatbuffer builders: one unary
operator y = op(x), float on a [1, 4] tensor for the error paths (an op the frontend
refuses), or int8 with given quantization parameters (`Int8`) for the TFLite semantics."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import flatbuffers
import tflite
from tflite.BuiltinOperator import BuiltinOperator
from tflite.BuiltinOptions import BuiltinOptions
from tflite.TensorType import TensorType


def _int_vector(b: flatbuffers.Builder, start, values: list[int]) -> int:  # noqa: ANN001
    start(b, len(values))
    for v in reversed(values):
        b.PrependInt32(v)
    return b.EndVector()


@dataclass(frozen=True)
class Int8:
    """An int8 model's [1, 256] input and output parameters (scale, zero point), and those of
    a second input for a binary op."""

    x: tuple[float, int]
    y: tuple[float, int]
    b: tuple[float, int] | None = None


def _quantization(b: flatbuffers.Builder, scale: float, zero_point: int) -> int:
    tflite.QuantizationParametersStartScaleVector(b, 1)
    b.PrependFloat32(scale)
    scales = b.EndVector()
    tflite.QuantizationParametersStartZeroPointVector(b, 1)
    b.PrependInt64(zero_point)
    zero_points = b.EndVector()
    tflite.QuantizationParametersStart(b)
    tflite.QuantizationParametersAddScale(b, scales)
    tflite.QuantizationParametersAddZeroPoint(b, zero_points)
    return tflite.QuantizationParametersEnd(b)


def _tensor(b: flatbuffers.Builder, name: str, quant: tuple[float, int] | None = None) -> int:
    shape = _int_vector(b, tflite.TensorStartShapeVector, [1, 4] if quant is None else [1, 256])
    label = b.CreateString(name)
    params = None if quant is None else _quantization(b, *quant)
    tflite.TensorStart(b)
    tflite.TensorAddShape(b, shape)
    tflite.TensorAddType(b, TensorType.FLOAT32 if quant is None else TensorType.INT8)
    tflite.TensorAddBuffer(b, 0)
    tflite.TensorAddName(b, label)
    if params is not None:
        tflite.TensorAddQuantization(b, params)
    return tflite.TensorEnd(b)


def unary_model(path: Path, builtin: int, custom: str = "", int8: Int8 | None = None,
                leaky_alpha: float | None = None) -> Path:
    """Write a model whose only operator is `builtin` (or the custom op `custom`); float, or
    int8 with `int8`'s parameters (two inputs when it has `b`); a LEAKY_RELU takes
    `leaky_alpha`."""
    b = flatbuffers.Builder(1024)
    custom_name = b.CreateString(custom) if custom else None
    tflite.OperatorCodeStart(b)
    tflite.OperatorCodeAddBuiltinCode(b, builtin)
    tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(builtin, 127))
    if custom_name is not None:
        tflite.OperatorCodeAddCustomCode(b, custom_name)
    code = tflite.OperatorCodeEnd(b)
    tensors = [_tensor(b, "x", int8 and int8.x), _tensor(b, "y", int8 and int8.y)]
    inputs = [0]
    if int8 is not None and int8.b is not None:
        tensors.append(_tensor(b, "b", int8.b))
        inputs.append(2)
    op_in = _int_vector(b, tflite.OperatorStartInputsVector, inputs)
    op_out = _int_vector(b, tflite.OperatorStartOutputsVector, [1])
    opts = None
    if leaky_alpha is not None:
        tflite.LeakyReluOptionsStart(b)
        tflite.LeakyReluOptionsAddAlpha(b, leaky_alpha)
        opts = tflite.LeakyReluOptionsEnd(b)
    tflite.OperatorStart(b)
    tflite.OperatorAddOpcodeIndex(b, 0)
    if opts is not None:
        tflite.OperatorAddBuiltinOptionsType(b, BuiltinOptions.LeakyReluOptions)
        tflite.OperatorAddBuiltinOptions(b, opts)
    tflite.OperatorAddInputs(b, op_in)
    tflite.OperatorAddOutputs(b, op_out)
    op = tflite.OperatorEnd(b)
    tflite.SubGraphStartTensorsVector(b, len(tensors))
    for t in reversed(tensors):
        b.PrependUOffsetTRelative(t)
    tensor_vec = b.EndVector()
    tflite.SubGraphStartOperatorsVector(b, 1)
    b.PrependUOffsetTRelative(op)
    op_vec = b.EndVector()
    g_in = _int_vector(b, tflite.SubGraphStartInputsVector, inputs)
    g_out = _int_vector(b, tflite.SubGraphStartOutputsVector, [1])
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, tensor_vec)
    tflite.SubGraphAddOperators(b, op_vec)
    tflite.SubGraphAddInputs(b, g_in)
    tflite.SubGraphAddOutputs(b, g_out)
    subgraph = tflite.SubGraphEnd(b)
    tflite.BufferStart(b)
    empty = tflite.BufferEnd(b)
    tflite.ModelStartSubgraphsVector(b, 1)
    b.PrependUOffsetTRelative(subgraph)
    subgraphs = b.EndVector()
    tflite.ModelStartOperatorCodesVector(b, 1)
    b.PrependUOffsetTRelative(code)
    codes = b.EndVector()
    tflite.ModelStartBuffersVector(b, 1)
    b.PrependUOffsetTRelative(empty)
    buffers = b.EndVector()
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, codes)
    tflite.ModelAddSubgraphs(b, subgraphs)
    tflite.ModelAddBuffers(b, buffers)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    path.write_bytes(bytes(b.Output()))
    return path


def relu_model(path: Path) -> Path:
    return unary_model(path, BuiltinOperator.RELU)
