"""The static stack bound of NAME_run (tinyc/mcu/stackuse.py): the deepest chain of gcc's
frame sizes under NAME_run, with no QEMU run. The walk is checked on a hand-written call
graph; on real builds the bound must cover QEMU's measured high-water (the painted stack
of test_qemu_models.py) and stay within issue #16's 512 B where the kernels allow it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinyc.compiler import Options, compile_into, load_model, optimize
from tinyc.errors import VerifyError
from tinyc.mcu.stackuse import (
    EXTERNAL_FRAME,
    STACK_LIMIT,
    deepest,
    parse_callgraph,
    run_stack_bound,
    tail_calls_of,
)
from tinyc.mcu.targets import TARGETS

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"

CI = """graph: { title: "m.c"
node: { title: "m_run" label: "m_run\\nm.c:3:5\\n40 bytes (static)" }
node: { title: "k" label: "k\\nk.c:1:6\\n0 bytes (static)" shape : ellipse }
edge: { sourcename: "m_run" targetname: "k" label: "m.c:4:3" }
edge: { sourcename: "m_run" targetname: "memcpy" }
}
graph: { title: "k.c"
node: { title: "k" label: "k\\nk.c:1:6\\n48 bytes (static)" }
node: { title: "k.c:leaf" label: "leaf\\nk.c:9:13\\n360 bytes (static)" }
node: { title: "k.c:cold" label: "cold\\nk.c:20:13\\n96 bytes (static)" }
edge: { sourcename: "k" targetname: "k.c:leaf" label: "k.c:2:3" }
edge: { sourcename: "k" targetname: "k.c:cold" label: "k.c:3:3" }
node: { title: "memcpy" label: "__builtin_memcpy\\n<built-in>" shape : ellipse }
edge: { sourcename: "k.c:cold" targetname: "memcpy" }
}
"""


def test_deepest_chain_of_frames() -> None:
    graph = parse_callgraph([CI])
    bound = deepest(graph, "m_run")
    # the callee's frame comes from the file that defines it, not the caller's declaration
    assert bound.bytes == 40 + 48 + 360
    assert bound.chain == ("m_run", "k", "k.c:leaf")
    # a library call has no frame in the build: counted at EXTERNAL_FRAME, and listed
    assert bound.externals == ("memcpy",)
    assert deepest(graph, "k.c:cold").bytes == 96 + EXTERNAL_FRAME


def test_a_tail_call_leaves_the_callers_frame() -> None:
    dump = """00000000 <k>:
   0:\te92d 4ff0 \tstmdb\tsp!, {r4, r5, r6, r7, r8, r9, sl, fp, lr}
  3a:\tf7ff bffe \tb.w\t0 <k>
\t\t\t3a: R_ARM_THM_JUMP24\tleaf
"""
    tails = tail_calls_of(dump, {"leaf": "k.c:leaf"})
    assert tails == {("k", "k.c:leaf")}
    graph = parse_callgraph([CI], frozenset(tails))
    bound = deepest(graph, "m_run")
    assert bound.bytes == 40 + 360 and bound.chain == ("m_run", "k", "k.c:leaf")
    assert bound.describe(graph) == "400 B: m_run 40 -> k 48 => leaf 360"


def test_recursion_and_dynamic_frames_have_no_bound() -> None:
    recursive = CI + 'graph: { title: "r"\nedge: { sourcename: "k.c:leaf" targetname: "k" }\n}'
    with pytest.raises(VerifyError, match="recursive"):
        deepest(parse_callgraph([recursive]), "m_run")
    with pytest.raises(VerifyError, match="dynamic"):
        parse_callgraph([CI.replace("360 bytes (static)", "360 bytes (dynamic)")])


@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55"])
def test_recurrent_model_within_the_limit(mcu_tools: None, target: str, tmp_path: Path) -> None:
    """The float GRU (its kernel, the step functions, libm's tanhf/expf) under 512 B."""
    options = Options(target=target)
    graph, _ = optimize(load_model(MODELS / "digits_gru.onnx", options), options)
    compile_into(graph, options, "gru", tmp_path)
    bound, _ = run_stack_bound(tmp_path, "gru", TARGETS[target])
    assert bound.chain[0] == "gru_run" and len(bound.chain) > 2
    assert bound.bytes <= STACK_LIMIT


#: every example model built float (digits_qat is QDQ: its build takes the int8 kernels)
FLOAT_MODELS = ("ad_autoencoder", "digits_cnn", "digits_gru", "digits_lstm", "kws_dscnn",
                "resnet8", "vww_mobilenet")


@pytest.mark.parametrize("name", FLOAT_MODELS)
def test_float_models_on_cortex_m55_within_the_limit(mcu_tools: None, name: str,
                                                     tmp_path: Path) -> None:
    """Every float example model on the Helium kernels, every path of them counted: the
    conv row's job in memory, its border pixels one channel a lane and the activations other
    than the clamp applied from the row's frame keep the general conv's chain under the
    pointwise tile's (ResNet-8 and VWW 600 B before, the border pixel's 248 B frame)."""
    options = Options(target="cortex-m55")
    graph, _ = optimize(load_model(MODELS / f"{name}.onnx", options), options)
    cname = name.replace("_", "")
    compile_into(graph, options, cname, tmp_path)
    bound, graph_ = run_stack_bound(tmp_path, cname, TARGETS["cortex-m55"])
    assert bound.bytes <= STACK_LIMIT, bound.describe(graph_)


def test_int8_keyword_model_within_the_limit(mcu_tools: None, tmp_path: Path) -> None:
    """KWS int8 with the float interface on the M4: its one-band first conv stays staged
    (fuse-qboundary), so NAME_run calls the int8 conv itself, whose column loop is the
    deepest frame (the grouped path's frame, a tail call, counts too)."""
    calib = tmp_path / "calib.npy"
    np.save(calib, np.random.default_rng(7).standard_normal((4, 1, 49, 10)).astype(np.float32))
    options = Options(target="cortex-m4", quantize="int8", calib=str(calib))
    graph, _ = optimize(load_model(MODELS / "kws_dscnn.onnx", options), options)
    compile_into(graph, options, "kws", tmp_path / "out")
    bound, graph_ = run_stack_bound(tmp_path / "out", "kws", TARGETS["cortex-m4"])
    # the bound counts the conv's channels_rest (224-240 B of spills), which KWS never runs;
    # QEMU measures 512 B (tests/mcu/test_qemu_models.py)
    assert bound.bytes <= STACK_LIMIT + 64, bound.describe(graph_)
