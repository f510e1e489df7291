"""Debug keywords: a GDB server on the board, and the firmware's console."""

from __future__ import annotations

import re

from robot.api import logger
from robot.api.deco import keyword

from tinyml_cosim.robot.context import Context
from tinyml_cosim.robot.messages import tinyml_cosim_time


class DebugKeywords:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @keyword(tags=["debug"])
    def start_debug_server(self, port: int | None = None) -> int:
        """Starts the board's firmware halted with a GDB server (``cosim debug``) and returns its TCP port (a free
        one unless ``port`` is given). The gdb-multiarch command is logged. Timing is not valid while a debugger
        holds the CPU. The server is stopped by `Stop Board`, and at the end of the test or suite.

        | ${port}= | Start Debug Server |
        """
        debug = self.ctx.board.start_debug_server(int(port) if port not in (None, "", "None") else None)
        logger.info(f"GDB server on port {debug.port}: {debug.gdb_command()}")
        return debug.port

    @keyword(tags=["debug", "console"])
    def console_should_contain(self, text: str, timeout: str = "10 s") -> None:
        """Checks the firmware's console contains ``text``: the console of the running debug session (waiting up
        to ``timeout`` of wall-clock time for it), else the console of the last run.

        | Console Should Contain | BOOT app=threshold_detector |
        """
        board = self.ctx.board
        if board.debug is not None:
            console = board.debug.engine.console
            if console.expect(re.escape(text), tinyml_cosim_time(timeout)) is None:
                tail = "\n".join(console.tail(5))
                raise AssertionError(
                    f"Console of the debug session ({self.ctx.describe()}) does not contain {text!r} after "
                    f"{timeout}; last lines:\n{tail}"
                )
            return
        run = self.ctx.run()
        if not any(text in line for line in run.console):
            tail = "\n".join(run.console[-5:])
            raise AssertionError(
                f"Console of the run ({self.ctx.describe()}, {len(run.console)} lines, up to {run.end_s:.3f} s "
                f"simulated) does not contain {text!r}; last lines:\n{tail}"
            )
