"""The RAM-mailbox data channel on Renode: a CPU hook inside Renode plus a TCP server on the host.

The firmware writes a request frame into `cosim_mailbox`, sets state=REQUEST and calls `cosim_mailbox_doorbell()`.
Renode runs the hook (`cpu AddHook <doorbell>`, an IronPython 2.7 script) on the CPU thread before the doorbell's
first instruction executes; the hook sends the request to `MailboxServer` and blocks until the reply is back in the
mailbox with state=REPLY. The CPU thread does not advance while it waits, so no virtual time passes while the host
works — the reply is deterministic in simulated time.

Mailbox layout (tinyml_cosim.protocol.frames.MAILBOX_HEADER, little-endian): state, request length, reply length,
capacity; then the request buffer (capacity bytes) and the reply buffer (capacity bytes).

Hook <-> host wire format (private to this module): the hook sends b"CSMB", u32 request length, u32 capacity and
the request bytes; the host answers u32 reply length and the reply bytes (never more than capacity).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from pathlib import Path

from tinyml_cosim.protocol.datachannel import DataService
from tinyml_cosim.protocol.frames import (
    FRAME_HEADER,
    MAILBOX_HEADER,
    MAILBOX_IDLE,
    MAILBOX_REPLY,
    MAILBOX_REQUEST,
    Frame,
    FrameError,
    FrameType,
    decode_frame,
)

WIRE_MAGIC = b"CSMB"
WIRE_REQUEST = struct.Struct("<4sII")
WIRE_REPLY = struct.Struct("<I")
REQUEST_OFFSET = MAILBOX_HEADER.size


def reply_offset(capacity: int) -> int:
    return MAILBOX_HEADER.size + capacity


def error_frame(instructions: int, text: str, capacity: int) -> bytes:
    """An ERROR frame (payload: u32 code 1, then the text, as DataService does) cut to fit `capacity`."""
    room = capacity - FRAME_HEADER.size - 4 - 4
    if room < 0:
        return b""
    body = text.encode("utf-8", errors="replace")[:room]
    return Frame(FrameType.ERROR, instructions, struct.pack("<I", 1) + body).encode()


def service_request(data: DataService, raw: bytes, capacity: int) -> bytes:
    """The reply bytes for one request read from the mailbox; never longer than `capacity`."""
    try:
        request = decode_frame(raw)
    except FrameError as exc:
        instructions = 0
        if len(raw) >= FRAME_HEADER.size:
            instructions = FRAME_HEADER.unpack_from(raw)[4]
        return error_frame(instructions, f"bad request frame in the mailbox: {exc}", capacity)
    reply = data.handle(request, max_reply=capacity).encode()
    if len(reply) > capacity:
        return error_frame(
            request.instructions, f"reply of {len(reply)} bytes exceeds the mailbox capacity of {capacity}", capacity
        )
    return reply


class MailboxServer:
    """Answers the hook's requests with a DataService; counts them as data-channel progress."""

    def __init__(self, data: DataService, host: str = "127.0.0.1") -> None:
        self.data = data
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(1)
        self.port: int = self._listener.getsockname()[1]
        self.requests = 0
        self.last_activity = time.monotonic()
        self.error: str | None = None
        self._closed = threading.Event()
        self._conn: socket.socket | None = None
        self._thread = threading.Thread(target=self._serve, name="cosim-renode-mailbox", daemon=True)
        self._thread.start()

    def _recv_exact(self, conn: socket.socket, n: int) -> bytes | None:
        data = b""
        while len(data) < n:
            part = conn.recv(n - len(data))
            if not part:
                return None
            data += part
        return data

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._conn = conn
            try:
                while True:
                    head = self._recv_exact(conn, WIRE_REQUEST.size)
                    if head is None:
                        break
                    magic, length, capacity = WIRE_REQUEST.unpack(head)
                    if magic != WIRE_MAGIC:
                        self.error = f"mailbox hook sent bad magic {magic!r}"
                        break
                    raw = self._recv_exact(conn, length) if length else b""
                    if raw is None:
                        break
                    reply = service_request(self.data, raw, capacity)
                    self.requests += 1
                    self.last_activity = time.monotonic()
                    conn.sendall(WIRE_REPLY.pack(len(reply)) + reply)
            except OSError as exc:
                if not self._closed.is_set():
                    self.error = f"mailbox connection failed: {exc}"
            finally:
                conn.close()
                self._conn = None

    def close(self) -> None:
        self._closed.set()
        for s in (self._listener, self._conn):
            if s is not None:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    s.close()
        self._thread.join(timeout=2)


