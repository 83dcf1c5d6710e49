"""Pattern rewrites: rules as small classes, grouped in rule sets, applied by a worklist.

A rule states what it matches as a pattern tree rooted at one node, refines the match in
`check` (which returns a `MatchResult` carrying the reason when it refuses, so tests can
assert *why* a rule did not fire), and edits the graph in `rewrite` through a `Rewriter`:

    class FuseRelu(Rule):
        \"\"\"``Relu(Conv(x, w, b)) -> Conv{activation=Relu}(x, w, b)``\"\"\"

        pattern = Op("Relu", Op("Conv", name="conv"), name="act")

        def check(self, graph: Graph, m: Match) -> MatchResult:
            return single_use(graph, m.value("conv"))

        def rewrite(self, graph: Graph, m: Match, rw: Rewriter) -> None:
            rw.set_attrs(m.node("conv"), activation="Relu")
            rw.replace(m.node("act").outputs[0], m.node("conv").outputs[0])

Pattern vocabulary: `Op(ops, *inputs, name=, commute=)` matches a value produced by a node
whose op is in `ops` (and, as the root, the node itself); `Var(name)` any present value;
`Const(name)` a constant; `Opt(name)` a value or an absent optional input; `...` as the
last input leaves the remaining inputs unconstrained. Names bind nodes (Op) or values.

The driver (`RuleSet.apply`) is greedy: it indexes rules by root op (tinygrad's
`PatternMatcher.pdict`), visits every node in graph order, and after a rewrite re-enqueues
the nodes whose neighbourhood changed (xDSL's `PatternRewriteWalker`). When the worklist is
empty it sweeps the whole graph once more and stops only when a full sweep fires nothing,
which is what makes every rewrite pass idempotent. Matched nodes left without users are
erased; constants orphaned by the rewrites are dropped. Applications are counted in
`ctx.stats` as `rule:<Name>`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import EllipsisType
from typing import Any, ClassVar

import numpy as np

from tinyc.ir import Graph, Node, Value
from tinyc.ops import get_op
from tinyc.ops.registry import REQUIRED, Attr
from tinyc.passes.base import Pass, PassContext, PassResult

# -- match results ------------------------------------------------------------------------


@dataclass(frozen=True)
class MatchResult:
    """Whether a rule may fire; on refusal, `reason` says why (for tests and debugging)."""

    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok

    @staticmethod
    def success() -> MatchResult:
        return MatchResult(True)

    @staticmethod
    def fail(reason: str) -> MatchResult:
        return MatchResult(False, reason)


OK = MatchResult.success()


def all_of(*results: MatchResult) -> MatchResult:
    """The first refusal among `results`, or success."""
    for r in results:
        if not r:
            return r
    return OK


# -- patterns -----------------------------------------------------------------------------


class Pattern:
    """A node of a pattern tree; `match_value` binds into `bindings` or returns False."""

    name: str | None = None

    def match_value(self, value: Value | None, bindings: dict[str, Any]) -> bool:
        raise NotImplementedError

    def _bind(self, obj: object, bindings: dict[str, Any]) -> bool:
        if self.name is None:
            return True
        if self.name in bindings:
            return bindings[self.name] is obj
        bindings[self.name] = obj
        return True


class Var(Pattern):
    """Any present value."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name

    def match_value(self, value: Value | None, bindings: dict[str, Any]) -> bool:
        return value is not None and self._bind(value, bindings)


class Opt(Pattern):
    """A value, or an absent optional input (bound to None)."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name

    def match_value(self, value: Value | None, bindings: dict[str, Any]) -> bool:
        return self._bind(value, bindings)


class Const(Pattern):
    """A compile-time constant."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name

    def match_value(self, value: Value | None, bindings: dict[str, Any]) -> bool:
        return value is not None and value.const is not None and self._bind(value, bindings)


class Op(Pattern):
    """A node with one of `ops`, its inputs matched positionally (see module docstring)."""

    def __init__(
        self,
        ops: str | Sequence[str],
        *inputs: Pattern | EllipsisType,
        name: str | None = None,
        commute: bool = False,
    ) -> None:
        self.ops = (ops,) if isinstance(ops, str) else tuple(ops)
        self.open = bool(inputs) and inputs[-1] is Ellipsis
        self.inputs = [p for p in inputs if isinstance(p, Pattern)]
        self.name = name
        self.commute = commute

    def match_value(self, value: Value | None, bindings: dict[str, Any]) -> bool:
        if value is None or value.producer is None:
            return False
        return self.match_node(value.producer, bindings)

    def match_node(self, node: Node, bindings: dict[str, Any]) -> bool:
        if node.op not in self.ops:
            return False
        if not self.inputs and not self.open:
            return self._bind(node, bindings)
        if not self.open and any(v is not None for v in node.inputs[len(self.inputs) :]):
            return False
        orders = [list(range(len(self.inputs)))]
        if self.commute and len(self.inputs) == 2:
            orders.append([1, 0])
        for order in orders:
            trial = dict(bindings)
            if all(
                self.inputs[k].match_value(node.input(i), trial) for i, k in enumerate(order)
            ) and self._bind(node, trial):
                bindings.clear()
                bindings.update(trial)
                return True
        return False


