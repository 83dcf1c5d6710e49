"""Graph passes. Each pass is one module named after it; importing this package registers
them all (see `base.register_pass`)."""

from tinyc.passes import (  # noqa: F401  (imported for registration)
    band_rows,
    cancel_transposes,
    collapse_reshapes,
    div_to_mul,
    eliminate_common_subexpressions,
    eliminate_dead_code,
    eliminate_no_ops,
    fold_batchnorm,
    fold_constants,
    fold_pad,
    fold_shapes,
    fuse_activation,
    fuse_conv_bias,
    fuse_matmul_add,
    fuse_mel_spectrogram,
    fuse_qboundary,
    prune_channels,
    prune_unstructured,
    push_transposes,
    qdq_lower,
    quantize_dynamic,
    quantize_float16,
    quantize_int8,
    recognize_activations,
    recognize_global_pools,
    sparsify_weights,
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
