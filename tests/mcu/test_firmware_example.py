"""examples/firmware/cortex-m4 (and its Cortex-M55 twin) stands alone: copied out of the
repository, its own Makefile builds it (tinyc, then arm-none-eabi-gcc) with `tinyc` found as
`$(PYTHON) -m tinyc` (no tinyc on PATH, no activated venv), and on QEMU's AN386 (AN547)
board it classifies its four digits correctly on UART0."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tinyc.mcu.harness import QEMU

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "examples" / "firmware"


def path_without_tinyc() -> str:
    """PATH minus the directories that hold a `tinyc` (the venv's scripts directory)."""
    dirs = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(d for d in dirs if d and not (Path(d) / "tinyc").exists())


@pytest.mark.parametrize("core", ["cortex-m4", "cortex-m55"])
def test_firmware_example_copied_out_builds_and_runs(mcu_tools: None, core: str,
                                                     tmp_path: Path) -> None:
    project = tmp_path / "my-firmware"
    shutil.copytree(FIRMWARE / core, project)
    env = {**os.environ, "PATH": path_without_tinyc()}
    assert shutil.which("tinyc", path=env["PATH"]) is None
    proc = subprocess.run(
        ["make", "-C", str(project), f"MODEL={REPO / 'examples' / 'models' / 'digits_cnn.onnx'}",
         f"PYTHON={sys.executable}", f"QEMU={shutil.which(QEMU)}", "run"],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert f"{sys.executable} -m tinyc" in proc.stdout  # the fallback ran tinyc
    assert "sample 3: predicted" in proc.stdout
    assert "correct: 4/4" in proc.stdout
    assert (project / "build" / "firmware.elf").is_file()


def test_copied_out_without_a_model_says_which_is_missing(tmp_path: Path) -> None:
    project = tmp_path / "fw"
    shutil.copytree(FIRMWARE / "cortex-m4", project)
    proc = subprocess.run(["make", "-C", str(project)], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode != 0
    assert "MODEL=../../models/digits_cnn.onnx not found" in proc.stderr
    assert not (project / "build").exists()
