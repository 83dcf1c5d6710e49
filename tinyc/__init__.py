"""tinyc: compile ONNX models to standalone C99 for microcontrollers.

The Python API (tinyc.api; README "Python API"):

    result = tinyc.compile("model.onnx", "out", name="kws", target="cortex-m4")
    result.arena_bytes, result.weight_bytes, result.files
    tinyc.verify("model.onnx").ok   # host build vs onnxruntime, as `tinyc verify`

Errors raise TinycError subclasses, each with the CLI's `exit_code`.
"""

from tinyc.api import CompileResult, compile, load, verify
from tinyc.errors import (
    IRError,
    ModelError,
    TinycError,
    UnsupportedError,
    UsageError,
    VerifyError,
)

__version__ = "0.1.0"

__all__ = [
    "CompileResult",
    "IRError",
    "ModelError",
    "TinycError",
    "UnsupportedError",
    "UsageError",
    "VerifyError",
    "__version__",
    "compile",
    "load",
    "verify",
]
