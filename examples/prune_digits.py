"""Lottery-ticket pruning of the digits CNN, measured by running the generated C.

Dev-only example (needs torch; tinyc itself does not). It

1. takes the digits CNN's structure from `examples/models/digits_cnn.onnx` (as tinyc's IR,
   BatchNorm folded) and trains it from scratch with torch on scikit-learn's digits (the
   same split as `examples/make_models.py`), keeping the weights after one epoch as the
   rewind point;
2. prunes it with tinyc's iterative magnitude pruning with rewinding
   (`tinyc.prune.lottery`, 20 % of the surviving weights per round, every round retrained
   by the callback below) to 50 / 80 / 90 % sparsity, and, as the baseline, one-shot
   magnitude pruning of the trained weights followed by the same amount of fine-tuning;
3. compiles every variant to C (sparse storage chosen per layer by tinyc's cost model),
   builds it with the host compiler, runs it on every test image and reports accuracy,
   weight flash, MACs and estimated instructions, plus measured Cortex-M4 instructions
   and flash under QEMU when arm-none-eabi-gcc and qemu-system-arm are installed.

    python examples/prune_digits.py [--epochs 30] [--quick] [--out prune_digits_out]

The training callback is the whole interface between tinyc and the framework: it gets the
IR constants (name -> array) and the masks, trains, and returns the constants.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tinyc.compiler import Options, compile_graph, load_model, optimize
from tinyc.harness import build_host, run_host
from tinyc.ir import Graph
from tinyc.ops import get_op
from tinyc.passes import PassContext
from tinyc.passes.sparsify_weights import SparsifyWeights, layer_costs
from tinyc.prune.lottery import (
    apply_state,
    iterative_magnitude_pruning,
    one_shot,
    save_masks,
)
from tinyc.prune.report import table
from tinyc.prune.select import sparsity_of, weight_layers

HERE = Path(__file__).resolve().parent
MODEL = HERE / "models" / "digits_cnn.onnx"
SEED = 1234


# -- data ---------------------------------------------------------------------------------


@dataclass
class Data:
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


def load_data() -> Data:
    """The split of make_models.py (checked against the committed test set)."""
    sys.path.insert(0, str(HERE))
    from make_models import SEED as MODELS_SEED
    from make_models import load_digits_split

    split = load_digits_split(MODELS_SEED)
    committed = np.load(HERE / "models" / "digits_test_x.npy")
    if not np.array_equal(committed, split.test_x):
        raise SystemExit("the digits split differs from examples/models/digits_test_x.npy")
    return Data(split.train_x, split.train_y, split.test_x, split.test_y)


# -- the IR as a torch module ---------------------------------------------------------------


def _act(y: torch.Tensor, name: str, params: list[float]) -> torch.Tensor:
    if not name:
        return y
    if name == "Relu":
        return F.relu(y)
    if name == "Clip":
        return torch.clamp(y, params[0], params[1])
    raise NotImplementedError(f"activation {name}")


def _conv(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, a: dict) -> torch.Tensor:
    pads = a["pads"]
    n = len(pads) // 2
    x = F.pad(x, [p for i in reversed(range(n)) for p in (pads[i], pads[i + n])])
    fn = F.conv2d if n == 2 else F.conv1d
    return fn(x, w, b, stride=a["strides"], dilation=a["dilations"], groups=a["group"])


def forward(graph: Graph, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Batched forward pass of the IR graph in torch (the ops of the digits CNN)."""
    env: dict[int, torch.Tensor] = {id(graph.inputs[0]): x}

    def get(v):  # noqa: ANN001, ANN202
        if v is None:
            return None
        if v.const is not None:
            return params[v.name] if v.name in params else torch.from_numpy(v.const)
        return env[id(v)]

    for node in graph.nodes:
        ins = [get(v) for v in node.inputs]
        a = node.attrs
        if node.op == "Conv":
            y = _act(_conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, a),
                     a["activation"], a["activation_params"])
        elif node.op == "Gemm":
            w = ins[1] if a["transB"] else ins[1].T
            y = a["alpha"] * ins[0] @ w.T
            if len(ins) > 2 and ins[2] is not None:
                y = y + a["beta"] * ins[2]
            y = _act(y, a["activation"], a["activation_params"])
        elif node.op == "MaxPool":
            pads = a["pads"]
            y = F.max_pool2d(F.pad(ins[0], [pads[1], pads[3], pads[0], pads[2]],
                                   value=-float("inf")),
                             a["kernel_shape"], a["strides"], dilation=a["dilations"])
        elif node.op in ("Reshape", "Flatten"):
            y = ins[0].reshape(ins[0].shape[0], *node.outputs[0].shape[1:])
        elif node.op == "Relu":
            y = F.relu(ins[0])
        else:
            raise NotImplementedError(f"op {node.op} in the training forward pass")
        env[id(node.outputs[0])] = y
    return env[id(graph.outputs[0])]


