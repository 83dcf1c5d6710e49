"""Liveness: which bytes each tensor needs, shared with whom, and from which step to which.

Storages. Ops declare views with `Alias` (Reshape, Flatten, Squeeze, Unsqueeze, Identity,
Dropout; a Concat input that is a contiguous slice of its output). A union-find with byte
offsets groups values into *storages*: every member sits at a fixed offset inside its
storage, so a view costs no bytes and no copy. A merge is refused unless one side is only
its own value and views of it (otherwise two unrelated tensors could be made to share
bytes), and unless at most one side is a caller buffer. A storage holding a graph input or
output lives in that caller buffer (its *home*); every other storage is placed in the arena.

Lifetimes. Over a schedule (a permutation of the graph's nodes), a storage is live from the
first step that produces one of its members to the last step that touches one (both ends
inclusive, so a node's inputs and outputs are live together).

Overlaps. A node may declare `BlockStream`/`PlaneStream` (its kernel can write its output
over an input as long as the writes stay behind the reads). The planner may use it when the
input's storage dies at that node and both storages are plain (just the value and its
views); the kernel then needs `scratch` bytes at that one step, planned like a tensor.

Workspace. A node whose op asks for `OpDef.workspace` bytes (a kernel that stages part of
a tensor, e.g. the float-boundary int8 kernels) gets a buffer of its own live only at that
node's step, whatever the plan; unlike overlap scratch it never depends on a choice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tinyc.ir import Graph, Node, Value
from tinyc.ops import get_op
from tinyc.ops.registry import Alias, BlockStream, PlaneStream

Overlap = BlockStream | PlaneStream
#: least alignment of a node workspace (a kernel may keep int32, float or double there)
WORKSPACE_ALIGN = 8


@dataclass(frozen=True)
class BufferReq:
    """One block of arena bytes to place: `size` bytes live from step `first` to `last`."""

    name: str
    size: int
    first: int
    last: int
    align: int

    def overlaps_in_time(self, other: BufferReq) -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass
class Storage:
    """Values sharing one block of bytes; `members` maps value name -> byte offset."""

    name: str
    members: dict[str, int]
    size: int
    align: int
    #: "" for the arena, else the caller buffer ("input0", "output1") holding it
    home: str = ""
    #: indices (into graph.nodes) of the nodes producing a member / touching a member
    producers: set[int] = field(default_factory=set)
    touchers: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class OverlapChoice:
    """A node whose output storage `dst` may overlap its input storage `src`."""

    node: int
    behavior: Overlap
    src: str
    dst: str


@dataclass
class Storages:
    """The storages of a graph and the overlap declarations the planner may use."""

    graph: Graph
    items: list[Storage]
    of_value: dict[str, Storage]
    #: per node index, the overlaps its op declares that are usable, in preference order
    choices: dict[int, list[OverlapChoice]]
    #: per node index, the workspace bytes its kernel needs (only nodes that need some)
    workspaces: dict[int, int] = field(default_factory=dict)
    #: the plan's alignment (workspaces get at least `WORKSPACE_ALIGN`)
    align: int = 16

    @property
    def arena(self) -> list[Storage]:
        return [s for s in self.items if not s.home]

    def by_name(self) -> dict[str, Storage]:
        return {s.name: s for s in self.items}


class _Class:
    """Union-find class during construction: member value -> offset, plus extent."""

    def __init__(self, value: Value, home: str) -> None:
        self.members: dict[int, tuple[Value, int]] = {id(value): (value, 0)}
        self.size = value.type.nbytes
        self.home = home

    def offset(self, value: Value) -> int:
        return self.members[id(value)][1]

    def pure_for(self, value: Value) -> bool:
        """True when the class is `value` and views of it (nothing outside its bytes)."""
        return self.offset(value) == 0 and self.size == value.type.nbytes


def _io_homes(graph: Graph) -> dict[int, str]:
    homes: dict[int, str] = {}
    for i, v in enumerate(graph.inputs):
        homes.setdefault(id(v), f"input{i}")
    for i, v in enumerate(graph.outputs):
        homes.setdefault(id(v), f"output{i}")
    return homes


def _merge(classes: dict[int, _Class], x: Value, y: Value, offset: int) -> None:
    """Put x's bytes at `offset` inside y's bytes, when that is safe (see module doc)."""
    cx, cy = classes[id(x)], classes[id(y)]
    if cx is cy or (cx.home and cy.home):
        return
    if offset < 0 or offset + x.type.nbytes > y.type.nbytes or offset % x.dtype.itemsize:
        return
    if cx.pure_for(x):
        inner, outer, shift = cx, cy, cy.offset(y) + offset
    elif cy.pure_for(y):
        inner, outer, shift = cy, cx, cx.offset(x) - offset
    else:
        return
    if shift < 0 or shift + inner.size > outer.size:
        return
    if inner.home and (shift != 0 or inner.size != outer.size):
        return  # a caller buffer cannot grow to hold the other side
    for key, (value, off) in inner.members.items():
        outer.members[key] = (value, off + shift)
        classes[key] = outer
    outer.home = outer.home or inner.home


def build_storages(graph: Graph, align: int = 16,
                   kernel_dirs: tuple[str, ...] | None = None) -> Storages:
    """Group the graph's values into storages and collect the usable overlap choices."""
    homes = _io_homes(graph)
    classes: dict[int, _Class] = {}
    for value in graph.inputs:
        classes[id(value)] = _Class(value, homes[id(value)])
    for node in graph.nodes:
        for out in node.outputs:
            classes.setdefault(id(out), _Class(out, homes.get(id(out), "")))
    behaviors = {id(n): get_op(n.op).memory_behavior(n) for n in graph.nodes}
    for node in graph.nodes:
        for beh in behaviors[id(node)]:
            if not isinstance(beh, Alias):
                continue
            x = node.input(beh.input)
            if x is None or x.const is not None or id(x) not in classes:
                continue
            if beh.offset % align == 0:  # a slice must start as aligned as any tensor
                _merge(classes, x, node.outputs[beh.output], beh.offset)

    index = {id(n): i for i, n in enumerate(graph.nodes)}
    unique: dict[int, _Class] = {}
    for cls in classes.values():
        unique.setdefault(id(cls), cls)
    items: list[Storage] = []
    of_value: dict[str, Storage] = {}
    order = {id(v): i for i, v in enumerate(graph.values())}
    for cls in sorted(unique.values(), key=lambda c: min(order[k] for k in c.members)):
        members = sorted(cls.members.values(), key=lambda m: (m[1], order[id(m[0])]))
        # named after the earliest value that spans the whole storage
        spanning = [v for v, off in members if off == 0 and v.type.nbytes == cls.size]
        root = min(spanning or [members[0][0]], key=lambda v: order[id(v)])
        st = Storage(
            name=root.name,
            members={v.name: off for v, off in members},
            size=cls.size,
            align=max([align] + [v.dtype.itemsize for v, _ in members]),
            home=cls.home,
        )
        for value, _ in members:
            if value.producer is not None and id(value.producer) in index:
                st.producers.add(index[id(value.producer)])
                st.touchers.add(index[id(value.producer)])
            for use in value.uses:
                if id(use.node) in index:
                    st.touchers.add(index[id(use.node)])
            of_value[value.name] = st
        items.append(st)

    choices: dict[int, list[OverlapChoice]] = {}
    for i, node in enumerate(graph.nodes):
        dst = of_value[node.outputs[0].name].name if node.outputs else ""
        for beh in behaviors[id(node)]:
            if isinstance(beh, Alias):
                continue
            x = node.input(beh.input)
            if x is not None and _overlap_usable(node, x, classes):
                choices.setdefault(i, []).append(
                    OverlapChoice(i, beh, of_value[x.name].name, dst)
                )
    return Storages(graph, items, of_value, choices, node_workspaces(graph, kernel_dirs), align)


