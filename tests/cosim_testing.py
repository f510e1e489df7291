"""Skip markers shared by the test modules (a plain module: `conftest` is ambiguous with tests/kernels/conftest.py)."""

from __future__ import annotations

import shutil

import pytest

HAVE_QEMU = shutil.which("qemu-system-arm") is not None
HAVE_ARM_GCC = shutil.which("arm-none-eabi-gcc") is not None
HAVE_GDB = shutil.which("gdb-multiarch") is not None

needs_qemu = pytest.mark.skipif(
    not (HAVE_QEMU and HAVE_ARM_GCC),
    reason="needs qemu-system-arm and arm-none-eabi-gcc (run `make setup`)",
)
needs_toolchain = pytest.mark.skipif(not HAVE_ARM_GCC, reason="needs arm-none-eabi-gcc (run `make setup`)")
