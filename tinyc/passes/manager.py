"""Pipelines: parse `a,b{opt=1},c` into pass instances and run them to a fixed point.

Optimization levels are named pipelines (`PIPELINES`): -O0 runs only what code generation
needs, -O1 is the default, -O2 adds the costlier passes.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from tinyc.errors import UsageError
from tinyc.ir import Graph
from tinyc.passes.base import PASSES, Pass, PassContext

_O1 = (
    "fold-shapes,fold-constants,eliminate-no-ops,div-to-mul,recognize-activations,"
    "recognize-global-pools,fold-pad,collapse-reshapes,push-transposes,cancel-transposes,"
    "qdq-lower,fold-batchnorm,fuse-conv-bias,fuse-mel-spectrogram,fuse-matmul-add,"
    "fuse-activation,eliminate-dead-code,"
    "fuse-qboundary,band-rows"
)
#: passes that need the graph's final interface: `tinyc.compiler.optimize` runs them once
#: after the quantization stage (`--quantize`, `--io`), wherever the pipeline lists them
AFTER_QUANTIZATION = frozenset({"fuse-qboundary", "band-rows"})

#: level -> pipeline string; a pass named here that is not registered yet is skipped.
#: -O1 holds the cheap passes that never make code bigger or slower; -O2 adds CSE, which
#: hashes every constant's bytes and can block a fusion by giving a result a second user.
PIPELINES: dict[int, str] = {
    0: "",
    1: _O1,
    2: "eliminate-common-subexpressions," + _O1,
}

_SPEC = re.compile(r"\s*([a-z0-9-]+)\s*(?:\{([^}]*)\})?\s*(?:,|$)")


def parse_pipeline(spec: str, skip_unknown: bool = False) -> list[Pass]:
    passes: list[Pass] = []
    pos = 0
    spec = spec.strip()
    while pos < len(spec):
        m = _SPEC.match(spec, pos)
        if not m or m.end() == pos:
            raise UsageError(f"bad pass pipeline near '{spec[pos:]}'")
        pos = m.end()
        name, opts = m.group(1), m.group(2)
        cls = PASSES.get(name)
        if cls is None:
            if skip_unknown:
                continue
            known = ", ".join(sorted(PASSES))
            raise UsageError(f"unknown pass '{name}' (known: {known})")
        passes.append(cls(**_options(cls, opts or "")))
    return passes


def _options(cls: type[Pass], text: str) -> dict[str, object]:
    fields = {f.name.replace("_", "-"): f for f in dataclasses.fields(cls)}
    out: dict[str, object] = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        key, _, raw = item.partition("=")
        f = fields.get(key.strip())
        if f is None:
            raise UsageError(f"pass {cls.name} has no option '{key.strip()}'")
        raw = raw.strip()
        default = f.default
        try:
            if isinstance(default, bool):
                out[f.name] = raw.lower() in ("1", "true", "yes", "")
            elif isinstance(default, int):
                out[f.name] = int(raw)
            elif isinstance(default, float):
                out[f.name] = float(raw)
            else:
                out[f.name] = raw
        except ValueError:
            raise UsageError(f"pass {cls.name}: bad value for {key}: '{raw}'") from None
    return out


@dataclass
class PassManager:
    passes: list[Pass]
    #: rounds over the whole list; stops early when a round changes nothing
    max_rounds: int = 8

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        for _ in range(self.max_rounds):
            modified = False
            for p in self.passes:
                result = p(graph, ctx)
                graph = result.graph
                modified |= result.modified
            if not modified:
                break
        return graph


def split_after_quantization(passes: list[Pass]) -> tuple[list[Pass], list[Pass]]:
    """(passes to run first, passes to run after the quantization stage), each in order."""
    late = [p for p in passes if p.name in AFTER_QUANTIZATION]
    return [p for p in passes if p.name not in AFTER_QUANTIZATION], late


def pipeline_without(level: int, passes: str | None, names: frozenset[str]) -> str | None:
    """The pipeline string `pipeline_for(level, passes)` runs, minus the passes `names`
    (None for an unknown level, so that `pipeline_for` reports it)."""
    if passes is None and level not in PIPELINES:
        return None
    spec = (passes if passes is not None else PIPELINES[level]).strip()
    kept = [m.group(0).strip().rstrip(",").strip() for m in _SPEC.finditer(spec)
            if m.group(1) not in names]
    return ",".join(kept)


def pipeline_for(level: int, passes: str | None = None) -> list[Pass]:
    if passes is not None:
        return parse_pipeline(passes)
    if level not in PIPELINES:
        raise UsageError(f"no optimization level -O{level} (use 0, 1 or 2)")
    return parse_pipeline(PIPELINES[level], skip_unknown=True)
