"""Error types that map one-to-one onto the CLI's exit codes.

Every `cosim` command exits 0 on success, 1 when the firmware or an expectation failed, 2 on bad input or usage,
3 on an engine or internal error. Library code raises these; only the CLI turns them into exit codes.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_ENGINE_ERROR = 3


class CosimError(Exception):
    """Base class: `str(error)` is a complete one-line message for the user."""

    exit_code = EXIT_ENGINE_ERROR


class BadInput(CosimError):
    """The user gave us something we cannot use: a missing file, a malformed board, an ELF that does not fit."""

    exit_code = EXIT_BAD_INPUT


class EngineError(CosimError):
    """The emulator could not be started or talked to; not the firmware's fault."""

    exit_code = EXIT_ENGINE_ERROR


class EngineUnavailable(EngineError):
    """The engine binary is not installed, or the board has no model in that engine."""
