"""Shared fixtures: firmware builds (cached by configuration hash) and skips with a reason when tools are missing."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from sim.boards import load_board
from sim.build import build

HAVE_QEMU = shutil.which("qemu-system-arm") is not None
HAVE_ARM_GCC = shutil.which("arm-none-eabi-gcc") is not None
HAVE_GDB = shutil.which("gdb-multiarch") is not None

needs_qemu = pytest.mark.skipif(
    not (HAVE_QEMU and HAVE_ARM_GCC),
    reason="needs qemu-system-arm and arm-none-eabi-gcc (run `make setup`)",
)
needs_toolchain = pytest.mark.skipif(not HAVE_ARM_GCC, reason="needs arm-none-eabi-gcc (run `make setup`)")


@pytest.fixture(scope="session")
def firmware() -> Callable[..., Path]:
    """Build (or reuse) a firmware app for a board and return its ELF."""

    def _build(app: str, board: str = "stm32f405") -> Path:
        return build(load_board(board), app).elf

    return _build
