"""Every operator tinyc knows, one `OpDef` each, grouped by family.

Importing this package imports every family module, which registers its ops.
"""

from tinyc.ops import (  # noqa: F401  (imported for registration)
    attention,
    cast,
    compress,
    conv,
    deform,
    elementwise,
    fill,
    glu,
    index,
    logic,
    loss,
    matmul,
    melspec,
    nms,
    norm,
    optional,
    pad,
    pool,
    qbanded,
    qboundary,
    qinteger,
    qlstm_tflite,
    qrnn,
    quant,
    reduce,
    resize,
    rnn,
    sample,
    scan,
    select,
    shape,
    signal,
    slice,
    sparse,
    unique,
    unpool,
)
from tinyc.ops.registry import OpDef, get_op, has_op, register_op, registered_ops

__all__ = ["OpDef", "get_op", "has_op", "register_op", "registered_ops"]
