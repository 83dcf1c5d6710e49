"""Cortex-M support: target definitions, the bare-metal QEMU harness, `tinyc validate`."""

from tinyc.mcu.targets import TARGETS, Target, get_target, kernel_dirs

__all__ = ["TARGETS", "Target", "get_target", "kernel_dirs"]
