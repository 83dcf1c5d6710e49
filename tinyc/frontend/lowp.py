"""bfloat16 arithmetic through float32: an op outside `LOWP_OPS` with bfloat16 operands is
imported as Cast(bf16 -> f32) on those operands, the op on float32, and Cast(f32 -> bf16)
on its float results (other results, e.g. indices or bools, pass through an Identity).

That is how an MCU computes bfloat16 anyway (no bfloat16 arithmetic unit), and it is what
ONNX's reference does through ml_dtypes: each op computes in float32 and rounds its result
to bfloat16 once. The float8/float4 and sub-byte types are not promoted: ONNX defines
arithmetic on them only through QuantizeLinear/DequantizeLinear and Cast."""

from __future__ import annotations

from typing import TYPE_CHECKING

import onnx
from onnx import helper

from tinyc.ir import DType
from tinyc.ops.cast import LOWP_OPS

if TYPE_CHECKING:
    from tinyc.frontend.onnx import _Importer

_DEFAULT = ("", "ai.onnx")
#: matrix products: ONNX's reference sums them in bfloat16 and a float32 sum rounds
#: differently (the backend tests' attention cases, plain or expanded, differ by one
#: bfloat16 step), so they stay refused
_NOT_PROMOTED = frozenset({"Attention", "MatMul", "Gemm"})


def promote_bf16(imp: _Importer, proto: onnx.NodeProto) -> bool:
    """Import `proto` through float32 when it computes on bfloat16; False otherwise."""
    if proto.domain not in _DEFAULT or proto.op_type in LOWP_OPS | _NOT_PROMOTED:
        return False
    bf16 = [n for n in proto.input if n in imp.values and imp.values[n].dtype is DType.BF16]
    if not bf16:
        return False
    label = proto.name or (proto.output[0] if proto.output else proto.op_type)
    wide: dict[str, str] = {}
    for name in dict.fromkeys(bf16):
        wide[name] = f"{label}__{name}__f32"
        imp._import_node(helper.make_node("Cast", [name], [wide[name]], name=wide[name],
                                          to=onnx.TensorProto.FLOAT))
    copy = onnx.NodeProto()
    copy.CopyFrom(proto)
    del copy.input[:]
    copy.input.extend(wide.get(n, n) for n in proto.input)
    del copy.output[:]
    copy.output.extend(f"{o}__f32" if o else "" for o in proto.output)
    for out, tmp in zip(proto.output, copy.output, strict=True):
        if out in imp.declared:
            imp.declared[tmp] = imp.declared[out]
    imp._import_node(copy)
    for out, tmp in zip(proto.output, copy.output, strict=True):
        if not out:
            continue
        if imp.values[tmp].dtype is DType.F32:
            back = helper.make_node("Cast", [tmp], [out], name=out, to=onnx.TensorProto.BFLOAT16)
        else:
            back = helper.make_node("Identity", [tmp], [out], name=out)
        imp._import_node(back)
    return True
