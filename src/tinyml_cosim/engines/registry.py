"""Engine registry: the engine is chosen by name (CLI flag, COSIM_ENGINE, config file), never by editing code."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from tinyml_cosim.core.boards import Board
from tinyml_cosim.core.errors import BadInput, CosimError, EngineUnavailable
from tinyml_cosim.core.yamlfile import load_yaml
from tinyml_cosim.engines.base import Engine
from tinyml_cosim.protocol.frames import Transport

ENGINES = {"qemu": "tinyml_cosim.engines.qemu.engine:QemuEngine", "renode": "tinyml_cosim.engines.renode:RenodeEngine"}
DEFAULT_ENGINE = "qemu"


def engine_class(name: str) -> type[Engine]:
    try:
        module, cls = ENGINES[name].split(":")
    except KeyError:
        raise BadInput(f"unknown engine {name!r}: choose one of {', '.join(ENGINES)}") from None
    return getattr(importlib.import_module(module), cls)


def resolve_engine_name(explicit: str | None) -> str:
    """--engine beats COSIM_ENGINE beats `engine:` in ./cosim.yaml (or $COSIM_CONFIG) beats the default (qemu)."""
    if explicit:
        return explicit
    if os.environ.get("COSIM_ENGINE"):
        return os.environ["COSIM_ENGINE"]
    config = Path(os.environ.get("COSIM_CONFIG", "cosim.yaml"))
    if config.is_file():
        data, lines = load_yaml(config)
        if isinstance(data, dict) and data.get("engine") is not None:
            value = data["engine"]
            if value not in ENGINES:
                line = lines.get(("engine",), 1)
                raise BadInput(f"{config}:{line}: engine: {value!r} is not one of {', '.join(ENGINES)}")
            return str(value)
    return DEFAULT_ENGINE


def board_support_problem(name: str, board: Board) -> str | None:
    """Why `board` cannot run on engine `name` at all (a fact of the board file), or None."""
    desc = getattr(board.engines, name, None)
    if desc is None:
        return f"board {board.id} has no {name} description in its platform file"
    unsupported = getattr(desc, "unsupported", None)
    if unsupported:
        return f"board {board.id} cannot run on {name}: {unsupported}"
    return None


def engine_problem(name: str, board: Board) -> CosimError | None:
    """Why engine `name` cannot run `board` here, as the error to raise: BadInput when the board has no model
    there (a fact of the board file), EngineUnavailable when the engine is not installed; None when it can."""
    cls = engine_class(name)
    problem = board_support_problem(name, board)
    if problem:
        return BadInput(problem)
    reason = cls.unavailable_reason(board)
    if reason:
        return EngineUnavailable(f"engine {name} cannot run board {board.id}: {reason}")
    return None


def check_engine(name: str, board: Board) -> type[Engine]:
    """The engine class for `board`; raises engine_problem's error when it cannot run it here."""
    error = engine_problem(name, board)
    if error is not None:
        raise error
    return engine_class(name)


def create_engine(name: str, board: Board, workdir: Path | None = None) -> Engine:
    """An engine for `board`; BadInput when the board has no model there, EngineUnavailable when not installed."""
    return check_engine(name, board)(board, workdir)


def needs_mailbox(name: str | None) -> bool:
    """Whether firmware for engine `name` (None: the configured one) must link the RAM mailbox (cosim.h
    COSIM_WITH_MAILBOX): only engines whose data channel it is, so other builds measure without its buffers."""
    return engine_class(resolve_engine_name(name)).data_transport is Transport.MAILBOX
