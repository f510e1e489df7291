"""A minimal GDB remote serial protocol (RSP) client: breakpoints, continue, registers — what `--measure` needs.

Written here because the reachable alternatives drive a whole gdb process (pygdbmi + gdb-multiarch: ~0.3 s start-up
and a second process per run) when the host needs five packet types: `Z0`/`z0` (breakpoints), `c` (continue), `g`
(registers), `?` (why stopped) and the interrupt byte. Packets are `$payload#checksum`, acknowledged with `+`.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time
from dataclasses import dataclass


class RspError(Exception):
    """The stub answered with an error or the connection broke."""


@dataclass(frozen=True)
class StopReply:
    kind: str  # "T"/"S": stopped by a signal (breakpoint: SIGTRAP 05); "W": exited; "X": killed
    code: int  # signal number, or exit status for "W"
    detail: str = ""  # the reply's `n:r;` pairs, e.g. "watch:080e0000;thread:01;" for a watchpoint

    @property
    def exited(self) -> bool:
        return self.kind in ("W", "X")


def _checksum(payload: bytes) -> bytes:
    return f"{sum(payload) % 256:02x}".encode()


class RspClient:
    def __init__(self, host: str, port: int, connect_timeout: float = 10.0) -> None:
        deadline = time.monotonic() + connect_timeout
        while True:
            try:
                self._sock = socket.create_connection((host, port), timeout=connect_timeout)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RspError(f"cannot connect to the GDB server at {host}:{port}") from None
                time.sleep(0.01)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = b""

    @classmethod
    def unix(cls, path: str, connect_timeout: float = 10.0) -> RspClient:
        """A client on a GDB stub served on a unix socket (`-gdb chardev:...`): no TCP port to pick or collide on."""
        self = cls.__new__(cls)
        deadline = time.monotonic() + connect_timeout
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(path)
                break
            except OSError:
                sock.close()
                if time.monotonic() > deadline:
                    raise RspError(f"cannot connect to the GDB server at {path}") from None
                time.sleep(0.005)
        self._sock, self._buf = sock, b""
        return self

    def poll_stop(self) -> StopReply | None:
        """A stop reply that has already arrived (e.g. a breakpoint hit while the CPU ran), without waiting."""
        if b"$" not in self._buf and not select.select([self._sock], [], [], 0)[0]:
            return None
        try:
            return self.wait_stop(timeout=0.5)  # a packet has begun arriving: the rest follows at once
        except TimeoutError:
            return None

    # --- framing ---
    def _recv(self, timeout: float | None) -> bytes:
        self._sock.settimeout(timeout)
        chunk = self._sock.recv(65536)
        if not chunk:
            raise RspError("GDB server closed the connection")
        return chunk

    def _send_packet(self, payload: bytes) -> None:
        self._sock.sendall(b"$" + payload + b"#" + _checksum(payload))

    def _read_packet(self, timeout: float | None) -> bytes:
        """The next packet's payload (acks skipped); raises TimeoutError when nothing complete arrives in time."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            start = self._buf.find(b"$")
            if start >= 0:
                end = self._buf.find(b"#", start)
                if end >= 0 and len(self._buf) >= end + 3:
                    payload, self._buf = self._buf[start + 1 : end], self._buf[end + 3 :]
                    self._sock.sendall(b"+")
                    return payload
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if remaining == 0.0:
                raise TimeoutError("no reply from the GDB server")
            self._buf += self._recv(remaining)

    def command(self, payload: str, timeout: float = 10.0) -> str:
        self._send_packet(payload.encode())
        reply = self._read_packet(timeout).decode()
        if reply.startswith("E") and len(reply) == 3:
            raise RspError(f"GDB server refused {payload!r}: {reply}")
        return reply

    # --- operations ---
    def set_breakpoint(self, address: int) -> None:
        if self.command(f"Z0,{address:x},2") != "OK":
            raise RspError(f"cannot set a breakpoint at 0x{address:08x}")

    def remove_breakpoint(self, address: int) -> None:
        """Remove a breakpoint; removing one that is not set is not an error here."""
        with contextlib.suppress(RspError):
            self.command(f"z0,{address:x},2")

    def registers(self) -> list[int]:
        """r0..r15 (then whatever the target description adds), as integers."""
        raw = bytes.fromhex(self.command("g"))
        return [int.from_bytes(raw[i : i + 4], "little") for i in range(0, min(len(raw), 17 * 4), 4)]

    def cont(self) -> None:
        self._send_packet(b"c")

    def wait_stop(self, timeout: float | None) -> StopReply:
        """Wait for the stop reply of a `c`; TimeoutError if the target is still running after `timeout`."""
        while True:
            reply = self._read_packet(timeout).decode()
            if reply[:1] in ("T", "S", "W", "X"):
                return StopReply(reply[0], int(reply[1:3], 16), reply[3:])
            # "O" console output packets and anything else: keep waiting

    def interrupt(self) -> None:
        self._sock.sendall(b"\x03")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()
