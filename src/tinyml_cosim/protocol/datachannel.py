"""Host side of the data channel: answers the firmware's request frames, whatever transport carried them.

Samples exist in simulated time: sample k of a stream at `rate_hz` is due at instruction ceil(k * f_clk / rate_hz).
A READ request carries the firmware's instruction count, so the reply holds exactly the samples due by then and
says when the next one is due — deterministic, and independent of wall-clock time.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from tinyml_cosim.protocol.frames import (
    DATA_END_OF_STREAM,
    DATA_OVERRUN,
    DATA_REPLY,
    FRAME_OVERHEAD,
    HELLO_REQUEST,
    NO_MORE,
    PROTOCOL_VERSION,
    READ_REQUEST,
    WRITE_REQUEST,
    Frame,
    FrameType,
)


@dataclass(frozen=True)
class ReadResult:
    data: bytes
    next_due: int  # instruction count when the next sample exists, or NO_MORE
    end_of_stream: bool = False
    dropped: int = 0  # samples lost since the previous read (a FIFO overrun in the part)


class Stream(Protocol):
    def read(self, up_to_instructions: int, max_bytes: int) -> ReadResult:
        """The bytes due by `up_to_instructions` (at most `max_bytes`), and when the next sample is due."""
        ...


@dataclass
class RateStream:
    """A fixed buffer of samples released at `rate_hz` in simulated time (t = instructions / clock_hz)."""

    data: bytes
    sample_bytes: int
    rate_hz: float
    clock_hz: int
    next_sample: int = 0

    def __post_init__(self) -> None:
        if len(self.data) % self.sample_bytes:
            raise ValueError(
                f"stream of {len(self.data)} bytes is not a whole number of {self.sample_bytes}-byte samples"
            )
        self._count = len(self.data) // self.sample_bytes

    def due(self, k: int) -> int:
        """Instruction count at which sample k exists (integer arithmetic: no float drift over long streams)."""
        num = k * self.clock_hz
        if float(self.rate_hz).is_integer():
            rate = int(self.rate_hz)
            return -(-num // rate)
        return int(-(-num // self.rate_hz))

    def available_by(self, instructions: int) -> int:
        """How many samples exist by `instructions` (the inverse of `due`)."""
        if float(self.rate_hz).is_integer():
            return min(self._count, instructions * int(self.rate_hz) // self.clock_hz + 1)
        return min(self._count, int(instructions * self.rate_hz // self.clock_hz) + 1)

    def read(self, up_to_instructions: int, max_bytes: int) -> ReadResult:
        limit = min(self.available_by(up_to_instructions), self.next_sample + max_bytes // self.sample_bytes)
        start, self.next_sample = self.next_sample, max(self.next_sample, limit)
        chunk = self.data[start * self.sample_bytes : self.next_sample * self.sample_bytes]
        done = self.next_sample >= self._count
        return ReadResult(chunk, NO_MORE if done else self.due(self.next_sample), done)


@dataclass
class ChannelStats:
    requests: int = 0
    bytes_to_firmware: int = 0
    bytes_from_firmware: int = 0
    last_instructions: int = 0
    firmware_name: str | None = None
    firmware_protocol: int | None = None


@dataclass
class DataService:
    """Answers HELLO, READ and WRITE frames; every engine's transport hands frames to one of these."""

    streams: dict[int, Stream] = field(default_factory=dict)
    sinks: dict[int, Callable[[bytes], None]] = field(default_factory=dict)
    stats: ChannelStats = field(default_factory=ChannelStats)

    def handle(self, request: Frame, max_reply: int | None = None) -> Frame:
        """Answer one request; `max_reply` bounds the encoded reply (a transport's buffer, e.g. the RAM mailbox),
        so a READ asking for more than fits gets fewer samples rather than an error."""
        self.stats.requests += 1
        self.stats.last_instructions = max(self.stats.last_instructions, request.instructions)
        self.stats.bytes_from_firmware += len(request.payload)
        t = request.instructions
        if request.type == FrameType.HELLO:
            if len(request.payload) < HELLO_REQUEST.size:
                return self._error(t, "HELLO payload too short")
            version, _ = HELLO_REQUEST.unpack_from(request.payload)
            self.stats.firmware_protocol = version
            self.stats.firmware_name = request.payload[HELLO_REQUEST.size :].decode("utf-8", "replace")
            if version != PROTOCOL_VERSION:
                return self._error(t, f"firmware speaks protocol v{version}, host speaks v{PROTOCOL_VERSION}")
            return Frame(FrameType.HELLO_ACK, t, struct.pack("<HH", PROTOCOL_VERSION, len(self.streams)))
        if request.type == FrameType.READ:
            if len(request.payload) != READ_REQUEST.size:
                return self._error(t, "READ payload must be 8 bytes")
            stream_id, _, max_bytes = READ_REQUEST.unpack(request.payload)
            if max_reply is not None:
                max_bytes = min(max_bytes, max(0, max_reply - FRAME_OVERHEAD - DATA_REPLY.size))
            stream = self.streams.get(stream_id)
            if stream is None:
                return self._error(t, f"no stream {stream_id} (streams: {sorted(self.streams)})")
            r = stream.read(t, max_bytes)
            self.stats.bytes_to_firmware += len(r.data)
            flags = (DATA_END_OF_STREAM if r.end_of_stream else 0) | (DATA_OVERRUN if r.dropped else 0)
            reply = DATA_REPLY.pack(stream_id, flags, len(r.data), r.next_due, r.dropped) + r.data
            return Frame(FrameType.DATA, t, reply)
        if request.type == FrameType.WRITE:
            if len(request.payload) < WRITE_REQUEST.size:
                return self._error(t, "WRITE payload too short")
            stream_id, _ = WRITE_REQUEST.unpack_from(request.payload)
            sink = self.sinks.get(stream_id)
            if sink is not None:
                sink(request.payload[WRITE_REQUEST.size :])
            return Frame(FrameType.WRITE_ACK, t, struct.pack("<HH", stream_id, 0))
        return self._error(t, f"unexpected frame type {request.type.name} from firmware")

    @staticmethod
    def _error(instructions: int, text: str) -> Frame:
        return Frame(FrameType.ERROR, instructions, struct.pack("<I", 1) + text.encode())
