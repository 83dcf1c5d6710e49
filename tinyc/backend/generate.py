"""The C emitter: IR + arena plan -> `NAME.h`, `NAME.c` and the kernel files they use.

`NAME.c` holds only the provenance comment, `static const` weights and parameter tables,
the arena (one static union, typed members so kernels never pun pointers) and `NAME_run`, a
flat sequence of kernel calls in the memory plan's schedule. Kernels are real C files under
`codegen/`, copied into the output only when a model uses them. The same IR and flags give
byte-identical files. All of them are written in tinyc's source names (`tinyc_conv.c`,
`tinyc_conv2d_f32`, `TINYC_ALIGN`); `prefix.prefix_files` then makes every file and name
the model's own (`NAME_tinyc_conv.c`, ...), so that several models link into one image.

With `arena="external"` the static union disappears: the header declares its type
(`NAME_arena_t`) and `NAME_run_with_arena(void *arena, ...)` takes the caller's buffer of
`NAME_ARENA_SIZE` bytes aligned to `NAME_ARENA_ALIGN`, reached through a typed pointer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

from tinyc import __version__
from tinyc.backend.cliterals import c_scalar
from tinyc.backend.cnames import (
    MAX_IDENTIFIER,
    Namespace,
    ReservedNames,
    c_comment,
    check_model_name,
    model_identifiers,
)
from tinyc.backend.context import ARENA_MEMBER, EmitContext
from tinyc.backend.prefix import prefix_files
from tinyc.backend.writer import CWriter
from tinyc.errors import UsageError
from tinyc.ir import DType, Graph, Node
from tinyc.mcu.targets import kernel_dirs
from tinyc.memory import ArenaPlan
from tinyc.ops import get_op
from tinyc.ops.qwork import QBAND_HALO, QCONV_GENERAL, QCONV_TRIPLES, QCONV_UNPACKED
from tinyc.quant import semantics


def codegen_root() -> Path:
    """`codegen/` of the source tree, or its copy packaged inside the wheel."""
    packaged = Path(str(resources.files("tinyc"))) / "codegen"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "codegen"


def node_comment(node: Node) -> str:
    """The comment before a node's code in `NAME_run` (before `c_comment` makes it safe):
    `tinyc validate --profile` reads the node back from it."""
    ins = ", ".join("_" if v is None else f"%{v.name}" for v in node.inputs)
    outs = ", ".join(f"%{v.name}" for v in node.outputs)
    return f"{node.op} {node.name}: {outs} = ({ins})"


#: identifiers NAME.c declares besides the ones it claims: the static arena, and the lap hook
#: `tinyc validate --profile` inserts (tinyc.mcu.harness.instrument)
_FIXED_IDENTIFIERS = ("tinyc_arena", "tinyc_mcu_lap")
#: in codegen/: the identifiers its headers build with `##`, one per line
#: (scripts/update_pasted_identifiers.py writes it; a test keeps it current)
PASTED_IDENTIFIERS = "pasted_identifiers.txt"


@cache
def reserved_names() -> ReservedNames:
    """Every identifier and file name the runtime and kernel files in `codegen/` take, which
    model names and generated symbols must stay clear of."""
    root = codegen_root()
    files = sorted(p for p in root.rglob("*") if p.suffix in (".c", ".h"))
    pasted = (root / PASTED_IDENTIFIERS).read_text().split()
    return ReservedNames.from_c_files(files, [*_FIXED_IDENTIFIERS, *pasted])


@dataclass
class GeneratedC:
    """The output directory's contents: file name -> text."""

    name: str
    files: dict[str, str] = field(default_factory=dict)
    arena_size: int = 0
    weight_bytes: int = 0

    def write(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for fname, text in sorted(self.files.items()):
            (directory / fname).write_text(text)


ARENA_MODES = ("static", "external")
#: `--weight-layout`: speed (packed int16 records for the Cortex-M4 dense tiles) or flash
WEIGHT_LAYOUTS = ("speed", "flash")

#: kernel families whose header includes other families' headers (for their records)
_HEADER_DEPS = {"inplace": ("conv", "gemm"), "qconv_w4": ("qconv",), "qfc_w4": ("qfc",),
                "gemm_f16w": ("gemm",), "qelementwise16": ("qelementwise", "qpool")}
#: kernel families built on other families' kernels: those are copied (and linked) too
_FAMILY_DEPS = {"qboundary": ("qconv", "qfc"), "qdwconv_w4": ("qconv",), "conv_f16w": ("conv",),
                "convnd_f16w": ("convnd",), "inplace_f16w": ("inplace",),
                "qband": ("qconv", "qelementwise")}


def generate_c(
    graph: Graph,
    plan: ArenaPlan,
    name: str,
    command: str = "",
    target: str = "generic",
    arena: str = "static",
    weight_layout: str = "speed",
) -> GeneratedC:
    if arena not in ARENA_MODES:
        raise UsageError(f"arena mode {arena!r}: use one of {ARENA_MODES}")
    if weight_layout not in WEIGHT_LAYOUTS:
        raise UsageError(f"weight layout {weight_layout!r}: use one of {WEIGHT_LAYOUTS}")
    cname = check_model_name(name, reserved_names())
    # NAME.c's identifiers get `NAME_` in front (prefix.py): leave room for it
    names = Namespace(reserved_names().identifiers, MAX_IDENTIFIER - len(cname) - 1)
    names.reserve(*model_identifiers(cname, len(graph.inputs), len(graph.outputs)))
    ctx = EmitContext(graph, plan, cname, arena, names,
                      pack_weights=weight_layout == "speed")
    for index in plan.node_order(len(graph.nodes)):
        node = graph.nodes[index]
        ctx.comment(node_comment(node))
        get_op(node.op).emit(node, ctx)
    _emit_output_copies(graph, ctx)
    for family in sorted(ctx.families):
        ctx.families.update(_FAMILY_DEPS.get(family, ()))

    out = GeneratedC(cname, arena_size=plan.size)
    # a constant read only packed counts its packed bytes (if also read plain: both)
    out.weight_bytes = sum(
        ctx.packed_bytes.get(id(c), 0) + (c.type.nbytes if ctx.emits_plain(c) else 0)
        for c in graph.constants if c.uses)
    files = {
        f"{cname}.h": _header(graph, plan, cname, command, arena),
        f"{cname}.c": _source(graph, plan, ctx, cname, command, arena),
    }
    _copy_kernels(ctx.families, target, files)
    files["tinyc_rt.h"] = _model_switches(graph, ctx, files["tinyc_rt.h"])
    # every tinyc_* file and name becomes NAME_tinyc_*: several models link together
    out.files = prefix_files(cname, files)
    return out


def _emit_output_copies(graph: Graph, ctx: EmitContext) -> None:
    """Outputs not written by a node (graph inputs, constants, repeated outputs) get a copy."""
    written: set[int] = {id(out) for node in graph.nodes for out in node.outputs}
    seen: set[int] = set()
    for i, value in enumerate(graph.outputs):
        direct = id(value) in written and id(value) not in seen
        seen.add(id(value))
        if direct:
            continue
        ctx.comment(f"output{i} = %{value.name}")
        if value.type.nbytes:
            # a constant that is also an output: copy from its table, not from itself
            src = ctx.const_ptr(value) if value.const is not None else ctx.ptr(value)
            ctx.body.line(f"memcpy(output{i}, {src}, {value.type.nbytes});")


def _signature(graph: Graph, cname: str, arena: str = "static") -> str:
    params = [f"const {v.dtype.c_type} *input{i}" for i, v in enumerate(graph.inputs)]
    params += [f"{v.dtype.c_type} *output{i}" for i, v in enumerate(graph.outputs)]
    if arena == "external":
        return f"int {cname}_run_with_arena({', '.join(['void *arena', *params])})"
    return f"int {cname}_run({', '.join(params) or 'void'})"


def _arena_members(plan: ArenaPlan) -> list[str]:
    """The arena union's typed members, one per element type, all over the same bytes."""
    members = sorted(set(ARENA_MEMBER.items()), key=lambda kv: kv[1])
    done: set[str] = set()
    lines = []
    for dtype, member in members:
        if member not in done:
            done.add(member)
            lines.append(f"{dtype.c_type} {member}[{max(plan.size // dtype.itemsize, 1)}];")
    return lines


def _arena_align(plan: ArenaPlan) -> int:
    return max(16, plan.align)


def _provenance(graph: Graph, command: str) -> list[str]:
    lines = [f"/* Generated by tinyc {__version__}. Do not edit."]
    if command:
        lines.append(f" * Command: {c_comment(command)}")
    for key in sorted(graph.metadata):
        lines.append(f" * {c_comment(key)}: {c_comment(graph.metadata[key])}")
    lines.append(" */")
    return lines


#: how NAME.h explains low-precision interface buffers (see codegen/runtime/tinyc_lowp.h)
_LOWP_IO_NOTE = [
    " * Low-precision buffers hold one element per array entry, never packed: bf16 as its",
    " * bits in uint16_t, float8/float4 as bits in uint8_t (float4 in the low nibble), 4-",
    " * and 2-bit integers as their value (i4/i2 sign-extended int8_t, u4/u2 uint8_t).",
    " * ONNX packs 4-bit tensors two per byte; unpack them before the call.",
]


def _header(graph: Graph, plan: ArenaPlan, cname: str, command: str, arena: str) -> str:
    w = CWriter()
    upper = cname.upper()
    guard = f"{upper}_H"
    w.lines(_provenance(graph, command))
    w.lines([f"#ifndef {guard}", f"#define {guard}", "", "#include <stdint.h>", ""])
    w.line(f"#define {upper}_ARENA_SIZE {plan.size} /* activation RAM in bytes, planned */")
    w.line(f"#define {upper}_ARENA_ALIGN {_arena_align(plan)} /* its alignment in bytes */")
    w.line(f"#define {upper}_NUM_INPUTS {len(graph.inputs)}")
    w.line(f"#define {upper}_NUM_OUTPUTS {len(graph.outputs)}")
    for kind, values in (("INPUT", graph.inputs), ("OUTPUT", graph.outputs)):
        for i, v in enumerate(values):
            dims = "x".join(str(d) for d in v.shape) or "scalar"
            about = c_comment(f"{v.name}: {v.type} {dims}")
            w.line(f"#define {upper}_{kind}{i}_SIZE {v.type.numel} /* {about} */")
            q = v.type.quant
            if q is not None and len(q.scale) == 1:  # an int8 interface: real = s * (q - zp)
                w.line(f"#define {upper}_{kind}{i}_SCALE {c_scalar(q.scale[0], DType.F32)}")
                w.line(f"#define {upper}_{kind}{i}_ZERO_POINT {q.zero_point[0]}")
    w.line("")
    w.line("#ifdef __cplusplus")
    w.line('extern "C" {')
    w.line("#endif")
    w.line("")
    if arena == "external":
        w.line(f"/* The activation arena, owned by the caller: {upper}_ARENA_SIZE bytes aligned")
        w.line(f" * to {upper}_ARENA_ALIGN. Declaring it with this type (`static {cname}_arena_t")
        w.line(" * arena;`) keeps the typed accesses well-defined. Nothing in it needs to survive")
        w.line(" * between runs, so it may be shared with other code between inferences. */")
        w.line("typedef union {")
        w.lines(["  " + line for line in _arena_members(plan)])
        w.line(f"}} {cname}_arena_t;")
        w.line("")
    w.line("/* Runs one inference. Inputs, then outputs, in graph order; buffers must not")
    if any(v.dtype.is_lowp for v in [*graph.inputs, *graph.outputs]):
        w.line(" * overlap. Returns 0 on success, non-zero if run-time data is out of range.")
        w.lines([*_LOWP_IO_NOTE, " */"])
    else:
        w.line(" * overlap. Returns 0 on success, non-zero if run-time data is out of range. */")
    w.line(f"{_signature(graph, cname, arena)};")
    w.line("")
    w.line("#ifdef __cplusplus")
    w.line("}")
    w.line("#endif")
    w.line("")
    w.line(f"#endif /* {guard} */")
    return w.text()


def _source(
    graph: Graph, plan: ArenaPlan, ctx: EmitContext, cname: str, command: str, arena: str
) -> str:
    w = CWriter()
    w.lines(_provenance(graph, command))
    w.line(f'#include "{cname}.h"')
    w.line("")
    # INFINITY and NAN come from <math.h>: in weight tables (uses_math) or as kernel
    # arguments and parameters (an attribute such as Elu's alpha=inf)
    literals = ctx.tables.text() + ctx.body.text()
    if ctx.uses_math or re.search(r"\b(INFINITY|NAN)\b", literals):
        w.line("#include <math.h>")
    w.line("#include <string.h>")
    w.line("")
    w.line('#include "tinyc_rt.h"')
    for family in sorted(ctx.families):
        w.line(f'#include "tinyc_{family}.h"')
    w.line("")
    tables = ctx.tables.text().rstrip("\n")
    if tables:
        w.lines(tables.split("\n"))
        w.line("")
    if plan.size and arena == "static":
        with w.block("static union", tail=f"}} tinyc_arena TINYC_ALIGN({_arena_align(plan)});"):
            w.lines(_arena_members(plan))
        w.line("")
    with w.block(_signature(graph, cname, arena)):
        if arena == "external":
            w.line(f"{cname}_arena_t *const tinyc_arena = ({cname}_arena_t *)arena;")
            w.line("(void)tinyc_arena;")
        body = ctx.body.text().rstrip("\n")
        if body:
            w.lines(body.split("\n"))
        for i in range(len(graph.inputs)):
            w.line(f"(void)input{i};")
        for i in range(len(graph.outputs)):
            w.line(f"(void)output{i};")
        w.line("return 0;")
    return w.text()


#: where tinyc_rt.h takes the model switches
_SWITCHES_AFTER = "#define TINYC_RT_H\n"


def _model_switches(graph: Graph, ctx: EmitContext, rt_header: str) -> str:
    """tinyc_rt.h with the switches this model needs: TINYC_TFLITE when an integer op
    follows TFLite's arithmetic (the kernels leave TFLite's rounding out otherwise, so other
    models pay no flash for it); TINYC_QCONV_SHORT_ONLY when every dense int8 conv takes the
    column path's short form alone (tinyc.ops.qwork.dense_short_only): the kernel leaves
    out the paths no layer takes, and with them their frames from the stack bound
    (tinyc/mcu/stackuse.py counts every linked path); TINYC_QCONV_NO_TRIPLES when no dense
    int8 conv may take its 2 x 3 tile (tinyc.ops.qwork.dense_takes_triples): its code is
    left out; TINYC_QCONV_PACKED_ONLY when every dense int8 conv has packed records
    (tinyc.ops.qpack): the int8 tiles are left out; TINYC_QBAND_HALO when a band chain
    calls the M4's split-window depthwise (a direct call, which the stack bound follows)."""
    switches = []
    if any(semantics.is_tflite(n) for n in graph.nodes if semantics.ATTR in n.attrs):
        switches.append("TINYC_TFLITE")
    if "qconv" in ctx.families and QCONV_GENERAL not in ctx.kernel_paths:
        switches.append("TINYC_QCONV_SHORT_ONLY")
    if "qconv" in ctx.families and QCONV_TRIPLES not in ctx.kernel_paths:
        switches.append("TINYC_QCONV_NO_TRIPLES")
    if "qconv" in ctx.families and QCONV_UNPACKED not in ctx.kernel_paths:
        switches.append("TINYC_QCONV_PACKED_ONLY")
    if QBAND_HALO in ctx.kernel_paths:
        switches.append("TINYC_QBAND_HALO")
    assert _SWITCHES_AFTER in rt_header
    lines = "".join(f"#define {name} 1\n" for name in switches)
    return rt_header.replace(_SWITCHES_AFTER, _SWITCHES_AFTER + lines, 1)


def _copy_kernels(families: set[str], target: str, files: dict[str, str]) -> None:
    root = codegen_root()
    files["tinyc_rt.h"] = (root / "runtime" / "tinyc_rt.h").read_text()
    files["tinyc_act.h"] = (root / "kernels" / "tinyc_act.h").read_text()
    for family in sorted(families):
        for dep in _HEADER_DEPS.get(family, ()):
            files[f"tinyc_{dep}.h"] = (root / "kernels" / f"tinyc_{dep}.h").read_text()
        header = f"tinyc_{family}.h"
        files[header] = (root / "kernels" / header).read_text()
        # the target's most specific variant (cortex-m7 -> cortex-m4 -> ref, see tinyc.mcu)
        candidates = [root / "kernels" / d / f"tinyc_{family}.c" for d in kernel_dirs(target)]
        impl = next((c for c in candidates if c.exists()), candidates[-1])
        files[f"tinyc_{family}.c"] = impl.read_text()
    # other runtime headers (tinyc_fixedpoint.h), and a variant's private helper headers,
    # only when a copied file includes them
    private = [root / "kernels" / d for d in kernel_dirs(target)[:-1]]
    headers = [h for d in [root / "runtime", *private] for h in sorted(d.glob("*.h"))]
    added = True
    while added:  # to a fixed point: an added header may include another
        added = False
        for extra in headers:
            if extra.name not in files and any(f'"{extra.name}"' in t for t in files.values()):
                files[extra.name] = extra.read_text()
                added = True
