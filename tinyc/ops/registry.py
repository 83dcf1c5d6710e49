"""The op registry: one `OpDef` per ONNX operator, looked up by (domain, op type).

An `OpDef` is the single definition of an operator inside tinyc:

- `attrs`: the attributes it accepts with their defaults (the frontend fills defaults in);
- `normalize`: turn opset-dependent forms into the one canonical IR form (constant inputs
  that are really attributes become attributes, negative axes are resolved, `auto_pad` becomes
  explicit pads);
- `infer`: output types from input types (static shapes only);
- `reference`: numpy semantics, the one source of truth for the interpreter, constant
  folding and the tests;
- `emit`: the C kernel call(s) that compute it (see `tinyc.backend.context`);
- `memory_behavior`: how its kernel may share bytes between inputs and outputs (views,
  in-place, streamed overlap), which the memory planner uses and its verifier re-checks;
- `workspace`: arena bytes its kernel needs as scratch while it runs (planned like a tensor
  live at that one step, passed to the kernel by `EmitContext.workspace`).

Ops register with the `register_op` decorator; `tinyc.ops` imports every family module so
the registry is complete after `import tinyc.ops`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from tinyc.errors import ModelError, UnsupportedError
from tinyc.ir import Node, TensorType
from tinyc.ir.limits import TARGET_INT_MAX

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext

REQUIRED = object()

#: Transient attribute through which the frontend hands `normalize` the static shape the
#: model declares for each output (None when unknown). Ops whose shape-like operand is a
#: run-time input (Reshape's shape, Slice's starts, TopK's k, ...) read it with
#: `declared_shape` to fix their kernels at compile time, and check the operand at run
#: time. The frontend removes it after `normalize`.
DECLARED_SHAPES = "_declared_shapes"


@dataclass(frozen=True)
class Attr:
    """An attribute: its kind ('int', 'float', 'ints', 'floats', 'string', 'strings',
    'tensor'), its default (REQUIRED when the attribute must be given) and the bounds a
    model's value (each element of a list) must keep, which the frontend checks before
    `normalize` runs.

    `legacy` holds the defaults of older opsets, as `(until, default)` pairs, oldest first:
    `default` applies to models whose opset is below `until` (Softmax's axis is 1 before
    opset 13, -1 from then on). The frontend fills in the default of the model's opset."""

    kind: str
    default: Any = REQUIRED
    min: int | float | None = None
    max: int | float | None = None
    legacy: tuple[tuple[int, Any], ...] = ()

    def default_for(self, opset: int) -> Any:
        """The default a model of `opset` gets (a fresh copy of a list default)."""
        value = next((d for until, d in self.legacy if opset < until), self.default)
        return list(value) if isinstance(value, list) else value

    def bounds(self) -> str:
        """The declared range in words, for error messages."""
        if self.min is not None and self.max is not None:
            return f"must be {self.min} to {self.max}"
        return f"must be >= {self.min}" if self.min is not None else f"must be <= {self.max}"


#: The bounds many ops share, declared once. Sliding windows (Conv, ConvTranspose, the
#: pools, DeformConv, Col2Im, MaxUnpool, ...): strides, dilations and kernel extents >= 1,
#: pads >= 0, all emitted into C as the target's int.
WINDOW_STEP = Attr("ints", [], min=1, max=TARGET_INT_MAX)
WINDOW_PADS = Attr("ints", [], min=0, max=TARGET_INT_MAX)
#: a channel group count (Conv's group, DeformConv's offset_group)
GROUP = Attr("int", 1, min=1, max=TARGET_INT_MAX)
#: a 0/1 switch (ceil_mode, count_include_pad, storage_order, keepdims, ...)
FLAG = Attr("int", 0, min=0, max=1)
#: a normalization's epsilon (a negative one takes the square root of a negative variance)
EPSILON = Attr("float", 1e-5, min=0.0)
#: a size or count the op needs >= 1 (blocksize, LpPool's p, RoiAlign's output size)
POSITIVE = Attr("int", REQUIRED, min=1, max=TARGET_INT_MAX)


@dataclass(frozen=True)
class Alias:
    """Input `input` is a view of output `output`: its bytes are output bytes
    `[offset, offset + input.nbytes)` (Reshape, Flatten, Squeeze, Unsqueeze, Identity and
    Dropout with offset 0; a contiguous Concat slice). When the planner grants it, the
    copy the op would emit is skipped (`EmitContext.copy` sees the same bytes)."""

    input: int = 0
    output: int = 0
    offset: int = 0


