"""Graph passes. Each pass is one module named after it; importing this package registers
them all (see `base.register_pass`)."""

from tinyc.passes import (  # noqa: F401  (imported for registration)
    eliminate_dead_code,
    fold_constants,
)
from tinyc.passes.base import PASSES, Pass, PassContext, PassError, PassResult, register_pass
from tinyc.passes.manager import PIPELINES, PassManager, parse_pipeline, pipeline_for

__all__ = [
    "PASSES",
    "PIPELINES",
    "Pass",
    "PassContext",
    "PassError",
    "PassManager",
    "PassResult",
    "parse_pipeline",
    "pipeline_for",
    "register_pass",
]
