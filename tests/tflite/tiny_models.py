"""Tiny .tflite files built with the `tflite` package's flatbuffer builders: one unary float
operator y = op(x) on a [1, 4] tensor, for the error paths (an op the frontend refuses)."""

from __future__ import annotations

from pathlib import Path

import flatbuffers
import tflite
from tflite.BuiltinOperator import BuiltinOperator
from tflite.TensorType import TensorType


def _int_vector(b: flatbuffers.Builder, start, values: list[int]) -> int:  # noqa: ANN001
    start(b, len(values))
    for v in reversed(values):
        b.PrependInt32(v)
    return b.EndVector()


def _tensor(b: flatbuffers.Builder, name: str) -> int:
    shape = _int_vector(b, tflite.TensorStartShapeVector, [1, 4])
    label = b.CreateString(name)
    tflite.TensorStart(b)
    tflite.TensorAddShape(b, shape)
    tflite.TensorAddType(b, TensorType.FLOAT32)
    tflite.TensorAddBuffer(b, 0)
    tflite.TensorAddName(b, label)
    return tflite.TensorEnd(b)


def unary_model(path: Path, builtin: int, custom: str = "") -> Path:
    """Write a model whose only operator is `builtin` (or the custom op `custom`)."""
    b = flatbuffers.Builder(1024)
    custom_name = b.CreateString(custom) if custom else None
    tflite.OperatorCodeStart(b)
    tflite.OperatorCodeAddBuiltinCode(b, builtin)
    tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(builtin, 127))
    if custom_name is not None:
        tflite.OperatorCodeAddCustomCode(b, custom_name)
    code = tflite.OperatorCodeEnd(b)
    tensors = [_tensor(b, "x"), _tensor(b, "y")]
    op_in = _int_vector(b, tflite.OperatorStartInputsVector, [0])
    op_out = _int_vector(b, tflite.OperatorStartOutputsVector, [1])
    tflite.OperatorStart(b)
    tflite.OperatorAddOpcodeIndex(b, 0)
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
    g_in = _int_vector(b, tflite.SubGraphStartInputsVector, [0])
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
