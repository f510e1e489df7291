"""A small synchronous QMP client (QEMU Machine Protocol: one JSON object per line over a unix socket).

Written here rather than taken from the `qemu.qmp` package because that package's synchronous wrapper drives an
asyncio loop per call: under Ctrl-C or SIGTERM its interrupted tasks print "Task exception was never retrieved"
tracebacks, and each call costs more than the single round trip the host needs when it polls the instruction
count every millisecond. The protocol is simple: a greeting, `qmp_capabilities`, then request/response pairs with
asynchronous events interleaved, which this client skips.
"""

from __future__ import annotations

import json
import socket
import threading
from typing import Any


class QmpError(Exception):
    """QEMU answered a command with an error object."""


class QmpDisconnected(Exception):
    """The socket closed: QEMU exited or crashed."""


class QmpClient:
    def __init__(self, path: str, timeout: float = 30.0) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        self._sock.connect(path)
        self._file = self._sock.makefile("rwb", buffering=0)
        self._lock = threading.Lock()
        greeting = self._read()
        if "QMP" not in greeting:
            raise QmpError(f"not a QMP greeting: {greeting}")
        self.greeting: dict[str, Any] = greeting["QMP"]
        self.command("qmp_capabilities")

    @property
    def qemu_version(self) -> str | None:
        """major.minor.micro of the QEMU on the other end, from the greeting: what `--version` prints."""
        v = self.greeting.get("version", {}).get("qemu")
        return f"{v['major']}.{v['minor']}.{v['micro']}" if isinstance(v, dict) else None

    def _read(self) -> dict[str, Any]:
        while True:
            line = self._file.readline()
            if not line:
                raise QmpDisconnected("QMP socket closed")
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def command(self, name: str, **arguments: Any) -> Any:
        request: dict[str, Any] = {"execute": name}
        if arguments:
            request["arguments"] = arguments
        with self._lock:
            try:
                self._file.write(json.dumps(request).encode() + b"\n")
                reply = self._read()
            except (OSError, ValueError) as exc:
                raise QmpDisconnected(f"QMP connection lost: {exc}") from None
        if "error" in reply:
            err = reply["error"]
            raise QmpError(f"{name}: {err.get('class')}: {err.get('desc')}")
        return reply.get("return")

    def close(self) -> None:
        try:
            self._file.close()
        finally:
            self._sock.close()
