"""examples/firmware/cortex-m4 builds with its own Makefile (tinyc, then arm-none-eabi-gcc)
and, on QEMU's AN386 board, classifies its four digits correctly on UART0."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from tinyc.mcu.harness import QEMU

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "firmware" / "cortex-m4"


def test_firmware_example_builds_and_runs(mcu_tools: None, tmp_path: Path) -> None:
    tinyc = f"{shlex.quote(sys.executable)} -m tinyc.cli"
    proc = subprocess.run(
        ["make", "-C", str(EXAMPLE), f"BUILD={tmp_path}", f"TINYC={tinyc}", f"QEMU={QEMU}",
         "run"],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "sample 3: predicted" in proc.stdout
    assert "correct: 4/4" in proc.stdout
    assert (tmp_path / "firmware.elf").is_file()
