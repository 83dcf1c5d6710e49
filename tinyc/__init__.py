"""tinyc: compile ONNX models to standalone C99 for microcontrollers."""

__version__ = "0.1.0"
