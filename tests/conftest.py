"""Shared test configuration: hypothesis profiles and paths.

The `ci` profile (selected automatically when CI is set) is derandomized so a CI failure
reproduces locally with `HYPOTHESIS_PROFILE=ci`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests import objcache
from tinyc.mcu.harness import APT_PACKAGES, missing_tools

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "examples" / "models"

settings.register_profile(
    "dev",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


#: the slowest tier: Cortex-M builds and QEMU runs, the ONNX conformance sample, the wheel
#: build, the hostile-input fuzz sample, the browser. `make test` runs everything;
#: `make test-fast` (pytest -m "not slow") leaves these out for a quick local loop.
SLOW_DIRS = ("mcu", "conformance", "fuzz", "browser")
SLOW_FILES = ("test_wheel.py",)


def pytest_configure(config) -> None:  # type: ignore[no-untyped-def]
    """The session's compile cache (tests/objcache.py), set up once by the controller
    and shared by the xdist workers it starts."""
    config.objcache_root = objcache.install()


def pytest_unconfigure(config) -> None:  # type: ignore[no-untyped-def]
    root = getattr(config, "objcache_root", None)
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)


def pytest_collection_modifyitems(config, items) -> None:  # type: ignore[no-untyped-def]
    tests = Path(__file__).resolve().parent
    for item in items:
        parts = Path(str(item.fspath)).resolve().relative_to(tests).parts
        if parts[0] in SLOW_DIRS or parts[-1] in SLOW_FILES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def mcu_tools() -> None:
    """Use in every test that builds for or runs on a Cortex-M core. Such a test needs
    arm-none-eabi-gcc (with newlib) and qemu-system-arm; missing tools fail it loudly -- CI
    must install them (Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)
    -- unless TINYC_ALLOW_SKIP_MCU=1, which turns the failure into a skip for machines that
    cannot run them. Mark such a test `slow` (tests/mcu/ is, as a whole)."""
    missing = missing_tools()
    if not missing:
        return
    message = (f"{', '.join(missing)} not found (install {' '.join(APT_PACKAGES)}; "
               "TINYC_ALLOW_SKIP_MCU=1 skips these tests)")
    if os.environ.get("TINYC_ALLOW_SKIP_MCU") == "1":
        pytest.skip(message)
    pytest.fail(message)