def node_workspaces(graph: Graph, kernel_dirs: tuple[str, ...] | None = None) -> dict[int, int]:
    """Node index -> workspace bytes its op asks for with the target's `kernel_dirs` (None:
    the largest need of any kernel variant), for the nodes that ask."""
    sizes = {i: get_op(n.op).workspace(n, kernel_dirs) for i, n in enumerate(graph.nodes)}
    return {i: b for i, b in sizes.items() if b > 0}


def _overlap_usable(node: Node, x: Value, classes: dict[int, _Class]) -> bool:
    """Static conditions: both sides plain arena storages, and x's storage read by this
    node only through x (the kernel knows nothing of other views of the same bytes)."""
    y = node.outputs[0]
    if x.const is None and id(x) in classes:
        cx, cy = classes[id(x)], classes[id(y)]
        if cx.home or cy.home or cx is cy or not cx.pure_for(x) or not cy.pure_for(y):
            return False
        return all(v is x or v is None or classes.get(id(v)) is not cx for v in node.inputs)
    return False


@dataclass(frozen=True)
class Lifetimes:
    """Storages' live ranges over one schedule, and the overlaps valid in it."""

    order: tuple[int, ...]
    step: dict[int, int]
    first: dict[str, int]
    last: dict[str, int]
    #: node index -> the overlap it may use in this schedule (its input storage dies there)
    valid: dict[int, OverlapChoice]


