"""Pass infrastructure: the `Pass` base class, its context and result, and the registry.

A pass is a frozen dataclass with a kebab-case `name`; its dataclass fields are its
options (settable from a pipeline string such as `fold-constants{max-output-bytes=0}`).
`Pass.__call__` runs the pass and, when `ctx.verify_each` is set, the IR verifier after it;
any failure is re-raised as `PassError` naming the pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from tinyc.errors import TinycError
from tinyc.ir import Graph


class PassError(TinycError):
    exit_code = 3


@dataclass
class PassContext:
    """What every pass may read: options that are not the pass's own, and debug hooks."""

    verify_each: bool = False
    #: the core the C is for (`--target`): passes whose payoff depends on its kernels read it
    target: str = "generic"
    #: pass names (or "all") after which the text IR is printed to `dump`
    print_ir_after: frozenset[str] = frozenset()
    dump: list[str] = field(default_factory=list)
    #: how many times each rule/pass fired, for debug output and tests
    stats: dict[str, int] = field(default_factory=dict)

    def count(self, key: str, n: int = 1) -> None:
        self.stats[key] = self.stats.get(key, 0) + n


@dataclass(frozen=True)
class PassResult:
    graph: Graph
    modified: bool


@dataclass(frozen=True)
class Pass:
    name: ClassVar[str] = ""
    #: one line for `tinyc passes`
    summary: ClassVar[str] = ""

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        raise NotImplementedError

    def __call__(self, graph: Graph, ctx: PassContext) -> PassResult:
        from tinyc.ir.verify import verify

        try:
            result = self.run(graph, ctx)
            if ctx.verify_each:
                verify(result.graph)
        except TinycError as exc:
            raise PassError(f"pass {self.name}: {exc}") from None
        if result.modified:
            ctx.count(f"pass:{self.name}")
        if self.name in ctx.print_ir_after or "all" in ctx.print_ir_after:
            from tinyc.ir.text import print_graph

            ctx.dump.append(f"// ----- IR after {self.name}\n{print_graph(result.graph)}")
        return result


PASSES: dict[str, type[Pass]] = {}


def register_pass(cls: type[Pass]) -> type[Pass]:
    if cls.name in PASSES:
        raise RuntimeError(f"pass {cls.name} registered twice")
    PASSES[cls.name] = cls
    return cls
