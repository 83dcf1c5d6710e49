"""Compact storage of mostly-zero weights, and the per-layer dense-vs-sparse cost model.

Format (the C side is codegen/kernels/tinyc_sparse.h): a weight viewed as a `rows x cols`
matrix is stored as three arrays

- `values`: the kept entries, row by row, in the weight's dtype;
- `deltas`: uint8 (or uint16) column steps: a cursor starts at column 0 of each row and
  moves by `deltas[e]` before entry `e`. A gap wider than the type holds is bridged by
  *filler* entries (value 0, delta 255 or 65535), so a uint8 index costs one byte per
  entry and stays exact for any row length;
- `row_nnz`: uint16 entries per row (rows longer than 65535 entries stay dense).

Flash is `entries * (itemsize + index bytes) + 2 * rows` against `rows * cols * itemsize`
dense. Time comes from linear instruction models of the C kernels, fitted to Cortex-M4
counts measured under QEMU (`examples/bench_sparse.py` re-measures and prints the fit);
they rank dense against sparse for one layer, they are not a cycle-accurate simulator
(mean error on the measured layers: dense conv 4 % portable, 14-24 % Cortex-M4 kernels;
sparse conv 9 % float32, 4 % int8; Gemm <= 2 %).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from math import prod

import numpy as np

from tinyc.errors import UsageError
from tinyc.ir import DType, Node

MAX_ROW_ENTRIES = 65535
#: the convolution ops, dense and sparse, float and int8 (the rest are matrix products)
CONV_OPS = ("Conv", "SparseConv", "QConv", "SparseQConv")
INDEX_DTYPES = {8: np.uint8, 16: np.uint16}
POLICIES = ("auto", "flash", "speed", "always", "never")


@dataclass(frozen=True)
class Csr:
    """A `rows x cols` matrix in the delta-coded CSR form of the module docstring."""

    values: np.ndarray
    deltas: np.ndarray
    row_nnz: np.ndarray
    cols: int

    @property
    def rows(self) -> int:
        return int(self.row_nnz.size)

    @property
    def entries(self) -> int:
        return int(self.values.size)

    @property
    def index_bits(self) -> int:
        return 8 * self.deltas.dtype.itemsize

    @property
    def nbytes(self) -> int:
        return self.values.nbytes + self.deltas.nbytes + self.row_nnz.nbytes


def encode(matrix: np.ndarray, index_bits: int = 8) -> Csr | None:
    """CSR of a 2-D array; None when a row would need more than 65535 entries."""
    if index_bits not in INDEX_DTYPES:
        raise ValueError(f"index_bits must be 8 or 16, not {index_bits}")
    matrix = np.asarray(matrix)
    rows, cols = matrix.shape
    step = (1 << index_bits) - 1
    values: list[np.ndarray] = []
    deltas: list[np.ndarray] = []
    row_nnz = np.zeros(rows, dtype=np.int64)
    for r in range(rows):
        idx = np.flatnonzero(matrix[r])
        if idx.size == 0:
            continue
        gaps = np.diff(idx, prepend=0)
        gaps[0] = idx[0]
        fill = np.where(gaps > 0, (gaps - 1) // step, 0)
        last = gaps - fill * step
        n = int(idx.size + fill.sum())
        if n > MAX_ROW_ENTRIES:
            return None
        # entry j of the row becomes fill[j] fillers (delta `step`) then itself (delta last[j])
        count = fill + 1
        d = np.full(n, step, dtype=np.int64)
        v = np.zeros(n, dtype=matrix.dtype)
        ends = np.cumsum(count) - 1
        d[ends] = last
        v[ends] = matrix[r, idx]
        values.append(v)
        deltas.append(d)
        row_nnz[r] = n
    dtype = matrix.dtype
    vals = np.concatenate(values).astype(dtype) if values else np.zeros(0, dtype)
    dels = np.concatenate(deltas) if deltas else np.zeros(0, np.int64)
    return Csr(vals, dels.astype(INDEX_DTYPES[index_bits]), row_nnz.astype(np.uint16), cols)


def decode(values: np.ndarray, deltas: np.ndarray, row_nnz: np.ndarray, cols: int) -> np.ndarray:
    """The dense `rows x cols` matrix back (fillers land on zeros and stay zero)."""
    rows = int(row_nnz.size)
    out = np.zeros((rows, cols), dtype=values.dtype)
    counts = row_nnz.astype(np.int64)
    if int(counts.sum()) != values.size or values.size != deltas.size:
        raise ValueError("sparse weight: row_nnz, values and deltas disagree")
    if values.size == 0:
        return out
    row_of = np.repeat(np.arange(rows), counts)
    steps = deltas.astype(np.int64)
    csum = np.cumsum(steps)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    base = np.where(starts > 0, csum[np.maximum(starts - 1, 0)], 0)
    pos = csum - np.repeat(base, counts)
    if pos.min() < 0 or pos.max() >= cols:
        raise ValueError("sparse weight: a column index is out of range")
    keep = values != 0
    out[row_of[keep], pos[keep]] = values[keep]
    return out


def best_encoding(matrix: np.ndarray) -> Csr | None:
    """The smaller of the uint8 and uint16 index encodings (uint8 on a tie)."""
    options = [c for c in (encode(matrix, 8), encode(matrix, 16)) if c is not None]
    return min(options, key=lambda c: (c.nbytes, c.index_bits)) if options else None


# -- cost model --------------------------------------------------------------------------

#: instructions per unit for each kernel set, fitted by non-negative least squares to
#: Cortex-M4 instruction counts (QEMU -icount, arm-none-eabi-gcc -O2), see
#: examples/bench_sparse.py. "ref" is the portable dense kernels (also the model for the
#: host), "cortex-m4" the FPU-blocked dense kernels of codegen/kernels/cortex-m4/ (M4, M7,
#: M33); the sparse kernels are the portable ones in both. Units: a dense MAC per conv
#: class, an output element; for sparse conv a MAC (whole-plane taps separately, they run
#: four at a time), a stored entry (decode and window bounds), an output row a tap
#: touches, an output element; for sparse Gemm a stored entry and an output. The `q` units
#: are the same for the int8 kernels (their sparse conv decodes taps once per block of up
#: to 64 output pixels, so a stored entry is counted once per block).
#: the int8 sparse kernels are the portable ones on every target
_SPARSE_INT8 = {"qsconv_mac": 7.11, "qsconv_entry": 140.6, "qsconv_row": 12.36,
                "qsconv_out": 39.3, "qsgemm_entry": 8.0, "qsgemm_out": 66.5}

CYCLES: dict[str, dict[str, float]] = {
    "ref": {
        "conv_general_mac": 11.07, "conv_pointwise_mac": 32.91, "conv_depthwise_mac": 13.14,
        "conv_out": 39.65, "gemm_mac": 8.99, "gemm_out": 27.62,
        "sconv_mac": 6.64, "sconv_plane_mac": 3.9, "sconv_entry": 68.9, "sconv_row": 20.3,
        "sconv_out": 4.13, "sgemm_entry": 8.0, "sgemm_out": 26.5,
        "qconv_general_mac": 12.76, "qconv_pointwise_mac": 39.04, "qconv_depthwise_mac": 12.31,
        "qconv_out": 62.73, "qgemm_mac": 5.94, "qgemm_out": 75.25, **_SPARSE_INT8,
    },
    "cortex-m4": {
        "conv_general_mac": 2.67, "conv_pointwise_mac": 1.18, "conv_depthwise_mac": 2.65,
        "conv_out": 15.85, "gemm_mac": 3.09, "gemm_out": 0.0,
        "sconv_mac": 6.64, "sconv_plane_mac": 3.9, "sconv_entry": 68.9, "sconv_row": 20.3,
        "sconv_out": 4.13, "sgemm_entry": 8.0, "sgemm_out": 26.5,
        "qconv_general_mac": 2.28, "qconv_pointwise_mac": 0.9, "qconv_depthwise_mac": 1.51,
        "qconv_out": 54.65, "qgemm_mac": 2.09, "qgemm_out": 2.12, **_SPARSE_INT8,
    },
}  # fmt: skip


def kernel_set(target: str) -> str:
    """Which CYCLES table models `target`'s dense kernels."""
    from tinyc.mcu.targets import kernel_dirs

    return "cortex-m4" if "cortex-m4" in kernel_dirs(target) else "ref"


