"""What an op's `emit` sees: pointers to its tensors, a place for constant tables, and the
statement stream of `NAME_run`.

Pointers are C expressions: graph inputs and outputs are the `NAME_run` parameters,
constants are `static const` arrays, everything else is an offset into the arena union
(typed member access, so no pointer punning is needed). The memory plan decides the
offsets: a view (Reshape & co.) points at its source's bytes, so copying it is a no-op, and
a node the plan runs in place finds its overlap and scratch through `overlap`/`scratch`,
and a node whose op asks for a workspace finds it through `workspace`.
With an external arena the union is the caller's, reached through the `tinyc_arena` pointer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinyc.backend.cliterals import c_array_body, c_scalar, check_c_ints, needs_math_h
from tinyc.backend.cnames import Namespace, c_comment
from tinyc.backend.writer import CWriter
from tinyc.ir import DType, Graph, Node, Value
from tinyc.memory import ArenaPlan
from tinyc.ops.registry import BlockStream, PlaneStream

#: arena union member per element type
ARENA_MEMBER = {
    DType.F32: "f32",
    DType.F64: "f64",
    DType.F16: "u16",
    DType.I8: "i8",
    DType.U8: "u8",
    DType.I16: "i16",
    DType.U16: "u16",
    DType.I32: "i32",
    DType.U32: "u32",
    DType.I64: "i64",
    DType.U64: "u64",
    DType.BOOL: "u8",
}
# low-precision types live in the arena as their C storage type (tinyc_lowp.h)
ARENA_MEMBER.update({d: ARENA_MEMBER[d.storage] for d in DType if d.is_lowp})


class EmitContext:
    def __init__(
        self,
        graph: Graph,
        plan: ArenaPlan,
        name: str,
        arena: str = "static",
        names: Namespace | None = None,
        pack_weights: bool = True,
    ) -> None:
        self.graph = graph
        #: whether dense int8 convs may take packed records (`--weight-layout speed`)
        self.pack_weights = pack_weights
        #: the target's kernel variants, which the plan's workspaces were sized for
        self.kernel_dirs = plan.kernel_dirs
        self.plan = plan
        self.name = name
        #: how the arena union is reached: a static object, or the caller's via a pointer
        self.arena_ref = "tinyc_arena->" if arena == "external" else "tinyc_arena."
        self._node_index = {id(node): i for i, node in enumerate(graph.nodes)}
        self.families: set[str] = set()
        self.uses_math = False
        #: optional kernel paths some node needs (tinyc.ops.qwork.QCONV_GENERAL); a model
        #: without one gets the switch leaving it out (generate.py `_model_switches`)
        self.kernel_paths: set[str] = set()
        self.body = CWriter()
        self.tables = CWriter()
        #: NAME.c's file-scope identifiers (generate_c reserves the runtime's in it)
        self.names = names if names is not None else Namespace()
        self._const_names: dict[int, str] = {}
        self._io_names: dict[int, str] = {}
        for i, value in enumerate(graph.inputs):
            self._io_names.setdefault(id(value), f"input{i}")
        for i, value in enumerate(graph.outputs):
            self._io_names.setdefault(id(value), f"output{i}")
        self._tables_cache: dict[tuple[str, str], str] = {}
        #: id(constant) -> C name and bytes of its packed form (int4 weights)
        self._packed_names: dict[int, str] = {}
        self.packed_bytes: dict[int, int] = {}

    # -- naming ----------------------------------------------------------------------
    def symbol(self, hint: str) -> str:
        """A new file-scope identifier `tinyc_<hint>`, safe and unique (cnames.Namespace)."""
        return self.names.claim(hint, "tinyc_")

    # -- tensors ---------------------------------------------------------------------
    def ptr(self, value: Value) -> str:
        """A C expression pointing at the first element of `value`, typed by its dtype."""
        io = self._io_names.get(id(value))
        if io is not None:
            return io
        if value.const is not None:
            return self._const_array(value)
        itemsize = value.dtype.itemsize
        home = self.plan.homes.get(value.name)
        if home is not None:  # a view of a caller's buffer
            buf, offset = home
            assert offset % itemsize == 0
            return buf if offset == 0 else f"({buf} + {offset // itemsize})"
        return self._arena_ptr(value.dtype, self.plan.offsets[value.name])

    def _arena_ptr(self, dtype: DType, offset: int) -> str:
        assert offset % dtype.itemsize == 0
        return f"(&{self.arena_ref}{ARENA_MEMBER[dtype]}[{offset // dtype.itemsize}])"

    def _location(self, value: Value) -> tuple[str, int] | None:
        """(memory space, byte offset) of a non-constant value."""
        if value.const is not None:
            return None
        io = self._io_names.get(id(value))
        if io is not None:
            return io, 0
        if value.name in self.plan.homes:
            return self.plan.homes[value.name]
        return "arena", self.plan.offsets[value.name]

    def is_view(self, part: Value, whole: Value, offset: int = 0) -> bool:
        """True when `part`'s bytes already are `whole`'s bytes at `offset` (the plan made
        it a view), so copying one into the other must be skipped."""
        a, b = self._location(part), self._location(whole)
        return a is not None and b is not None and a == (b[0], b[1] + offset)

    # -- in-place execution ------------------------------------------------------------
    def overlap(self, node: Node) -> BlockStream | PlaneStream | None:
        """The overlap the plan runs `node` with (its output over an input), or None:
        the op must then call its streaming kernel, with `scratch(node)`."""
        return self.plan.overlaps.get(self._node_index[id(node)])

    def scratch(self, node: Node, dtype: DType = DType.F32) -> str:
        """Pointer to the scratch the plan reserved for `node`'s overlapping kernel."""
        index = self._node_index[id(node)]
        if index not in self.plan.scratch:
            return "NULL"
        return self._arena_ptr(dtype, self.plan.scratch[index])

    def workspace(self, node: Node, dtype: DType = DType.I8) -> str:
        """Pointer to the workspace the plan reserved for `node` (`OpDef.workspace` bytes,
        live while the node runs), or NULL when its op asked for none."""
        index = self._node_index[id(node)]
        if index not in self.plan.workspace:
            return "NULL"
        return self._arena_ptr(dtype, self.plan.workspace[index])

    def const_ptr(self, value: Value) -> str:
        """The `static const` array of a constant, even when it is also a graph output."""
        return self._const_array(value)

    def _const_array(self, value: Value) -> str:
        known = self._const_names.get(id(value))
        if known is not None:
            return known
        assert value.const is not None
        name = self.symbol(f"w_{value.name}")
        self.static_array(value.dtype, value.const, name)
        self._const_names[id(value)] = name
        return name

    def emits_plain(self, value: Value) -> bool:
        """Whether constant `value` is (or, not seen by the emitter, counts as) emitted in
        its own type: every constant but one only read in a packed form."""
        return id(value) in self._const_names or id(value) not in self._packed_names

    def packed_const(self, value: Value, packed: np.ndarray, hint: str) -> str:
        """The `static const uint8_t` array holding constant `value` in a packed form (int4
        weights, `tinyc.quant.packing`), emitted once; its bytes replace the value's in
        the weight count."""
        known = self._packed_names.get(id(value))
        if known is not None:
            return known
        name = self.symbol(hint)
        self.static_array(DType.U8, np.asarray(packed, np.uint8), name)
        self._packed_names[id(value)] = name
        self.packed_bytes[id(value)] = int(np.asarray(packed).size)
        return name

    def count_packed(self, value: Value, name: str, nbytes: int) -> None:
        """Count `nbytes` of another table (`name`) that holds constant `value` in a form
        of its own (tinyc.ops.qpack's records) as the value's: the value's plain bytes
        then count only if it is emitted too."""
        self._packed_names.setdefault(id(value), name)
        self.packed_bytes[id(value)] = self.packed_bytes.get(id(value), 0) + nbytes

    def static_array(self, dtype: DType, data: np.ndarray, name: str) -> None:
        data = np.asarray(data)
        if needs_math_h(data):
            self.uses_math = True
        self.tables.line(
            f"static const {dtype.c_type} {name}[{max(data.size, 1)}] TINYC_ALIGN(16) = {{"
        )
        self.tables.lines(["  " + row for row in c_array_body(data, dtype)])
        self.tables.line("};")

    # -- tables ----------------------------------------------------------------------
    def table(self, dtype: DType, values: Sequence[object] | np.ndarray, hint: str) -> str:
        """A `static const` array of small compile-time values (deduplicated)."""
        data = np.asarray(values, dtype=dtype.np)
        key = (dtype.value, ",".join(c_scalar(x, dtype) for x in data.reshape(-1).tolist()))
        if key in self._tables_cache:
            return self._tables_cache[key]
        name = self.symbol(hint)
        self.static_array(dtype, data, name)
        self._tables_cache[key] = name
        return name

    def params(self, ctype: str, init: str, hint: str) -> str:
        """A `static const` parameter struct; returns a pointer expression to it."""
        name = self.symbol(hint)
        check_c_ints(init, f"parameters of {hint}")
        self.tables.line(f"static const {ctype} {name} = {init};")
        return f"&{name}"

    def params_array(self, ctype: str, inits: Sequence[str], hint: str) -> str:
        """A `static const` array of parameter structs (one initializer each); returns
        its name."""
        name = self.symbol(hint)
        body = ", ".join(inits)
        check_c_ints(body, f"parameters of {hint}")
        self.tables.line(f"static const {ctype} {name}[{max(len(inits), 1)}] = {{{body}}};")
        return name

    def pointer_array(self, ctype: str, values: Sequence[Value], hint: str) -> str:
        """A `const ctype *const` array of the values' pointers (a kernel's list of inputs).
        When every one is a link-time address (the static arena, a constant table) it is a
        `static const` array in NAME_run (the arena is declared above it), else a compound
        literal, which takes a place in NAME_run's frame, on the stack of the call."""
        ptrs = ", ".join(self.ptr(v) for v in values)
        fixed = self.arena_ref == "tinyc_arena." and all(
            id(v) not in self._io_names and v.name not in self.plan.homes for v in values)
        if not fixed:
            return f"(const {ctype} *const[]){{{ptrs}}}"
        name = self.symbol(hint)
        self.body.line(f"static const {ctype} *const {name}[{len(values)}] = {{{ptrs}}};")
        return name

    # -- statements ------------------------------------------------------------------
    def call(self, family: str, fn: str, *args: object) -> None:
        self.families.add(family)
        self.body.line(f"{fn}({check_c_ints(', '.join(str(a) for a in args), fn)});")

    def checked_call(self, family: str, fn: str, *args: object) -> None:
        """A kernel call that returns non-zero on bad run-time data; `NAME_run` returns 1."""
        self.families.add(family)
        call = check_c_ints(", ".join(str(a) for a in args), fn)
        self.body.line(f"if ({fn}({call}) != 0) return 1;")

    def copy(self, dst: Value, src: Value) -> None:
        """memcpy `src` into `dst`; nothing when the plan made them the same bytes."""
        if dst.type.nbytes and not self.is_view(src, dst):
            self.body.line(f"memcpy({self.ptr(dst)}, {self.ptr(src)}, {dst.type.nbytes});")

    def comment(self, text: str) -> None:
        self.body.line(f"/* {c_comment(text)} */")
