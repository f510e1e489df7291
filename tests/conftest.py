"""Shared fixtures: firmware builds (cached by configuration hash) and skips with a reason when tools are missing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sim.boards import load_board
from sim.build import build


@pytest.fixture(scope="session")
def firmware() -> Callable[..., Path]:
    """Build (or reuse) a firmware app for a board and return its ELF."""

    def _build(app: str, board: str = "stm32f405") -> Path:
        return build(load_board(board), app).elf

    return _build