@dataclass
class Match:
    """The bindings of one successful pattern match, rooted at `root`."""

    root: Node
    bindings: dict[str, Any]

    def node(self, name: str) -> Node:
        obj = self.bindings[name]
        assert isinstance(obj, Node), name
        return obj

    def value(self, name: str) -> Value:
        """A bound value, or the first output of a bound node."""
        obj = self.bindings[name]
        if isinstance(obj, Node):
            return obj.outputs[0]
        assert isinstance(obj, Value), name
        return obj

    def maybe(self, name: str) -> Value | None:
        """A value bound by `Opt` (None when the input is absent)."""
        obj = self.bindings.get(name)
        assert obj is None or isinstance(obj, Value), name
        return obj

    def nodes(self) -> list[Node]:
        """Every matched node, the root last."""
        inner = [obj for obj in self.bindings.values()
                 if isinstance(obj, Node) and obj is not self.root]
        return inner + [self.root]


# -- common checks ------------------------------------------------------------------------


def is_output(graph: Graph, value: Value) -> bool:
    return any(v is value for v in graph.outputs)


def single_use(graph: Graph, value: Value) -> MatchResult:
    """`value` feeds exactly one input and is not a graph output: it can be rewritten away."""
    if is_output(graph, value):
        return MatchResult.fail(f"%{value.name} is a graph output")
    if len(value.uses) != 1:
        return MatchResult.fail(f"%{value.name} has {len(value.uses)} uses")
    return OK


def no_activation(node: Node) -> MatchResult:
    if node.attrs.get("activation"):
        return MatchResult.fail(f"{node.op} '{node.name}' already has activation "
                                f"{node.attrs['activation']}")
    return OK


def is_float32(value: Value) -> MatchResult:
    if value.dtype.value != "f32":
        return MatchResult.fail(f"%{value.name} is {value.dtype.value}, not f32")
    return OK


def move_activation(rw: Rewriter, src: Node, dst: Node) -> None:
    """Give `dst` (which has none) the activation fused into `src`, which a rule folds into
    `dst` (fuse-activation may have fused it into `src` in an earlier round)."""
    if src.attrs.get("activation"):
        rw.set_attrs(dst, activation=src.attrs["activation"],
                     activation_params=list(src.attrs.get("activation_params", [])))


# -- the rewriter -------------------------------------------------------------------------


