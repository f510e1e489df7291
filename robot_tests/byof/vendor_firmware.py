"""Robot library of the byof suites: builds a vendor-way test firmware of tests/firmware/foreign/ (own start-up,
linker script and Makefile) through tests/support/foreign.py, content-keyed and shared with the pytest tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from robot.libraries.BuiltIn import BuiltIn

_SUPPORT = Path(__file__).resolve().parents[2] / "tests" / "support" / "foreign.py"
_spec = importlib.util.spec_from_file_location("cosim_foreign_firmware", _SUPPORT)
assert _spec is not None and _spec.loader is not None
foreign = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(foreign)

__all__ = ["build_vendor_firmware"]


def build_vendor_firmware(name: str, **make_vars: str) -> str:
    """Builds tests/firmware/foreign/``name`` (``make OUT=... NAME=VALUE``) and returns its ELF's path; skips the
    test when arm-none-eabi-gcc is missing.

    | ${elf}= | Build Vendor Firmware | semihosting_printf | EXIT_CODE=3 |
    """
    try:
        return str(foreign.make_foreign(name, **make_vars))
    except foreign.ToolchainMissing as exc:
        BuiltIn().skip(str(exc))
        raise