@dataclass(frozen=True)
class Geometry:
    """What the cost model needs of a layer: the weight as rows x cols, how many times it
    is applied (batch rows), and for Conv the output plane, the conv class and which
    kernel tap, if any, covers the whole output plane with no offset."""

    conv: bool
    rows: int
    cols: int
    batch: int = 1
    out_pixels: int = 1
    out_h: int = 1
    conv_class: str = ""
    plane_tap: int = -1
    taps: int = 1
    #: int8 kernels (QConv, QGemm and their sparse forms): the `q`-prefixed cost units
    int8: bool = False


def geometry(node: Node, weight_shape: tuple[int, ...]) -> Geometry:
    """Rows x cols view of the weight of a Conv/Gemm/MatMul (or their sparse forms)."""
    y = node.outputs[0]
    int8 = node.op.startswith(("Q", "SparseQ"))
    if node.op not in CONV_OPS:
        rows_out = y.type.numel // max(weight_shape[0], 1)
        return Geometry(False, weight_shape[0], weight_shape[1], rows_out, int8=int8)
    x = node.inputs[0]
    assert x is not None
    a = node.attrs
    kernel = tuple(weight_shape[2:])
    spatial = y.shape[2:]
    group = a["group"]
    if group > 1 and weight_shape[1] == 1:
        cls = "depthwise"
    elif prod(kernel) == 1 and group == 1:
        cls = "pointwise"
    else:
        cls = "general"
    n_sp = len(spatial)
    plane_tap = -1
    if x.shape[2:] == spatial and all(s == 1 for s in a["strides"]):
        # the tap whose offset k * dilation - pad_begin is 0 on every axis
        idx = []
        for i in range(n_sp):
            k, rem = divmod(a["pads"][i], a["dilations"][i])
            idx.append(k if rem == 0 and k < kernel[i] else -1)
        if all(i >= 0 for i in idx):
            plane_tap = 0
            for i, k in zip(idx, kernel, strict=True):
                plane_tap = plane_tap * k + i
    return Geometry(True, weight_shape[0], prod(weight_shape[1:]), y.shape[0], prod(spatial),
                    spatial[0] if n_sp == 2 else 1, cls, plane_tap, prod(kernel), int8)


