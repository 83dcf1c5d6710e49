"""Benchmark: `--quantize int16x8` (int16 activations, int8 weights) against int8.

Per example model, every figure measured on this run: weight and arena bytes, the SNR of
the output and of the worst layer (`quantize-report`'s per-layer SNR on the evaluation
samples: the digits test split, N(0, 1) samples for the others), the digits accuracy;
with `--mcu` also Cortex-M4 instructions per inference and per MAC under QEMU.

    python examples/bench_int16x8.py [--mcu] [--models digits_cnn,kws_dscnn]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from tinyc.compiler import Options, compile_graph, load_model, optimize
from tinyc.quant.report import build_report

MODELS = Path(__file__).resolve().parent / "models"
NAMES = ["digits_cnn", "kws_dscnn", "resnet8", "ad_autoencoder"]
MODES = ("int8", "int16x8")


def data(name: str, tmp: Path) -> tuple[str, str, str | None]:
    """(calibration file, evaluation file, labels file or None)."""
    if name.startswith("digits"):
        return (str(MODELS / "digits_train_x.npy"), str(MODELS / "digits_test_x.npy"),
                str(MODELS / "digits_test_y.npy"))
    shape = load_model(MODELS / f"{name}.onnx", Options()).inputs[0].shape
    rng = np.random.default_rng(1)
    for stem, n in (("calib", 16), ("eval", 16)):
        np.save(tmp / f"{name}_{stem}.npy", rng.standard_normal((n,) + shape).astype(np.float32))
    return str(tmp / f"{name}_calib.npy"), str(tmp / f"{name}_eval.npy"), None


def mcu_figures(name: str, options: Options, x: np.ndarray, tmp: Path) -> tuple[int, int]:
    from tinyc.mcu.validate import run_on_mcu

    graph, _ = optimize(load_model(MODELS / f"{name}.onnx", options), options)
    result, _ = run_on_mcu(graph, options, name, [x], tmp)
    return result.measurement.instructions, result.measurement.macs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(NAMES))
    ap.add_argument("--mcu", action="store_true", help="also run on QEMU's Cortex-M4")
    args = ap.parse_args()
    print("| model | mode | weights B | arena B | output SNR dB | worst layer SNR dB "
          "| accuracy | M4 instructions | per MAC |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="tinyc-bench16-") as tmpdir:
        tmp = Path(tmpdir)
        for name in args.models.split(","):
            calib, eval_x, eval_y = data(name, tmp)
            for mode in MODES:
                options = Options(quantize=mode, calib=calib)
                graph, _ = optimize(load_model(MODELS / f"{name}.onnx", options), options)
                compiled = compile_graph(graph, options, name)
                report = build_report(str(MODELS / f"{name}.onnx"), options, ["minmax"],
                                      eval_x, eval_y, limit=120)
                snr = [s.snr_db for s in report.layers]
                acc = report.methods["minmax"]
                row = [name, mode, compiled.code.weight_bytes, compiled.plan.size,
                       f"{snr[-1]:.1f}", f"{min(snr):.1f}",
                       "-" if acc is None else f"{100 * acc:.2f}%"]
                if args.mcu:
                    m4 = Options(quantize=mode, calib=calib, target="cortex-m4")
                    x = np.load(eval_x)[:1].reshape(graph.inputs[0].shape)
                    ins, macs = mcu_figures(name, m4, x, tmp / f"{name}_{mode}")
                    row += [ins, f"{ins / macs:.2f}"]
                else:
                    row += ["-", "-"]
                print("| " + " | ".join(str(v) for v in row) + " |", flush=True)


if __name__ == "__main__":
    main()
