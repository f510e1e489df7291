"""`cosim debug`: the board starts halted with a GDB server; a firmware engineer attaches gdb-multiarch or VS Code.

While a debugger can hold the CPU, simulated time is not trustworthy (QEMU's virtual clock moves while the CPU is
held), so the session turns the firmware's watchdog off and says that timing and sample pacing are not valid.
Instruction counts for verdicts are never taken from a debug session.
"""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from sim.boards import load_board
from sim.datachannel import DataService
from sim.engines import create_engine, resolve_engine_name
from sim.errors import BadInput
from sim.firmware_image import load_image
from sim.protocol import ConfigFlag, HostConfig


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DebugSession:
    def __init__(self, elf: Path, board: str | Path, engine: str | None = None, port: int | None = None) -> None:
        self.board = load_board(board)
        self.image = load_image(Path(elf), self.board)
        if port is not None and not 0 < port < 65536:
            raise BadInput(f"--port {port} is not a TCP port (1..65535)")
        self.port = port or free_port()
        self.engine = create_engine(resolve_engine_name(engine), self.board)
        self.data = DataService()

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
        last = next((e for e in reversed(self.engine.console.events) if e.kind in ("EXIT", "FAULT", "WATCHDOG")), None)
        if last is None:
            return "emulator ended"
        return f"{last.kind} " + " ".join(f"{k}={v}" for k, v in last.fields.items())
