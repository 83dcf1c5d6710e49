"""Benchmark: int8 quantization — accuracy, flash, RAM, and what dynamic costs against static.

Three tables, every figure measured on this run:

1. digits CNN accuracy on its 360-sample test split, measured by building the generated C
   with the host compiler and running it on every sample: float, static int8 with each
   calibration method, dynamic int8, onnxruntime's `quantize_static` QDQ model imported, and
   the QAT model (`examples/qat_digits.py`) compiled by tinyc next to onnxruntime running
   the same file.
2. per example model: weight bytes and arena bytes, float vs static int8 (float interface,
   and `--io int8` where the application passes int8 tensors; and with int4 weights,
   `--weight-bits 4`) vs dynamic. MLPerf Tiny models
   are calibrated on random N(0, 1) data (their figures do not depend on accuracy).
3. with `--mcu`: the same builds on a Cortex-M4 under QEMU (tinyc.mcu): instructions per
   inference, flash and static RAM plus stack: what dynamic quantization costs against
   static (it keeps float activations and quantizes each one on every inference).

    python examples/bench_quant.py [--mcu] [--models digits_cnn,kws_dscnn]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

import tinyc
from tinyc.harness import build_host, run_host

MODELS = Path(__file__).resolve().parent / "models"
NAMES = ["digits_cnn", "kws_dscnn", "resnet8", "vww_mobilenet", "ad_autoencoder"]


#: tinyc.compile keyword arguments of one variant (quantize, calib, io, ...)
Flags = dict[str, str]


def compile_model(path: Path, flags: Flags, out: Path) -> tinyc.CompileResult:
    return tinyc.compile(path, out, name=path.stem, **flags)


def c_accuracy(path: Path, flags: Flags, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy of the generated C, run once per sample."""
    with tempfile.TemporaryDirectory(prefix="tinyc-bench-") as tmp:
        result = compile_model(path, flags, Path(tmp) / "out")
        exe = build_host(result.out_dir, result.graph, result.name)
        pred = [int(run_host(exe, result.graph, [x[i : i + 1]])[0].argmax())
                for i in range(len(x))]
    return float(np.mean(np.array(pred) == y))


def ort_accuracy(path: Path, x: np.ndarray, y: np.ndarray) -> float:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    pred = [int(sess.run(None, {sess.get_inputs()[0].name: x[i : i + 1]})[0].argmax())
            for i in range(len(x))]
    return float(np.mean(np.array(pred) == y))