def init_state(graph: Graph, seed: int) -> dict[str, np.ndarray]:
    """Fresh weights with torch's default Conv/Linear initialization (Kaiming uniform)."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for layer in weight_layers(graph):
        node = layer.node
        w = torch.empty(layer.weight.shape)
        fan_in = int(np.prod(w.shape[1:]))
        bound = 1.0 / np.sqrt(fan_in)
        w.uniform_(-bound, bound, generator=gen)
        state[layer.weight.name] = w.numpy()
        b = node.input(2)
        if b is not None and b.const is not None:
            state[b.name] = torch.empty(b.shape).uniform_(-bound, bound, generator=gen).numpy()
    return state


def make_trainer(graph: Graph, data: Data, epochs: int, lr: float = 3e-3,
                 seed: int = SEED) -> Callable[[dict, dict], dict]:
    """The callback tinyc's pruning calls: train `epochs` epochs from `state` with Adam and
    a cosine schedule, keeping masked weights at zero."""
    x_all = torch.from_numpy(data.train_x)
    y_all = torch.from_numpy(data.train_y)

    def train(state: dict[str, np.ndarray], masks: dict[str, np.ndarray]) -> dict:
        torch.manual_seed(seed)
        params = {k: torch.tensor(v, requires_grad=True) for k, v in state.items()}
        mask_t = {k: torch.from_numpy(m.astype(np.float32)) for k, m in masks.items()}
        opt = torch.optim.Adam(params.values(), lr=lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(epochs, 1))
        gen = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            for idx in torch.randperm(len(y_all), generator=gen).split(32):
                opt.zero_grad()
                F.cross_entropy(forward(graph, params, x_all[idx]), y_all[idx]).backward()
                opt.step()
                with torch.no_grad():
                    for k, m in mask_t.items():
                        params[k].mul_(m)
            sched.step()
        return {k: v.detach().numpy().copy() for k, v in params.items()}

    return train


def torch_accuracy(graph: Graph, state: dict[str, np.ndarray], data: Data) -> float:
    params = {k: torch.from_numpy(v) for k, v in state.items()}
    with torch.no_grad():
        out = forward(graph, params, torch.from_numpy(data.test_x))
    return float((out.argmax(1).numpy() == data.test_y).mean())


# -- measuring the generated C ----------------------------------------------------------------


@dataclass
class Measured:
    name: str
    sparsity: float
    accuracy: float
    weight_bytes: int
    layer_bytes: int
    dense_layer_bytes: int
    macs: int
    est_instr: int
    sparse_layers: int
    m4_instr: int | None = None
    m4_flash: int | None = None


def measure(name: str, graph: Graph, state: dict[str, np.ndarray], data: Data,
            limit: int | None = None, mcu: bool = True) -> Measured:
    """Compile with per-layer dense/sparse storage, build, run on the test images."""
    pruned = apply_state(graph, state)
    prunable = [layer.weight.const for layer in weight_layers(pruned)]
    sparsity = sparsity_of(prunable)  # type: ignore[arg-type]
    g = SparsifyWeights(policy="auto").run(apply_state(pruned, {}), PassContext()).graph
    costs = layer_costs(g, "never")
    compiled = compile_graph(g, Options(), "digits")
    xs, ys = data.test_x[:limit], data.test_y[:limit]
    with tempfile.TemporaryDirectory(prefix="prune-digits-") as tmp:
        out = Path(tmp)
        compiled.code.write(out)
        exe = build_host(out, g, "digits")
        preds = [int(run_host(exe, g, [x.reshape(1, 1, 8, 8)])[0].argmax()) for x in xs]
        m4_instr = m4_flash = None
        if mcu:  # the cost model decides again for the Cortex-M4's own dense kernels
            m4 = SparsifyWeights(policy="auto", target="cortex-m4").run(pruned, PassContext())
            m4_instr, m4_flash = _cortex_m4(m4.graph, xs[0])
    macs = sum(get_op(n.op).macs(n) for n in g.nodes)
    return Measured(
        name=name, sparsity=sparsity, accuracy=float(np.mean(np.array(preds) == ys)),
        weight_bytes=compiled.code.weight_bytes,
        layer_bytes=sum(c.sparse_flash if c.choice == "sparse" else c.dense_flash
                        for c in costs),
        dense_layer_bytes=sum(c.dense_flash for c in costs), macs=macs,
        est_instr=sum(c.sparse_cycles if c.choice == "sparse" else c.dense_cycles
                      for c in costs),
        sparse_layers=sum(c.choice == "sparse" for c in costs),
        m4_instr=m4_instr, m4_flash=m4_flash,
    )


def _cortex_m4(graph: Graph, x: np.ndarray) -> tuple[int | None, int | None]:
    """Instructions per inference and model flash on Cortex-M4 (QEMU), if tools exist."""
    from tinyc.mcu.harness import build_mcu, missing_tools, run_qemu
    from tinyc.mcu.targets import get_target

    if missing_tools():
        return None, None
    compiled = compile_graph(graph, Options(target="cortex-m4"), "digits")
    with tempfile.TemporaryDirectory(prefix="prune-digits-m4-") as tmp:
        out = Path(tmp)
        compiled.code.write(out)
        build = build_mcu(out, graph, "digits", get_target("cortex-m4"))
        run = run_qemu(build, graph, [x.reshape(1, 1, 8, 8)])
        return run.instructions, build.model.flash


# -- the experiment -------------------------------------------------------------------------


@dataclass
class Experiment:
    rows: list[Measured]
    torch_acc: dict[str, float]
    masks: dict[str, dict[str, np.ndarray]]


def run_experiment(epochs: int, targets: tuple[float, ...] = (0.5, 0.8, 0.9),
                   rate: float = 0.2, rewind_epochs: int = 1, limit: int | None = None,
                   mcu: bool = True, log: Callable[[str], None] = print,
                   train_limit: int | None = None) -> Experiment:
    """Train, prune both ways, fine-tune, compile and measure (see the module docstring).
    `limit` caps the test images run through the C, `train_limit` the training set."""
    torch.set_num_threads(1)  # tiny tensors: threads cost more than they give
    data = load_data()
    if train_limit is not None:
        data = Data(data.train_x[:train_limit], data.train_y[:train_limit], data.test_x,
                    data.test_y)
    opts = Options()
    graph, _ = optimize(load_model(MODEL, opts), opts)
    start = time.time()
    init = init_state(graph, SEED)
    rewind = make_trainer(graph, data, rewind_epochs)(init, {})
    dense = make_trainer(graph, data, max(epochs - rewind_epochs, 1))(rewind, {})
    trained = apply_state(graph, dense)
    train = make_trainer(graph, data, epochs)
    finetune = make_trainer(graph, data, epochs, lr=1e-3)
    acc: dict[str, float] = {"dense": torch_accuracy(graph, dense, data)}
    log(f"dense: torch accuracy {acc['dense']:.3f} ({time.time() - start:.0f} s)")
    imp = iterative_magnitude_pruning(
        trained, train, targets, rewind=rewind, rate=rate,
        evaluate=lambda s: torch_accuracy(graph, s, data),
    )
    results = [measure("dense", graph, dense, data, limit, mcu)]
    masks = {}
    for r in imp.rounds:
        acc[f"imp {r.sparsity:g}"] = r.metric or 0.0
        log(f"lottery ticket {r.sparsity:.0%}: torch accuracy {r.metric:.3f} "
            f"({time.time() - start:.0f} s)")
        results.append(measure(f"lottery {r.sparsity:.0%}", graph, r.state, data, limit, mcu))
        masks[f"lottery_{int(round(100 * r.sparsity))}"] = r.masks
    for s in targets:
        r = one_shot(trained, finetune, s, state=dense,
                     evaluate=lambda st: torch_accuracy(graph, st, data))
        acc[f"one-shot {s:g}"] = r.metric or 0.0
        log(f"one-shot {s:.0%} + fine-tune: torch accuracy {r.metric:.3f} "
            f"({time.time() - start:.0f} s)")
        results.append(measure(f"one-shot {s:.0%}", graph, r.state, data, limit, mcu))
        masks[f"oneshot_{int(round(100 * s))}"] = r.masks
    return Experiment(results, acc, masks)


def report(exp: Experiment) -> str:
    dense = exp.rows[0]
    rows = []
    for m in exp.rows:
        rows.append([
            m.name, f"{m.sparsity:.1%}", f"{100 * m.accuracy:.2f}",
            f"{100 * (m.accuracy - dense.accuracy):+.2f}", m.layer_bytes,
            f"{m.layer_bytes / dense.layer_bytes:.2f}x", m.weight_bytes,
            f"{m.weight_bytes / dense.weight_bytes:.2f}x", m.macs, m.est_instr,
            "-" if m.m4_instr is None else m.m4_instr,
            "-" if m.m4_flash is None else m.m4_flash, m.sparse_layers,
        ])
    return table(["variant", "sparsity", "acc (C) %", "vs dense pp", "layer weights B",
                  "ratio", "all consts B", "ratio", "MACs", "est. instr", "M4 instr",
                  "M4 flash B", "sparse layers"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--rate", type=float, default=0.2,
                        help="fraction of the surviving weights pruned per IMP round")
    parser.add_argument("--quick", action="store_true", help="4 epochs, 100 test images")
    parser.add_argument("--no-mcu", action="store_true", help="skip the Cortex-M4 runs")
    parser.add_argument("--out", type=Path, default=Path("prune_digits_out"))
    args = parser.parse_args()
    epochs, limit = (4, 100) if args.quick else (args.epochs, None)
    exp = run_experiment(epochs, rate=args.rate, limit=limit, mcu=not args.no_mcu)
    text = report(exp)
    print()
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.txt").write_text(text)
    (args.out / "results.json").write_text(json.dumps(
        {"rows": [m.__dict__ for m in exp.rows], "torch_accuracy": exp.torch_acc},
        indent=2) + "\n")
    for key, masks in exp.masks.items():
        save_masks(args.out / f"masks_{key}.npz", masks)
    print(f"wrote {args.out}/results.txt, results.json and the masks")


if __name__ == "__main__":
    main()