# The hook file. Written for IronPython 2.7 (Renode 1.16's scripting engine) and runnable under CPython 3 for the
# tests: bytes are built with struct (str on 2.7, bytes on 3), memory is accessed through machine.SystemBus
# (ReadDoubleWord/ReadBytes/WriteDoubleWord/WriteByte, SystemBusGenerated.cs / SystemBus.cs in Renode 1.16.1).
HOOK_TEMPLATE = """\
# Generated by tinyml-cosim: services the firmware's RAM mailbox from inside Renode. Do not edit.
# Runs on Renode's CPU thread when PC reaches cosim_mailbox_doorbell: the CPU (and virtual time) waits while the
# host answers over TCP, and the reply is in the mailbox before the doorbell's first instruction executes.
import socket
import struct

COSIM_MAILBOX = 0x{mailbox:08X}
COSIM_PORT = {port}
COSIM_REQUEST = {request}
COSIM_REPLY = {reply}
COSIM_HEADER = {header}
_cosim_conn = [None]


def _cosim_recv_exact(sock, n):
    data = b''
    while len(data) < n:
        part = sock.recv(n - len(data))
        if not part:
            raise IOError('tinyml-cosim closed the mailbox connection')
        data += part
    return data


def cosim_ring(machine):
    bus = machine.SystemBus
    base = COSIM_MAILBOX
    if int(bus.ReadDoubleWord(base)) != COSIM_REQUEST:
        return
    length = int(bus.ReadDoubleWord(base + 4))
    capacity = int(bus.ReadDoubleWord(base + 12))
    length = min(length, capacity)
    values = [int(b) for b in bus.ReadBytes(base + COSIM_HEADER, length)] if length else []
    raw = struct.pack('<%dB' % len(values), *values)
    sock = _cosim_conn[0]
    if sock is None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.connect(('127.0.0.1', COSIM_PORT))
        _cosim_conn[0] = sock
    sock.sendall(struct.pack('<4sII', b'CSMB', length, capacity) + raw)
    n = struct.unpack('<I', _cosim_recv_exact(sock, 4))[0]
    reply = _cosim_recv_exact(sock, n) if n else b''
    out = base + COSIM_HEADER + capacity
    full = n - n % 4
    for off in range(0, full, 4):
        bus.WriteDoubleWord(out + off, struct.unpack_from('<I', reply, off)[0])
    for off in range(full, n):
        bus.WriteByte(out + off, ord(reply[off:off + 1]))
    bus.WriteDoubleWord(base + 8, n)
    bus.WriteDoubleWord(base, COSIM_REPLY)
"""


def hook_file_text(mailbox: int, port: int) -> str:
    return HOOK_TEMPLATE.format(
        mailbox=mailbox, port=port, request=MAILBOX_REQUEST, reply=MAILBOX_REPLY, header=MAILBOX_HEADER.size
    )


def hook_one_liner(path: Path) -> str:
    """The script given to `cpu AddHook`: loads the hook file once into the hook's scope, then rings.

    One line and no double quotes, so it fits a monitor string token. BlockPythonEngine keeps one scope per hook,
    so `cosim_ring` survives between calls and the file is compiled once.
    """
    text = str(path)
    if any(c in text for c in "'\"\\\n"):
        raise ValueError(f"{text}: the hook path must not contain quotes, backslashes or newlines")
    return f"globals().get('cosim_ring') or execfile(r'{text}'); cosim_ring(machine)"


__all__ = [
    "MAILBOX_IDLE",
    "MAILBOX_REPLY",
    "MAILBOX_REQUEST",
    "MailboxServer",
    "hook_file_text",
    "hook_one_liner",
    "reply_offset",
    "service_request",
]