def lifetimes(storages: Storages, order: Sequence[int]) -> Lifetimes:
    step = {node: s for s, node in enumerate(order)}
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for st in storages.items:
        if not st.producers:
            continue
        first[st.name] = min(step[n] for n in st.producers)
        last[st.name] = max(step[n] for n in st.touchers)
    valid: dict[int, OverlapChoice] = {}
    for node, options in storages.choices.items():
        for choice in options:
            if last[choice.src] == step[node]:
                valid[node] = choice
                break
    return Lifetimes(tuple(order), step, first, last, valid)


def overlap_gain(storages: Storages, choice: OverlapChoice) -> int:
    """Bytes an overlap saves at its step: the smaller tensor, minus the scratch it needs."""
    named = storages.by_name()
    return min(named[choice.src].size, named[choice.dst].size) - choice.behavior.scratch


def runs_stream_kernel(behavior: Overlap) -> bool:
    """True when using the overlap means a separate streaming kernel (tinyc_inplace.h, the
    int8 `*_stream_s8` ones), which stages through scratch and is slower than the ordinary
    kernel; an overlap without scratch is the ordinary kernel given the same pointer."""
    return behavior.scratch > 0


def scratch_name(node: int) -> str:
    return f"scratch@{node}"


def workspace_name(node: int) -> str:
    return f"work@{node}"


def workspace_requests(
    workspaces: dict[int, int], step: dict[int, int], align: int
) -> list[BufferReq]:
    """One buffer per node workspace, live at that node's step only, aligned for any
    scalar type a kernel may keep there."""
    return [
        BufferReq(workspace_name(n), size, step[n], step[n], max(align, WORKSPACE_ALIGN))
        for n, size in sorted(workspaces.items())
    ]


def buffer_requests(
    storages: Storages, life: Lifetimes, overlaps: Iterable[OverlapChoice] = ()
) -> tuple[list[BufferReq], dict[tuple[str, str], Overlap]]:
    """The arena buffers (one per arena storage, each node workspace, and the scratch of
    each used overlap) and the overlap rules between them, keyed (input buffer, output
    buffer)."""
    reqs = [
        BufferReq(st.name, st.size, life.first[st.name], life.last[st.name], st.align)
        for st in storages.arena
        if st.name in life.first
    ]
    reqs += workspace_requests(storages.workspaces, life.step, storages.align)
    allow: dict[tuple[str, str], Overlap] = {}
    for choice in overlaps:
        allow[(choice.src, choice.dst)] = choice.behavior
        if choice.behavior.scratch:
            s = life.step[choice.node]
            reqs.append(BufferReq(scratch_name(choice.node), choice.behavior.scratch, s, s,
                                  storages.by_name()[choice.src].align))
    return reqs, allow


def flat_requests(graph: Graph, order: Sequence[int], align: int = 16,
                  workspaces: dict[int, int] | None = None) -> list[BufferReq]:
    """Every arena tensor its own buffer, no views, no overlap: TFLite Micro's view of the
    same schedule, the baseline the benchmarks compare against. Node workspaces are
    buffers too (every kernel gets the scratch it needs in any plan): `workspaces` as
    `build_storages` found them, else every variant's (`node_workspaces`)."""
    step = {id(graph.nodes[n]): s for s, n in enumerate(order)}
    homes = _io_homes(graph)
    reqs = []
    for n in order:
        for out in graph.nodes[n].outputs:
            if id(out) in homes or out.const is not None:
                continue
            first = step[id(graph.nodes[n])]
            last = max((step[id(u.node)] for u in out.uses if id(u.node) in step), default=first)
            reqs.append(BufferReq(out.name, out.type.nbytes, first, last,
                                  max(align, out.dtype.itemsize)))
    steps = {n: s for s, n in enumerate(order)}
    if workspaces is None:
        workspaces = node_workspaces(graph)
    return reqs + workspace_requests(workspaces, steps, align)


def arena_values(graph: Graph) -> list[Value]:
    """Node outputs that are neither graph outputs nor constants, in graph order."""
    outputs = {id(v) for v in graph.outputs}
    return [
        out
        for node in graph.nodes
        for out in node.outputs
        if id(out) not in outputs and out.const is None
    ]