def _prefixed(geo: Geometry, units: dict[str, float]) -> dict[str, float]:
    return {f"q{k}": v for k, v in units.items()} if geo.int8 else units


def dense_features(geo: Geometry) -> dict[str, float]:
    """The dense kernel's cost units for one layer."""
    outs = geo.batch * geo.rows * geo.out_pixels
    if geo.conv:
        units = {f"conv_{geo.conv_class}_mac": outs * geo.cols, "conv_out": outs}
    else:
        units = {"gemm_mac": geo.batch * geo.rows * geo.cols, "gemm_out": geo.batch * geo.rows}
    return _prefixed(geo, units)


def sparse_features(geo: Geometry, matrix: np.ndarray, entries: int) -> dict[str, float]:
    """The sparse kernel's cost units for one layer with weight `matrix` (rows x cols)."""
    nonzeros = int(np.count_nonzero(matrix))
    if not geo.conv:
        return _prefixed(geo, {"sgemm_entry": geo.batch * entries,
                               "sgemm_out": geo.batch * geo.rows})
    if geo.int8:  # no whole-plane batching; taps decoded once per block of <= 64 pixels
        blocks = -(-geo.out_pixels // 64)
        return {
            "qsconv_mac": geo.batch * nonzeros * geo.out_pixels,
            "qsconv_entry": geo.batch * entries * blocks,
            "qsconv_row": geo.batch * nonzeros * geo.out_h,
            "qsconv_out": geo.batch * geo.rows * geo.out_pixels,
        }
    plane = 0
    if geo.plane_tap >= 0:
        plane = int(np.count_nonzero(matrix.reshape(geo.rows, -1, geo.taps)[:, :, geo.plane_tap]))
    return {
        "sconv_mac": geo.batch * (nonzeros - plane) * geo.out_pixels,
        "sconv_plane_mac": geo.batch * plane * geo.out_pixels,
        "sconv_entry": geo.batch * entries,
        "sconv_row": geo.batch * (nonzeros - plane) * geo.out_h,
        "sconv_out": geo.batch * geo.rows * geo.out_pixels,
    }


def estimate(features: dict[str, float], kernels: str = "ref") -> int:
    table = CYCLES[kernels]
    return int(sum(table[k] * v for k, v in features.items()))


@dataclass(frozen=True)
class LayerCost:
    """Dense and sparse cost of one layer and the choice the policy made."""

    layer: str
    op: str
    weight: str
    shape: tuple[int, ...]
    density: float
    entries: int
    index_bits: int
    dense_flash: int
    sparse_flash: int
    dense_cycles: int
    sparse_cycles: int
    dense_macs: int
    sparse_macs: int
    choice: str

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["shape"] = list(self.shape)
        return d


def choose(dense_flash: int, sparse_flash: int, dense_cycles: int, sparse_cycles: int,
           policy: str, max_slowdown: float = 1.5) -> bool:
    """True for sparse. `auto`: smaller and at most `max_slowdown` times slower, or faster
    and no bigger; `flash`: smaller; `speed`: faster; `always` / `never`."""
    if policy not in POLICIES:
        raise UsageError(f"sparse policy must be one of {', '.join(POLICIES)}, not '{policy}'")
    smaller = sparse_flash < dense_flash
    faster = sparse_cycles < dense_cycles
    if policy == "always":
        return True
    if policy == "never":
        return False
    if policy == "flash":
        return smaller
    if policy == "speed":
        return faster
    return (smaller and sparse_cycles <= max_slowdown * dense_cycles) or (
        faster and sparse_flash <= dense_flash
    )


def layer_cost(node: Node, matrix: np.ndarray, weight_shape: tuple[int, ...], weight: str,
               csr: Csr | None, policy: str, max_slowdown: float = 1.5,
               kernels: str = "ref") -> LayerCost:
    """Cost of one layer whose weight, viewed as rows x cols (rows = outputs), is `matrix`."""
    geo = geometry(node, weight_shape)
    itemsize = matrix.dtype.itemsize
    nonzeros = int(np.count_nonzero(matrix))
    d_cyc = estimate(dense_features(geo), kernels)
    d_macs = geo.batch * geo.rows * geo.cols * geo.out_pixels
    if csr is None:
        s_flash, s_cyc, s_macs, entries, bits = 0, 0, 0, 0, 0
        sparse = False
    else:
        s_flash, entries, bits = csr.nbytes, csr.entries, csr.index_bits
        s_cyc = estimate(sparse_features(geo, matrix, entries), kernels)
        s_macs = geo.batch * nonzeros * geo.out_pixels
        sparse = choose(matrix.size * itemsize, s_flash, d_cyc, s_cyc, policy, max_slowdown)
    return LayerCost(
        layer=node.name or node.outputs[0].name,
        op=node.op.removeprefix("Sparse"),
        weight=weight,
        shape=tuple(weight_shape),
        density=nonzeros / matrix.size if matrix.size else 1.0,
        entries=entries,
        index_bits=bits,
        dense_flash=matrix.size * itemsize,
        sparse_flash=s_flash,
        dense_cycles=d_cyc,
        sparse_cycles=s_cyc,
        dense_macs=d_macs,
        sparse_macs=s_macs,
        choice="sparse" if sparse else "dense",
    )


def weight_matrix(node: Node) -> tuple[np.ndarray, tuple[int, ...]] | None:
    """A dense Conv/Gemm/MatMul/QConv/QGemm's constant weight as rows x cols (rows =
    outputs), with its original shape; None when it has no constant float32/int8 weight."""
    w = node.input(1)
    if w is None or w.const is None or w.dtype not in (DType.F32, DType.I8):
        return None
    data = w.const
    if node.op in ("Conv", "QConv"):
        return data.reshape(data.shape[0], -1), tuple(data.shape)
    if node.op == "QGemm" and w.type.rank == 2:
        return data, tuple(data.shape)
    if node.op == "Gemm" and w.type.rank == 2:
        mat = data if node.attrs["transB"] else data.T
        return np.ascontiguousarray(mat), tuple(mat.shape)
    if node.op == "MatMul" and w.type.rank == 2:
        mat = np.ascontiguousarray(data.T)
        return mat, tuple(mat.shape)
    return None
