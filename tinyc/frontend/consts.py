"""`--const NAME=VALUE`: a graph input whose value the user knows becomes a constant.

Exported models sometimes take as a run-time input what a firmware always feeds the same
value (a voice-activity model's sample rate, tested by `If(sr == 16000, ...)`). Bound at
import, everything computed from it folds, and an `If` on it imports only the branch
taken. VALUE is a number (a rank-0 or one-element input), a comma list (a 1-D input) or a
`.npy` file; it takes the input's declared element type, and must fit its shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from tinyc.errors import UsageError


@dataclass(frozen=True)
class ConstBinding:
    """One `--const`: the input's name, VALUE as given, and the array of a `.npy` VALUE."""

    name: str
    text: str
    array: np.ndarray | None = None


def parse_const_bindings(specs: Sequence[str]) -> dict[str, ConstBinding]:
    """`NAME=VALUE` strings from the command line (a `.npy` VALUE is read here)."""
    out: dict[str, ConstBinding] = {}
    for spec in specs:
        name, sep, text = spec.partition("=")
        if not sep or not name or not text:
            raise UsageError(f"bad --const '{spec}': expected NAME=VALUE (a number, a comma "
                             "list or a .npy file)")
        if name in out:
            raise UsageError(f"--const {name} is given twice")
        array = _read_npy(name, Path(text)) if text.endswith(".npy") else None
        out[name] = ConstBinding(name, text, array)
    return out


def _read_npy(name: str, path: Path) -> np.ndarray:
    if not path.is_file():
        raise UsageError(f"--const {name}: no such file: {path}")
    try:
        array = np.load(path, allow_pickle=False)
    except Exception as exc:  # numpy raises several unrelated types
        raise UsageError(f"--const {name}: {path} is not a .npy file ({type(exc).__name__})"
                         ) from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
        raise UsageError(f"--const {name}: {path} does not hold a numeric array")
    return array


def bind_input(binding: ConstBinding, vi: onnx.ValueInfoProto,
               shape: tuple[int, ...] | None = None) -> np.ndarray:
    """The constant that replaces graph input `vi` (of a supported element type): its
    declared type, its declared shape (or the `--shape` binding `shape`)."""
    ttype = vi.type.tensor_type
    dtype = np.dtype(helper.tensor_dtype_to_np_dtype(ttype.elem_type))
    dims: list[int | None] | None = list(shape) if shape is not None else None
    if dims is None and ttype.HasField("shape"):
        dims = [d.dim_value if d.HasField("dim_value") else None for d in ttype.shape.dim]
    where = f"--const {binding.name}"
    if binding.array is not None:
        values = binding.array
        if dims is not None and (values.ndim != len(dims) or any(
                d is not None and d != n for d, n in zip(dims, values.shape, strict=True))):
            raise UsageError(f"{where}: {binding.text} holds shape {list(values.shape)}, the "
                             f"input is {_shown(dims)}")
        return _convert(values, dtype, where)
    values = np.asarray([_number(t.strip(), where) for t in binding.text.split(",")])
    if dims is None:  # no declared shape: a number is a scalar, a list is 1-D
        dims = [] if values.size == 1 and "," not in binding.text else [values.size]
    if all(d == 1 for d in dims) and values.size == 1:
        return _convert(values.reshape([1] * len(dims)), dtype, where)
    if len(dims) == 1 and dims[0] in (None, values.size):
        return _convert(values, dtype, where)
    raise UsageError(f"{where}: {values.size} value(s) for an input of shape {_shown(dims)} "
                     "(a number binds a one-element input, a comma list a 1-D one; give a "
                     ".npy file otherwise)")


def model_feeds(model: str | Path, names: Sequence[str], inputs: Sequence[np.ndarray],
                bindings: dict[str, ConstBinding],
                shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """Inputs for the original model file (onnxruntime): the compiled graph's inputs
    `names` fed `inputs`, and the `--const` values of the inputs that became constants."""
    feeds = dict(zip(names, inputs, strict=True))
    if bindings:
        graph = onnx.load(str(model), load_external_data=False).graph
        feeds.update({vi.name: bind_input(bindings[vi.name], vi, shapes.get(vi.name))
                      for vi in graph.input if vi.name in bindings})
    return feeds


def _shown(dims: Sequence[int | None]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"


def _number(text: str, where: str) -> float | int | bool:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"{where}: '{text}' is not a number") from None


def _convert(values: np.ndarray, dtype: np.dtype, where: str) -> np.ndarray:
    """`values` as `dtype`, refusing what the type cannot hold exactly (3.5 or 300 for an
    int8 input, 2 for a bool)."""
    if dtype.kind in "biu":
        as_float = values.astype(np.float64)
        if not np.all(np.isfinite(as_float)) or np.any(as_float != np.round(as_float)):
            raise UsageError(f"{where}: the input is {dtype.name}, the value is not an integer")
        lo, hi = (0, 1) if dtype.kind == "b" else (np.iinfo(dtype).min, np.iinfo(dtype).max)
        ints = values.astype(object) if values.dtype.kind in "biu" else as_float
        if values.size and (min(ints.reshape(-1)) < lo or max(ints.reshape(-1)) > hi):
            raise UsageError(f"{where}: a value is out of range for the input's type "
                             f"{dtype.name}")
    return values.astype(dtype)
