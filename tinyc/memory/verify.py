"""The plan verifier: an independent check that an `ArenaPlan` is safe for its graph.

It trusts nothing the planner computed (no storages, no buffer requests). From the graph,
the plan's node order, its placements and the ops' own `memory_behavior` declarations it
re-derives and checks:

- the order is a permutation of the nodes that runs every producer before its users;
- every value has a place: a caller buffer (graph input/output), a view of one (`homes`),
  or an arena offset aligned for its type and inside the arena;
- value lifetimes: from the step that produces it to the last step that reads it;
- views: declared `Alias` edges whose two ends sit at consistent addresses join values
  into components; a value homed in a caller buffer must be in that buffer's component;
- sharing: two values (or scratch buffers) whose bytes intersect while both are live must
  be views in one component, or be the input and output of a node the plan runs with an
  overlap that the op declares for that node, whose input is last read at that very step
  and whose placement delta the declared rule permits;
- scratch: every overlap that needs scratch has it, sharing no byte with anything live;
- workspace: every node whose op asks for `OpDef.workspace` bytes has exactly that much,
  aligned, inside the arena, sharing no byte with anything live at its step (and no node
  has a workspace it did not ask for).

`plan_memory` runs it on every plan, so every compile is checked; tests run it too.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinyc.errors import IRError
from tinyc.ir import Graph, Value
from tinyc.memory.liveness import WORKSPACE_ALIGN, node_workspaces
from tinyc.memory.plan import ArenaPlan
from tinyc.ops import get_op
from tinyc.ops.registry import Alias


@dataclass(frozen=True)
class _Item:
    """Bytes [start, end) in use from step `first` to `last`."""

    label: str
    key: int  # id() of the value, 0 for scratch
    start: int
    end: int
    first: int
    last: int
    component: int


def _fail(msg: str) -> None:
    raise IRError(f"memory plan: {msg}")


def verify_plan(graph: Graph, plan: ArenaPlan,
                kernel_dirs: tuple[str, ...] | None = None) -> None:
    """Raise IRError unless `plan` is safe for `graph` (see module doc) and the kernels of
    `kernel_dirs` (None: any variant; `liveness.node_workspaces`)."""
    nodes = graph.nodes
    order = plan.node_order(len(nodes))
    if sorted(order) != list(range(len(nodes))):
        _fail("the schedule is not a permutation of the graph's nodes")
    step = {id(nodes[n]): s for s, n in enumerate(order)}
    ready = {id(v) for v in graph.inputs} | {id(c) for c in graph.constants}
    for n in order:
        for v in nodes[n].inputs:
            if v is not None and v.const is None and id(v) not in ready:
                _fail(f"node {nodes[n].op} '{nodes[n].name}' runs before %{v.name} exists")
        ready.update(id(v) for v in nodes[n].outputs)

    io: dict[int, str] = {}
    for i, v in enumerate(graph.inputs):
        io.setdefault(id(v), f"input{i}")
    for i, v in enumerate(graph.outputs):
        io.setdefault(id(v), f"output{i}")
    values: list[Value] = list(graph.inputs) + [o for n in order for o in nodes[n].outputs]
    addr: dict[int, tuple[str, int]] = {}
    for v in values:
        if id(v) in io:
            addr[id(v)] = (io[id(v)], 0)
        elif v.name in plan.homes:
            addr[id(v)] = plan.homes[v.name]
        elif v.name in plan.offsets:
            off = plan.offsets[v.name]
            misaligned = off % max(plan.align, v.dtype.itemsize)
            if off < 0 or misaligned or off + v.type.nbytes > plan.size:
                _fail(f"%{v.name} at {off} (+{v.type.nbytes}) is misaligned or outside the "
                      f"{plan.size}-byte arena")
            addr[id(v)] = ("arena", off)
        else:
            _fail(f"%{v.name} has no place")

    parent = {id(v): id(v) for v in values}

    def find(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for node in nodes:
        for beh in get_op(node.op).memory_behavior(node):
            if not isinstance(beh, Alias):
                continue
            x, y = node.input(beh.input), node.outputs[beh.output]
            if x is None or id(x) not in addr:
                continue
            (sx, ox), (sy, oy) = addr[id(x)], addr[id(y)]
            if sx == sy and ox == oy + beh.offset:
                parent[find(id(x))] = find(id(y))
    io_value = {name: key for key, name in io.items()}
    for v in values:
        space = addr[id(v)][0]
        if space != "arena" and find(id(v)) != find(io_value[space]):
            _fail(f"%{v.name} is placed in {space} but is not a view of it")

    ids: dict[int, Value] = {id(v): v for v in values}
    first = {id(v): step[id(v.producer)] for v in values if v.producer is not None}
    last = {
        key: max([s] + [step[id(u.node)] for u in ids[key].uses if id(u.node) in step])
        for key, s in first.items()
    }

    exempt: set[tuple[int, int]] = set()
    items: list[_Item] = []
    for n, beh in sorted(plan.overlaps.items()):
        node = nodes[n]
        if beh not in get_op(node.op).memory_behavior(node):
            _fail(f"{node.op} '{node.name}' does not declare the overlap {beh}")
        x, y = node.input(beh.input), node.outputs[0]
        if x is None or addr.get(id(x), ("",))[0] != "arena" or addr[id(y)][0] != "arena":
            _fail(f"{node.op} '{node.name}': overlap outside the arena")
        assert x is not None
        s = step[id(node)]
        if last.get(id(x)) != s:
            _fail(f"{node.op} '{node.name}' overwrites %{x.name}, which is read later")
        delta = addr[id(y)][1] - addr[id(x)][1]
        if not beh.permits(delta):
            _fail(f"{node.op} '{node.name}': %{y.name} placed {delta} bytes from %{x.name}, "
                  f"which its kernel does not allow ({beh})")
        exempt.add((id(x), id(y)))
        if beh.scratch:
            if n not in plan.scratch:
                _fail(f"{node.op} '{node.name}' runs in place without its scratch")
            off = plan.scratch[n]
            if off < 0 or off + beh.scratch > plan.size or off % plan.align:
                _fail(f"scratch of {node.op} '{node.name}' at {off} is misplaced")
            items.append(_Item(f"scratch of {node.op} '{node.name}'", 0, off,
                               off + beh.scratch, s, s, -1 - n))
    for n in plan.scratch:
        if n not in plan.overlaps:
            _fail(f"scratch planned for node {n}, which does not run in place")
    needs = node_workspaces(graph, kernel_dirs)
    for n, node in enumerate(nodes):
        need = needs.get(n, 0)
        if need <= 0:
            if n in plan.workspace:
                _fail(f"workspace planned for {node.op} '{node.name}', which asks for none")
            continue
        if n not in plan.workspace:
            _fail(f"{node.op} '{node.name}' needs {need} B of workspace and has none")
        off = plan.workspace[n]
        if off < 0 or off + need > plan.size or off % max(plan.align, WORKSPACE_ALIGN):
            _fail(f"workspace of {node.op} '{node.name}' at {off} (+{need}) is misplaced")
        s = step[id(node)]
        items.append(_Item(f"workspace of {node.op} '{node.name}'", 0, off, off + need, s, s,
                           -1 - len(nodes) - n))

    for key, (space, off) in addr.items():
        v = ids[key]
        if space == "arena" and v.type.nbytes and key in first:
            items.append(_Item(f"%{v.name}", key, off, off + v.type.nbytes, first[key],
                               last[key], find(key)))
    items.sort(key=lambda it: (it.start, it.label))
    for i, a in enumerate(items):
        for b in items[i + 1 :]:
            if b.start >= a.end:
                break
            if a.last < b.first or b.last < a.first or a.component == b.component:
                continue
            if (a.key, b.key) in exempt or (b.key, a.key) in exempt:
                continue
            when = max(a.first, b.first)
            _fail(f"{a.label} and {b.label} share bytes while both live (step {when})")
