"""TFLite Micro's outputs for the tests' .tflite models (`tflite-micro`, the reference of
the TFLite semantics tests on the host and on QEMU), and their random int8/uint8 inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tflite_micro.python.tflite_micro import runtime

from tinyc.compiler import Options, load_model
from tinyc.frontend.tflite.reader import read_tflite

MODELS = Path(__file__).parent.parent / "models" / "tflite"


def random_inputs(stem: str, n: int, seed: int) -> list[np.ndarray]:
    """`n` random inputs of the model's (int8 or uint8) input, the full code range."""
    graph = load_model(MODELS / f"{stem}.tflite", Options())
    v = graph.inputs[0]
    info = np.iinfo(v.dtype.np)
    rng = np.random.default_rng(seed)
    return [rng.integers(info.min, info.max + 1, v.shape).astype(v.dtype.np) for _ in range(n)]


def tflite_micro_outputs(stem: str, xs: list[np.ndarray]) -> list[list[np.ndarray]]:
    path = MODELS / f"{stem}.tflite"
    interp = runtime.Interpreter.from_file(str(path))
    n_out = len(read_tflite(path).outputs)
    outs = []
    for x in xs:
        interp.set_input(x, 0)
        interp.invoke()
        outs.append([np.array(interp.get_output(i)) for i in range(n_out)])
    return outs