def ort_qdq_model(tmp: Path) -> Path:
    """The digits CNN quantized by onnxruntime (QDQ, int8, per channel)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            train = np.load(MODELS / "digits_train_x.npy")
            self.it = iter(train[i : i + 1] for i in range(len(train)))

        def get_next(self) -> dict[str, np.ndarray] | None:
            x = next(self.it, None)
            return None if x is None else {"input": x}

    out = tmp / "digits_cnn_ort_qdq.onnx"
    quantize_static(str(MODELS / "digits_cnn.onnx"), str(out), Reader(),
                    quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8,
                    weight_type=QuantType.QInt8, per_channel=True)
    return out


def accuracy_table() -> None:
    x = np.load(MODELS / "digits_test_x.npy")
    y = np.load(MODELS / "digits_test_y.npy")
    calib = str(MODELS / "digits_train_x.npy")
    digits = MODELS / "digits_cnn.onnx"
    rows: list[tuple[str, float]] = [("float32", c_accuracy(digits, {}, x, y))]
    for method in ("minmax", "percentile", "mse"):
        flags = {"quantize": "int8", "calib": calib, "calib_method": method}
        rows.append((f"int8 static ({method})", c_accuracy(digits, flags, x, y)))
    for clip in ("max", "mse"):
        flags = {"quantize": "int8", "calib": calib, "weight_bits": 4, "weight_clip": clip}
        rows.append((f"int8 + int4 weights ({clip} clip)", c_accuracy(digits, flags, x, y)))
    rows.append(("int8 dynamic", c_accuracy(digits, {"quantize": "dynamic"}, x, y)))
    with tempfile.TemporaryDirectory() as tmp:
        qdq = ort_qdq_model(Path(tmp))
        rows.append(("onnxruntime QDQ, imported", c_accuracy(qdq, {}, x, y)))
        rows.append(("onnxruntime QDQ, in onnxruntime", ort_accuracy(qdq, x, y)))
    qat = MODELS / "digits_qat.onnx"
    if qat.exists():
        rows.append(("QAT (digits_qat.onnx), tinyc C", c_accuracy(qat, {}, x, y)))
        rows.append(("QAT, in onnxruntime", ort_accuracy(qat, x, y)))
    print(f"digits CNN, test split ({len(y)} samples), generated C run on the host:")
    for label, acc in rows:
        print(f"  {label:<34} {100 * acc:6.2f}%")
    print()


def calibration_file(name: str, tmp: Path) -> str:
    if name.startswith("digits"):
        return str(MODELS / "digits_train_x.npy")
    shape = tinyc.load(MODELS / f"{name}.onnx").inputs[0].shape
    path = tmp / f"{name}_calib.npy"
    np.save(path, np.random.default_rng(0).standard_normal((8,) + shape).astype(np.float32))
    return str(path)


def variants(name: str, tmp: Path) -> dict[str, Flags]:
    calib = calibration_file(name, tmp)
    return {
        "float": {},
        "int8": {"quantize": "int8", "calib": calib},
        "int8 io": {"quantize": "int8", "calib": calib, "io": "int8"},
        "int4w": {"quantize": "int8", "calib": calib, "weight_bits": 4},
        "dynamic": {"quantize": "dynamic"},
    }


def size_table(names: list[str]) -> None:
    print("weights (flash) and arena (RAM) in bytes; ratio = int8 / float:")
    head = ["model", "weights f32", "weights i8", "ratio", "weights i4w", "ratio", "arena f32",
            "arena i8", "ratio", "arena i8 io", "ratio", "arena dyn"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            c = {k: compile_model(MODELS / f"{name}.onnx", flags, Path(tmp) / f"{name} {k}")
                 for k, flags in variants(name, Path(tmp)).items()}
            wf, wi, w4 = (c[k].weight_bytes for k in ("float", "int8", "int4w"))
            af, ai, aio = c["float"].arena_bytes, c["int8"].arena_bytes, c["int8 io"].arena_bytes
            rows.append([name, wf, wi, f"{wi / wf:.3f}", w4, f"{w4 / wf:.3f}", af, ai,
                         f"{ai / af:.3f}", aio, f"{aio / af:.3f}", c["dynamic"].arena_bytes])
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        print("  " + "  ".join(str(v).rjust(w) for v, w in zip(r, widths, strict=True)))
    print()


def mcu_table(names: list[str]) -> None:
    print("Cortex-M4 under QEMU: instructions per inference, flash and RAM (static + stack)"
          " in bytes; the target's kernel variants where they exist (float, int8 conv and "
          "elementwise), portable C otherwise (the dynamic kernels):")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            path = MODELS / f"{name}.onnx"
            for label, flags in variants(name, Path(tmp)).items():
                if label == "int8 io":
                    continue
                x = [np.random.default_rng(1).standard_normal(v.shape).astype(np.float32)
                     for v in tinyc.load(path).inputs]
                m = tinyc.validate(path, x, target="cortex-m4", **flags).measurement
                print(f"  {name:<16} {label:<8} {m.instructions:>12,} instr  "
                      f"flash {m.flash:>9,}  RAM {m.ram:>8,}  MACs {m.macs:>11,}")
    print()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(NAMES))
    ap.add_argument("--mcu", action="store_true", help="also measure on Cortex-M4 (QEMU)")
    ap.add_argument("--skip-accuracy", action="store_true")
    args = ap.parse_args(argv)
    names = [n for n in args.models.split(",") if n]
    if not args.skip_accuracy:
        accuracy_table()
    size_table(names)
    if args.mcu:
        mcu_table(names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
