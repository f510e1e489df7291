"""`cosim debug`: the board starts halted with a GDB server; a firmware engineer attaches gdb-multiarch or VS Code.

While a debugger can hold the CPU, simulated time is not trustworthy (QEMU's virtual clock moves while the CPU is
held), so the session turns the firmware's watchdog off and says that timing and sample pacing are not valid.
Instruction counts for verdicts are never taken from a debug session.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.elf.image import load_image
from tinyml_cosim.engines.launcher import free_port
from tinyml_cosim.engines.registry import create_engine, resolve_engine_name
from tinyml_cosim.protocol.datachannel import DataService
from tinyml_cosim.protocol.frames import ConfigFlag, Event, HostConfig, parse_event


class DebugSession:
    def __init__(
        self,
        elf: Path,
        board: str | Path,
        engine: str | None = None,
        port: int | None = None,
        data: DataService | None = None,
    ) -> None:
        """`data`: the data channel's service (a scenario's sensor streams; default none)."""
        self.board = load_board(board)
        self.image = load_image(Path(elf), self.board)
        if port is not None and not 0 < port < 65536:
            raise BadInput(f"--port {port} is not a TCP port (1..65535)")
        self.port = port or free_port()
        self.engine = create_engine(resolve_engine_name(engine), self.board)
        self.data = data if data is not None else DataService()

    def __enter__(self) -> DebugSession:
        base = self.engine.transport()
        config = HostConfig(transport=base.transport, flags=base.flags | int(ConfigFlag.DEBUG_SESSION))
        try:
            self.engine.start(self.image, config, data=self.data, gdb_port=self.port, halted=True)
        except BaseException:
            self.engine.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.engine.__exit__(*exc)

    def gdb_command(self) -> str:
        gdb = (
            "gdb-multiarch"
            if shutil.which("gdb-multiarch") or not shutil.which("arm-none-eabi-gdb")
            else "arm-none-eabi-gdb"
        )
        return f'{gdb} -q -ex "target extended-remote localhost:{self.port}" {self.image.path.resolve()}'

    def follow_console(self, poll_s: float = 0.05) -> Iterator[str]:
        """Yield console lines until the emulator ends (the firmware exits, or the user quits)."""
        seen = 0
        while True:
            alive = self.engine.is_alive()
            count = self.engine.console.line_count
            if count > seen:
                yield from self.engine.console.lines()[-(count - seen) :]
                seen = count
            if not alive:
                return
            time.sleep(poll_s)

    def ending_text(self) -> str:
        last = next((e for e in reversed(self.engine.console.events) if e.terminal), None)
        if last is None:
            return "emulator ended"
        return f"{last.kind} " + " ".join(f"{k}={v}" for k, v in last.fields.items())


def serve(
    session: DebugSession,
    echo: Callable[[str], None],
    what: str = "",
    until: Callable[[Event], bool] | None = None,
) -> str:
    """Print how to attach (the gdb-multiarch command), then the console until the firmware ends — or until
    `until(event)` holds for a protocol event on the console: the firmware's budget and service timer are off in a
    debug session, so the host ends it. Returns how it ended. The caller has entered the session (the board is
    halted at its reset vector)."""
    echo(f"GDB server for {session.board.id} on {session.engine.name}: localhost:{session.port}")
    echo(f"  {session.gdb_command()}")
    if what:
        echo(what)
    echo(
        "Timing and sample pacing are not valid while a debugger holds the CPU (the simulated-time watchdog is "
        "off): QEMU's virtual clock, and the firmware's instruction counter with it, moves on while the CPU is "
        "stopped, so samples after a stop may arrive at other instructions than in a run. Ctrl-C ends the session."
    )
    sys.stdout.flush()
    for line in session.follow_console():
        echo(line)
        event = parse_event(line) if until is not None else None
        if event is not None and until is not None and until(event):
            return f"ended by the host after {event.kind} at instruction {event.instructions:,}"
    return session.ending_text()
