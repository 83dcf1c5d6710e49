"""MCU tests need arm-none-eabi-gcc (with newlib) and qemu-system-arm. Missing tools fail
the tests loudly -- CI must install them (Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi
qemu-system-arm) -- unless TINYC_ALLOW_SKIP_MCU=1, which turns the failure into a skip for
machines that cannot run them. The host-only kernel tests in this directory need neither."""

from __future__ import annotations

import os

import pytest

from tinyc.mcu.harness import APT_PACKAGES, missing_tools


@pytest.fixture(scope="session")
def mcu_tools() -> None:
    """Use in every test that builds for or runs on a Cortex-M core."""
    missing = missing_tools()
    if not missing:
        return
    message = (f"{', '.join(missing)} not found (install {' '.join(APT_PACKAGES)}; "
               "TINYC_ALLOW_SKIP_MCU=1 skips these tests)")
    if os.environ.get("TINYC_ALLOW_SKIP_MCU") == "1":
        pytest.skip(message)
    pytest.fail(message)
