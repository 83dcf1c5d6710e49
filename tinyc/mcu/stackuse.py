"""Worst-case stack of `NAME_run` from the compiler's own frame sizes, without running it.

Every `.c` of a generated `out/` is compiled for the target as the harness builds it, with
`-fstack-usage -fcallgraph-info=su`: gcc writes, per translation unit, each function's frame
(the bytes its prologue reserves: saved registers, spills, locals, outgoing arguments) and
the calls it makes. The bound is the deepest chain of frames from `NAME_run` down the call
graph. It is an upper bound of what QEMU's painted stack measures (every call the code can
make, not only the ones one input takes), so a model under it is under it on any input.

Functions the build does not compile (newlib's `memcpy`, `memset`, libm's `expf`, libgcc's
`__aeabi_*`) have no frame in the graph: each is counted at `EXTERNAL_FRAME` bytes and
listed in the result (`externals`).

A tail call (`b.w` with an R_ARM_THM_JUMP24/19 relocation in the object's disassembly,
which `-ffunction-sections` gives every call between functions) leaves its caller's frame
before the callee runs, so the callee's chain replaces the caller's frame instead of
adding to it. The walk counts every path, so a kernel's cold path counts even where a
model never takes it (a float conv row's fused sigmoid, `expf`: KWS float on the M4, 544 B
bound, 504 B measured); where the compiler knows a path is never taken it leaves it out of
the generated C (`TINYC_QCONV_SHORT_ONLY`), and with it its frame.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tinyc.errors import VerifyError
from tinyc.mcu.cyclemodel import OBJDUMP
from tinyc.mcu.harness import GCC, OPT_FLAGS, _run, mcu_cflags
from tinyc.mcu.targets import Target

#: the stack `NAME_run` may use on every example model and target (issue #16)
STACK_LIMIT = 512
#: bytes counted for a call into a library function the build does not compile
EXTERNAL_FRAME = 32
USAGE_FLAGS = ("-fstack-usage", "-fcallgraph-info=su")

_NODE_TITLE = re.compile(r'node: \{ title: "([^"]+)"')
_NODE = re.compile(r'node: \{ title: "(?P<title>[^"]+)" label: "(?P<label>[^"]*)"')
_EDGE = re.compile(r'edge: \{ sourcename: "(?P<src>[^"]+)" targetname: "(?P<dst>[^"]+)"')
_FRAME = re.compile(r"\\n(?P<bytes>\d+) bytes \((?P<kind>[a-z, ]+)\)")
_SYMBOL = re.compile(r"^[0-9a-f]+ <([^>]+)>:$")
_TAIL_RELOC = re.compile(r"R_ARM_THM_JUMP(?:24|19)\s+(\S+)")


@dataclass(frozen=True)
class CallGraph:
    """Frames (bytes; None: not compiled here) and callees of every function seen."""

    frames: dict[str, int | None]
    calls: dict[str, tuple[str, ...]]
    #: (caller, callee) pairs called by a tail call: the caller's frame is gone by then
    tail_calls: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class StackBound:
    """The deepest chain under `NAME_run`: its bytes and its functions, outermost first."""

    bytes: int
    chain: tuple[str, ...]
    #: library functions on some chain, counted at EXTERNAL_FRAME bytes
    externals: tuple[str, ...]

    def describe(self, graph: CallGraph) -> str:
        """"640 B: m_run 40 -> f 72 => g 136 ..." (`=>`: a tail call, the caller's frame
        left before it; static functions without their file name)."""
        text = f"{self.bytes} B: "
        for i, name in enumerate(self.chain):
            frame = graph.frames.get(name)
            if i:
                text += " => " if (self.chain[i - 1], name) in graph.tail_calls else " -> "
            text += f"{name.rsplit(':', 1)[-1]} {EXTERNAL_FRAME if frame is None else frame}"
        return text


def tail_calls_of(disassembly: str, titles: dict[str, str]) -> set[tuple[str, str]]:
    """(caller, callee) of every tail call in `objdump -dr` text; `titles` maps a symbol to
    its call-graph title (a static function's title carries its file name)."""
    found: set[tuple[str, str]] = set()
    caller = None
    for line in disassembly.splitlines():
        head = _SYMBOL.match(line)
        if head:
            caller = titles.get(head[1], head[1])
            continue
        reloc = _TAIL_RELOC.search(line)
        if reloc and caller is not None:
            found.add((caller, titles.get(reloc[1], reloc[1])))
    return found


def parse_callgraph(texts: list[str],
                    tail_calls: frozenset[tuple[str, str]] = frozenset()) -> CallGraph:
    """The union of gcc's `.ci` files (VCG text). A dynamic frame is an error: the bound
    would not hold."""
    frames: dict[str, int | None] = {}
    calls: dict[str, list[str]] = {}
    for text in texts:
        for match in _NODE.finditer(text):
            frame = _FRAME.search(match["label"])
            if frame is not None and "dynamic" in frame["kind"]:
                raise VerifyError(f"{match['title']}: the frame is dynamic (a VLA or alloca)")
            if frame is not None or match["title"] not in frames:
                frames[match["title"]] = int(frame["bytes"]) if frame else None
        for match in _EDGE.finditer(text):
            callees = calls.setdefault(match["src"], [])
            if match["dst"] not in callees:
                callees.append(match["dst"])
    return CallGraph(frames, {k: tuple(v) for k, v in calls.items()}, tail_calls)


def deepest(graph: CallGraph, root: str) -> StackBound:
    """The deepest chain of frames from `root`; recursion is an error (unbounded)."""
    memo: dict[str, tuple[int, tuple[str, ...]]] = {}
    active: set[str] = set()

    def walk(name: str) -> tuple[int, tuple[str, ...]]:
        if name in memo:
            return memo[name]
        if name in active:
            raise VerifyError(f"{name} is recursive: its stack has no static bound")
        active.add(name)
        frame = graph.frames.get(name)
        own = EXTERNAL_FRAME if frame is None else frame
        best: tuple[int, tuple[str, ...]] = (own, (name,))
        for callee in graph.calls.get(name, ()):
            depth, chain = walk(callee)
            if (name, callee) not in graph.tail_calls:
                depth += own
            if depth > best[0]:
                best = (depth, (name, *chain))
        memo[name] = best
        active.discard(name)
        return memo[name]

    if root not in graph.frames:
        raise VerifyError(f"{root} is not in the call graph")
    total, chain = walk(root)
    externals = tuple(sorted(n for n in memo if graph.frames.get(n) is None))
    return StackBound(total, chain, externals)


def callgraph_of(out_dir: Path, target: Target,
                 opt_flags: tuple[str, ...] = OPT_FLAGS) -> CallGraph:
    """Compile every `out_dir/*.c` as the harness does, with gcc's stack usage output."""
    if not target.is_mcu:
        raise VerifyError(f"target '{target.name}' is not a Cortex-M core")
    # in the model's directory, by relative paths: gcc's .su/.ci name the files as given,
    # so they are the same wherever the directory is (and a compile cache can reuse them)
    flags = mcu_cflags(target, [Path(".")], opt_flags, USAGE_FLAGS)
    texts = []
    tails: set[tuple[str, str]] = set()
    with tempfile.TemporaryDirectory(prefix="tinyc-stack-") as tmp:
        for src in sorted(out_dir.glob("*.c")):
            obj = Path(tmp).resolve() / f"{src.stem}.o"
            _run([GCC, *flags, "-c", src.name, "-o", str(obj)], f"compiling {src.name}",
                 cwd=out_dir)
            text = obj.with_suffix(".ci").read_text()
            texts.append(text)
            # a static function's title is "<source as gcc was given it>:<symbol>"
            titles = {t.split(":", 1)[1]: t for t in _NODE_TITLE.findall(text)
                      if t.startswith(f"{src.name}:")}
            dump = _run([OBJDUMP, "-dr", str(obj)], f"disassembling {obj.name}").stdout
            tails |= tail_calls_of(dump, titles)
    return parse_callgraph(texts, frozenset(tails))


def run_stack_bound(out_dir: Path, cname: str, target: Target) -> tuple[StackBound, CallGraph]:
    """The static bound of `cname_run`'s stack in `out_dir` built for `target`."""
    graph = callgraph_of(out_dir, target)
    return deepest(graph, f"{cname}_run"), graph