@dataclass(frozen=True)
class BlockStream:
    """Output 0 may overlap input `input` when the input dies at this node.

    The kernel walks `blocks` blocks in order. It reads all of input block b (`in_block`
    bytes each, contiguous) before it writes any of output block b (`out_block` bytes), and
    never reads a block below b again. So writes stay behind the unread input as long as
    `delta = out_offset - in_offset <= max_delta`: that is how far the writes may run ahead
    of the reads. Elementwise ops are one element per block (`max_delta == 0`: in place);
    depthwise conv is one channel per block and Gemm one row per block, both through
    `scratch` bytes of arena that hold the block being computed."""

    input: int
    blocks: int
    in_block: int
    out_block: int
    scratch: int = 0

    @property
    def max_delta(self) -> int | None:
        """Largest safe delta in bytes, or None when any delta is safe (one block)."""
        if self.blocks <= 1:
            return None
        if self.in_block >= self.out_block:
            return self.in_block - self.out_block
        return (self.blocks - 1) * (self.in_block - self.out_block)

    def permits(self, delta: int) -> bool:
        limit = self.max_delta
        return limit is None or delta <= limit


@dataclass(frozen=True)
class PlaneStream:
    """Output 0 may overlap input `input` (a convolution in NCHW, pixel by pixel).

    The input is `in_planes` planes of `pixels` elements, the output `out_planes` planes of
    the same pixels. The kernel writes output pixel p (of any plane) only once no later
    output needs input pixels <= p of any plane: a 1x1 conv reads every input plane at p
    into one pixel of `scratch` first; a stride-1 `same` conv holds computed rows back in
    `scratch` until the input rows they cover are dead. A write at (m, p) lands on input
    (m + q, p + r) for delta = (q * pixels + r) elements: safe when r == 0 (that input
    pixel is dead) or the planes cannot meet."""

    input: int
    pixels: int
    in_planes: int
    out_planes: int
    itemsize: int
    scratch: int = 0

    def permits(self, delta: int) -> bool:
        if delta % self.itemsize:
            return False
        q, r = divmod(delta // self.itemsize, self.pixels)
        return r == 0 or q <= -self.out_planes or q >= self.in_planes


#: what `OpDef.memory_behavior` returns: views first, then overlaps in preference order
MemoryBehavior = Alias | BlockStream | PlaneStream


def elementwise_inplace(node: Node, index: int) -> BlockStream:
    """Output 0 may overwrite input `index` element by element (same shape and dtype)."""
    y = node.outputs[0]
    return BlockStream(index, y.type.numel, y.dtype.itemsize, y.dtype.itemsize)


class OpDef:
    """Base of every operator definition. Subclasses override what they need."""

    name: ClassVar[str] = ""
    domain: ClassVar[str] = ""
    attrs: ClassVar[dict[str, Attr]] = {}
    #: False for ops whose result depends on more than their inputs (none so far).
    pure: ClassVar[bool] = True
    #: oldest default-domain opset whose form of this op `normalize` understands; models
    #: with an older opset are refused for this op (the frontend checks it)
    min_opset: ClassVar[int] = 11
    #: fold whenever the inputs allow, whatever the result's size up to
    #: ALWAYS_FOLD_MAX_BYTES (`folds_as_table`): the result is a table (a shape, a window,
    #: a filter bank) that would otherwise take as many arena bytes as it takes flash,
    #: plus the time to compute it
    always_fold: ClassVar[bool] = False

    def normalize(self, node: Node, opset: int) -> None:
        """Rewrite `node` in place into the canonical IR form (default: nothing to do)."""

    def infer(self, node: Node) -> list[TensorType]:
        raise NotImplementedError(f"{self.name}: no shape rule")

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        raise NotImplementedError(f"{self.name}: no reference semantics")

    def fold(self, node: Node) -> list[np.ndarray] | None:
        """Outputs computable at compile time, or None. Default: all inputs constant."""
        if all(v is None or v.const is not None for v in node.inputs):
            return self.reference(node, [None if v is None else v.const for v in node.inputs])
        return None

    def emit(self, node: Node, ctx: EmitContext) -> None:
        raise UnsupportedError(f"op {self.name} (node '{node.name}') has no C kernel")

    def macs(self, node: Node) -> int:
        """Multiply-accumulates per inference (0 for data movement)."""
        return 0

    def memory_behavior(self, node: Node) -> list[MemoryBehavior]:
        """How this node's kernel may share bytes between its inputs and outputs.

        Default: none, every output gets bytes of its own. An op declares only what its
        emitted kernel really supports for this node (dtype, attributes); the planner
        chooses which declarations to use and `tinyc.memory.verify` re-checks each one."""
        return []

    def workspace(self, node: Node, kernel_dirs: tuple[str, ...] | None = None) -> int:
        """Bytes of arena scratch this node's kernel needs while it runs (default none).

        The planner gives it a buffer live only at the node's step, aligned like any
        tensor and shared with nothing live then; the op's `emit` reaches it through
        `EmitContext.workspace`. Unlike an overlap's scratch it does not depend on the
        plan: the kernel always gets it. `kernel_dirs`: the target's kernel variants
        (`tinyc.mcu.targets.kernel_dirs`), for scratch only some variants use; None: the
        largest need of any variant."""
        return 0


#: the biggest result an `always_fold` op folds into a table regardless of its inputs'
#: size: bigger ones would not fit a microcontroller's flash, and take long to print
ALWAYS_FOLD_MAX_BYTES = 1 << 20


def folds_as_table(opdef: OpDef, out_bytes: int) -> bool:
    """Whether a node of `opdef` whose results take `out_bytes` folds even when that grows
    flash (the frontend's and fold-constants' exception to their growth limit)."""
    return opdef.always_fold and out_bytes <= ALWAYS_FOLD_MAX_BYTES


_REGISTRY: dict[tuple[str, str], OpDef] = {}


def register_op(cls: type[OpDef]) -> type[OpDef]:
    """Class decorator: register one instance of an `OpDef` under (domain, name)."""
    key = (cls.domain, cls.name)
    if key in _REGISTRY:
        raise RuntimeError(f"op {cls.name} registered twice")
    _REGISTRY[key] = cls()
    return cls


def get_op(op: str, domain: str = "") -> OpDef:
    try:
        return _REGISTRY[(domain, op)]
    except KeyError:
        raise UnsupportedError(f"unsupported op {op}") from None


def has_op(op: str, domain: str = "") -> bool:
    return (domain, op) in _REGISTRY


def registered_ops() -> list[OpDef]:
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


# -- small helpers shared by the op families ----------------------------------------------


def attr(node: Node, name: str) -> Any:
    return node.attrs[name]


def input_type(node: Node, index: int) -> TensorType:
    value = node.inputs[index]
    if value is None:
        raise ModelError(f"{node.op} node '{node.name}': input {index} is required")
    return value.type


def const_input(node: Node, index: int, what: str) -> np.ndarray:
    """The constant data of input `index`, or a clear error if it is computed at run time."""
    value = node.input(index)
    if value is None:
        raise ModelError(f"{node.op} node '{node.name}': missing {what} input")
    if value.const is None:
        raise UnsupportedError(
            f"{node.op} node '{node.name}': {what} must be a compile-time constant"
        )
    return value.const


def declared_shape(node: Node, index: int, what: str) -> tuple[int, ...]:
    """The static shape the model declares for output `index`; `what` names the run-time
    operand that keeps tinyc from computing it (UnsupportedError when nothing is declared)."""
    shapes = node.attrs.get(DECLARED_SHAPES) or []
    shape = shapes[index] if index < len(shapes) else None
    if shape is None:
        raise UnsupportedError(
            f"{node.op} node '{node.name}': {what} is only known at run time and the model "
            f"declares no static shape for output {index}"
        )
    return tuple(shape)


def declared_outputs(node: Node) -> int:
    """During `normalize`: how many outputs the model gives the node (Split, TopK, RNNs)."""
    return len(node.attrs.get(DECLARED_SHAPES) or []) or len(node.outputs)


def runtime_input(node: Node, index: int) -> bool:
    """True when optional input `index` is present and computed at run time."""
    value = node.input(index)
    return value is not None and value.const is None


def normalize_axis(axis: int, rank: int, node: Node) -> int:
    if not -rank <= axis < max(rank, 1):
        raise ModelError(f"{node.op} node '{node.name}': axis {axis} out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


#: Softmax, LogSoftmax and Hardmax: `axis` defaults to 1 before opset 13, -1 from then on
COERCED_AXIS_ATTRS = {"axis": Attr("int", -1, legacy=((13, 1),))}


def normalize_coerced_axis(node: Node, opset: int) -> None:
    """Softmax, LogSoftmax and Hardmax before opset 13 coerce their input to 2-D at `axis`,
    [prod(d[:axis]), prod(d[axis:])], and work along the second dimension. That form is
    recorded as `flatten=1`, unless at most one of d[axis:] exceeds 1: then it is the
    one-axis form of opset 13 on that dim, which every kernel and pass understands."""
    shape = input_type(node, 0).shape
    axis = normalize_axis(node.attrs["axis"], len(shape), node)
    node.attrs.pop("flatten", None)
    if opset < 13:
        wide = [i for i in range(axis, len(shape)) if shape[i] != 1]
        if len(wide) > 1:
            node.attrs["flatten"] = 1
        elif wide:
            axis = wide[0]
    node.attrs["axis"] = axis
