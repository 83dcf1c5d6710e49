"""A non-editable install of the wheel gives a working `tinyc`: grammar/ and codegen/ ship
inside it, so compiling a model and parsing text IR work outside the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_wheel_installs_a_working_tinyc(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(wheels), str(REPO)],
        check=True, capture_output=True,
    )
    wheel = next(wheels.glob("tinyc-*.whl"))
    venv = tmp_path / "venv"
    # reuse the test environment's numpy/onnx/lark/ml_dtypes so the test needs no network:
    # a .pth names its site-packages (`--system-site-packages` would name the base Python's,
    # not those of the venv that runs the tests); the wheel's own tinyc comes first on sys.path
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    venv_site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip()
    test_site = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(venv_site) / "test_env.pth").write_text("".join(f"{p}\n" for p in sorted(test_site)))
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall",
                    str(wheel)], check=True, capture_output=True)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run([str(py), "-c", "import tinyc; print(tinyc.__file__)"], cwd=work,
                           env=env, check=True, capture_output=True, text=True).stdout
    assert str(venv) in where, where
    model = REPO / "examples" / "models" / "digits_cnn.onnx"
    tinyc = venv / "bin" / "tinyc"
    out = work / "out"
    proc = subprocess.run([str(tinyc), str(model), "-o", str(out)], cwd=work, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (out / "digits_cnn_tinyc_rt.h").is_file() and (out / "digits_cnn.c").is_file()
    save = (
        "import sys; from tinyc.frontend.onnx import load_onnx; "
        "from tinyc.ir.text import save_text_ir; save_text_ir(load_onnx(sys.argv[1]), sys.argv[2])"
    )
    subprocess.run([str(py), "-c", save, str(model), str(work / "m.tir")], cwd=work, env=env,
                   check=True, capture_output=True)
    proc = subprocess.run([str(tinyc), str(work / "m.tir"), "-o", str(work / "out2")], cwd=work,
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (work / "out2" / "m.c").is_file()
    # `python -m tinyc` (the firmware Makefiles' fallback when tinyc is not on PATH)
    proc = subprocess.run([str(py), "-m", "tinyc", str(work / "m.tir"), "-o", str(work / "out3")],
                          cwd=work, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    def code(out: str) -> list[str]:  # but the provenance line naming the command
        return [ln for ln in (work / out / "m.c").read_text().splitlines() if "Command:" not in ln]

    assert code("out3") == code("out2")
