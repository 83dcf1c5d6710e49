"""The low-precision dtypes in the IR: numpy <-> C storage, the text IR (inline data and
the .npz), and Cast's `saturate` normalization."""

from __future__ import annotations

from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

from tinyc.ir import DType
from tinyc.ir.text import load_text_ir, parse_graph, print_graph, save_text_ir
from tinyc.ir.types import from_storage, to_storage

LOWP = [d for d in DType if d.is_lowp]


@pytest.mark.parametrize("dtype", LOWP, ids=[d.value for d in LOWP])
def test_storage_round_trip(dtype: DType) -> None:
    assert DType.from_numpy(dtype.np) is dtype
    assert dtype.np.itemsize == dtype.storage.itemsize
    if dtype.is_float:
        codes = np.arange(2 ** (8 * dtype.np.itemsize), dtype=dtype.storage.np)
        data = codes.view(dtype.np)
    else:
        info = ml_dtypes.iinfo(dtype.np)
        data = np.arange(int(info.min), int(info.max) + 1).astype(dtype.np)
    stored = to_storage(data, dtype)
    assert stored.dtype == dtype.storage.np
    back = from_storage(stored, dtype)
    assert back.dtype == dtype.np and back.tobytes() == data.tobytes()


def test_sub_byte_integers_are_sign_extended() -> None:
    data = np.array([-8, -1, 7], ml_dtypes.int4)
    assert to_storage(data, DType.I4).tolist() == [-8, -1, 7]
    assert data.view(np.uint8).tolist() == [8, 15, 7]  # ml_dtypes' own bytes differ


def test_text_ir_round_trip(tmp_path: Path) -> None:
    src = """graph @g(%x: f32[4]) -> (%y: f8e4m3fn[4], %z: i4[3], %w: bf16[2]) {
  %z = const i4[3] dense<[-8, 7, 1]>
  %w = const bf16[2] dense<[0.5, -3.0]>
  %y = Cast(%x) {saturate = 0, to = "f8e4m3fn"} : f8e4m3fn[4]
  return %y, %z, %w
}
"""
    g = parse_graph(src)
    text = print_graph(g)
    assert print_graph(parse_graph(text)) == text
    assert "saturate = 0" in text
    save_text_ir(g, tmp_path / "g.tir", inline_limit=0)  # constants go to the .npz
    assert (tmp_path / "g.npz").exists()
    g2 = load_text_ir(tmp_path / "g.tir")
    assert print_graph(g2) == text
    w = [c for c in g2.constants if c.name == "w"][0]
    assert w.const.dtype == ml_dtypes.bfloat16 and w.const.tolist() == [0.5, -3.0]


def test_text_ir_rejects_out_of_range_i4() -> None:
    src = "graph @g() -> (%z: i4[1]) {\n  %z = const i4[1] dense<[8]>\n  return %z\n}\n"
    with pytest.raises(Exception, match="out of range"):
        parse_graph(src)
