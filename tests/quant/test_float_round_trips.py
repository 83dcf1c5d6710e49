"""tinyc's own int8 quantization leaves no Q -> DQ round trip where no integer kernel reads
the int8 value: the audio pipeline's float front end reads the float input directly."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyc.compiler import Options, compile_graph, load_model, optimize
from tinyc.harness import SANITIZE_FLAGS, build_host, run_host
from tinyc.interp import run_graph
from tinyc.memory import plan_memory

PIPELINE = Path(__file__).resolve().parents[2] / "examples" / "kws_pipeline" / "kws_pipeline.onnx"


def _audio(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(16000, dtype=np.float32) / 16000
    tone = np.sin(2 * np.pi * rng.uniform(200, 3000, (n, 1, 1)) * t)
    return (0.3 * tone + 0.02 * rng.standard_normal((n, 1, 16000))).astype(np.float32)


def test_float_front_end_reads_the_float_input(tmp_path: Path) -> None:
    calib = tmp_path / "calib.npy"
    np.save(calib, _audio(4, 0))
    options = Options(quantize="int8", calib=str(calib))
    graph, _ = optimize(load_model(PIPELINE, options), options)
    float_graph, _ = optimize(load_model(PIPELINE, Options()), Options())

    audio = graph.inputs[0]
    assert [n.op for n in audio.users()] != ["QuantizeLinear"]
    assert not any(n.op == "DequantizeLinear" and n.inputs[0].producer is not None
                   and n.inputs[0].producer.op in ("QuantizeLinear", "Unsqueeze")
                   for n in graph.nodes)
    # the int8 build needs no more arena than the float one (it used to need an int8 copy
    # of the audio and its float round trip: 80,000 B against 33,968 B)
    assert plan_memory(graph, align=16).size <= plan_memory(float_graph, align=16).size

    compiled = compile_graph(graph, options, "pipe")
    compiled.code.write(tmp_path)
    exe = build_host(tmp_path, graph, "pipe", [*SANITIZE_FLAGS, "-O1"])
    x = _audio(1, 7).reshape(audio.shape)
    got = run_host(exe, graph, [x])
    want = run_graph(graph, {audio.name: x})
    np.testing.assert_array_equal(got[0], want[0])
