"""Serve data-channel frames over any byte stream (FIFO pair, socket, UART chardev)."""

from __future__ import annotations

from collections.abc import Callable

from tinyml_cosim.protocol.datachannel import DataService
from tinyml_cosim.protocol.frames import FRAME_HEADER, Frame, FrameError, FrameType, decode_frame, decode_header


def serve_frames(
    read_exact: Callable[[int], bytes | None], write: Callable[[bytes], object], data: DataService
) -> None:
    """Answer request frames until the stream ends; a corrupt frame is answered with an ERROR frame."""
    while True:
        head = read_exact(FRAME_HEADER.size)
        if head is None:
            return
        try:
            _type, _flags, length, instructions = decode_header(head)
        except FrameError as exc:
            write(Frame(FrameType.ERROR, 0, str(exc).encode()).encode())
            return  # the stream is out of step; nothing after this can be trusted
        rest = read_exact(length + 4)
        if rest is None:
            return
        try:
            reply = data.handle(decode_frame(head + rest))
        except FrameError as exc:
            reply = Frame(FrameType.ERROR, instructions, str(exc).encode())
        write(reply.encode())
