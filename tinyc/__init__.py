"""tinyc: compile ONNX models to standalone C99 for microcontrollers.

The Python API (tinyc.api; README "Python API"):

    result = tinyc.compile("model.onnx", "out", name="kws", target="cortex-m4")
    result.arena_bytes, result.weight_bytes, result.files
    tinyc.verify("model.onnx").ok   # host build vs onnxruntime, as `tinyc verify`
    tinyc.validate("model.onnx", target="cortex-m4").instructions   # on QEMU

Errors raise TinycError subclasses, each with the CLI's `exit_code`.
"""

from tinyc.api import CompileResult, compile, load, validate, verify
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
    "ValidateResult",
    "VerifyError",
    "VerifyResult",
    "__version__",
    "compile",
    "load",
    "validate",
    "verify",
]

#: result classes whose modules load numpy: imported on first use, so `import tinyc` stays cheap
_LAZY = {"VerifyResult": "tinyc.hostverify", "ValidateResult": "tinyc.mcu.validate"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tinyc' has no attribute {name!r}")
