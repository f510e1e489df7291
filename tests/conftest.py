"""Shared fixtures: firmware builds (cached by configuration hash) and skips with a reason when tools are missing."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tinyml_cosim.build.firmware import build
from tinyml_cosim.core.boards import load_board

# The cycle plugin costs up to 2x QEMU's wall time: the tier runs it where a test asks for it (RunRequest(cycles=True),
# or COSIM_CYCLES unset by the test: tests/test_cycles_run.py, the keyword spotter's deadline), keeping `make test`
# within its budget. `COSIM_CYCLES=on make test` runs every QEMU test with it.
os.environ.setdefault("COSIM_CYCLES", "off")


@pytest.fixture(scope="session")
def firmware() -> Callable[..., Path]:
    """Build (or reuse) a firmware app for a board and return its ELF."""

    def _build(app: str, board: str = "stm32f405") -> Path:
        return build(load_board(board), app).elf

    return _build


@pytest.fixture(autouse=True)
def no_emulator_left_behind():
    """After every test, every emulator this process started has been stopped and reaped."""
    from tinyml_cosim.engines import launcher

    yield
    leaked = [p for p in launcher._live if p.poll() is None]
    assert not leaked, f"emulator processes left running: {[p.pid for p in leaked]}"