class Rewriter:
    """The only way rules change the graph; records what changed for the worklist."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.erased: set[int] = set()
        self.touched: list[Node] = []
        self.changed: list[Value] = []

    def const(self, hint: str, data: np.ndarray) -> Value:
        data = np.asarray(data)  # (np.ascontiguousarray alone turns a 0-d array into 1-d)
        return self.graph.add_const(self.graph.unique_name(hint),
                                    np.ascontiguousarray(data).reshape(data.shape))

    def add(
        self,
        op: str,
        inputs: Sequence[Value | None],
        attrs: dict[str, Any] | None = None,
        before: Node | None = None,
        name: str = "",
        hint: str = "",
        defaults: bool = True,
    ) -> Value:
        """Insert a single-output node (attribute defaults filled in unless `defaults` is
        False, type inferred) before `before` (or at the end) and return its output."""
        opdef = get_op(op)
        full = {k: (list(a.default) if isinstance(a.default, list) else a.default)
                for k, a in opdef.attrs.items() if defaults and _has_default(a)}
        full.update(attrs or {})
        node = Node(op, inputs, [], full, name=name)
        ttype = opdef.infer(node)[0]
        out = Value(self.graph.unique_name(hint or f"{name or op.lower()}_out"), ttype, node, 0)
        node.outputs = [out]
        if before is None:
            self.graph.add_node(node)
        else:
            self.graph.insert_before(before, node)
        self.touched.append(node)
        self.changed.extend(v for v in inputs if v is not None)
        return out

    def set_attrs(self, node: Node, **attrs: Any) -> None:
        node.attrs.update(attrs)
        self.touched.append(node)

    def set_input(self, node: Node, index: int, value: Value | None) -> None:
        old = node.input(index)
        while len(node.inputs) <= index:
            node.inputs.append(None)
        node.set_input(index, value)
        self.touched.append(node)
        self.changed.extend(v for v in (old, value) if v is not None)

    def replace(self, old: Value, new: Value) -> None:
        """Every use of `old` (graph outputs included) now reads `new`. A graph output keeps
        its name when `new` is an ordinary node result, so the interface names survive."""
        users = old.users()
        old.replace_all_uses_with(new)
        self.touched.extend(users)
        self.changed.append(new)
        if is_output(self.graph, old):
            swap = (new.producer is not None and not is_output(self.graph, new)
                    and not any(v is new for v in self.graph.inputs))
            self.graph.outputs = [new if v is old else v for v in self.graph.outputs]
            if swap:
                old.name, new.name = new.name, old.name

    def erase(self, node: Node) -> None:
        self.changed.extend(v for v in node.inputs if v is not None)
        self.graph.erase(node)
        self.erased.add(id(node))

    def erase_if_dead(self, node: Node) -> None:
        if id(node) in self.erased or not get_op(node.op).pure:
            return
        if all(not o.uses and not is_output(self.graph, o) for o in node.outputs):
            self.erase(node)


def _has_default(a: Attr) -> bool:
    return a.default is not REQUIRED


# -- rules and rule sets ------------------------------------------------------------------


class Rule:
    """One rewrite. Subclasses set `pattern` (rooted at the node the rule is indexed by)
    and implement `check` and `rewrite`; the docstring gives `before -> after`."""

    pattern: ClassVar[Op]

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def roots(self) -> tuple[str, ...]:
        return self.pattern.ops

    def match(self, node: Node) -> Match | None:
        bindings: dict[str, Any] = {}
        if self.pattern.match_node(node, bindings):
            return Match(node, bindings)
        return None

    def check(self, graph: Graph, m: Match) -> MatchResult:
        return OK

    def rewrite(self, graph: Graph, m: Match, rw: Rewriter) -> None:
        raise NotImplementedError

    def explain(self, graph: Graph, node: Node) -> MatchResult:
        """Why this rule would or would not fire at `node` (for tests)."""
        m = self.match(node)
        if m is None:
            return MatchResult.fail("pattern does not match")
        return self.check(graph, m)


class RuleSet:
    """Rules indexed by root op; `a + b` concatenates (order = priority)."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = tuple(rules)
        self.index: dict[str, list[Rule]] = {}
        for rule in self.rules:
            for op in rule.roots:
                self.index.setdefault(op, []).append(rule)

    def __add__(self, other: RuleSet) -> RuleSet:
        return RuleSet(self.rules + other.rules)

    def __iter__(self):  # noqa: ANN204
        return iter(self.rules)

    def apply(self, graph: Graph, ctx: PassContext, max_sweeps: int = 16) -> int:
        """Rewrite greedily until a full sweep fires nothing; returns the rewrite count."""
        total = 0
        for _ in range(max_sweeps):
            fired = self._drain(graph, ctx)
            total += fired
            if not fired:
                break
        if total:
            graph.remove_unused_constants()
        return total

    def _drain(self, graph: Graph, ctx: PassContext) -> int:
        rw = Rewriter(graph)
        queue: deque[Node] = deque(graph.nodes)
        queued = {id(n) for n in queue}
        fired = 0
        limit = 20 * (len(graph.nodes) + 10)
        while queue and fired < limit:
            node = queue.popleft()
            queued.discard(id(node))
            if id(node) in rw.erased:
                continue
            for rule in self.index.get(node.op, ()):
                m = rule.match(node)
                if m is None or not rule.check(graph, m):
                    continue
                rw.touched, rw.changed = [], []
                rule.rewrite(graph, m, rw)
                for matched in reversed(m.nodes()):
                    rw.erase_if_dead(matched)
                fired += 1
                ctx.count(f"rule:{rule.name}")
                again = list(rw.touched)
                for v in rw.changed:
                    again.extend(v.users())
                    if v.producer is not None:
                        again.append(v.producer)
                for t in rw.touched:
                    for out in t.outputs:
                        again.extend(out.users())
                for n in again:
                    if id(n) not in rw.erased and id(n) not in queued:
                        queue.append(n)
                        queued.add(id(n))
                break
        return fired


@dataclass(frozen=True)
class RewritePass(Pass):
    """A pass that is one `RuleSet` applied to a fixed point."""

    def rules(self) -> RuleSet:
        raise NotImplementedError

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        return PassResult(graph, self.rules().apply(graph, ctx) > 0)
