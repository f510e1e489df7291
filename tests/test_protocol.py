"""Protocol v1 host side: event lines, frames, the data service and simulated-time sample release."""

from __future__ import annotations

import struct

import pytest

from tinyml_cosim.protocol.datachannel import DataService, RateStream
from tinyml_cosim.protocol.frames import (
    DATA_END_OF_STREAM,
    DATA_REPLY,
    HOST_CONFIG_MAGIC,
    NO_MORE,
    READ_REQUEST,
    CorruptEvent,
    Event,
    Frame,
    FrameError,
    FrameType,
    HostConfig,
    Transport,
    decode_frame,
    format_event,
    parse_event,
)


def test_event_line_round_trip_and_plain_lines() -> None:
    e = Event("SPAN", 123456789012, {"name": "inference", "begin": "100", "depth": "0"})
    line = format_event(e)
    assert line.startswith("@C1 123456789012 SPAN name=inference begin=100 depth=0 #")
    assert parse_event(line) == e
    assert parse_event("hello world") is None


def test_event_line_matches_what_the_firmware_prints() -> None:
    # Captured from the demo firmware on QEMU: the firmware's CRC-32 must equal zlib's.
    line = "@C1 991409 EXIT code=0 stack_used=516 #71fb63d4"
    assert parse_event(line) == Event("EXIT", 991409, {"code": "0", "stack_used": "516"})


@pytest.mark.parametrize(
    "line",
    [
        "@C1 991409 EXIT code=1 stack_used=516 #71fb63d4",
        "@C1 991409 EXIT code=0 stack_used=516 #71fb63d5",
        "@C1 x EXIT",
    ],
)
def test_corrupt_event_lines_are_rejected(line: str) -> None:
    with pytest.raises(CorruptEvent):
        parse_event(line)


def test_host_config_layout_matches_cosim_h() -> None:
    raw = HostConfig(Transport.MAILBOX, flags=3, watchdog_instructions=1 << 33, budget_instructions=7).pack()
    assert len(raw) == 32
    magic, version, transport, flags, watchdog, budget = struct.unpack("<IIIIQQ", raw)
    assert (magic, version, transport, flags, watchdog, budget) == (HOST_CONFIG_MAGIC, 1, 2, 3, 1 << 33, 7)
    assert HostConfig(Transport.SEMIHOSTING).words()[:3] == [HOST_CONFIG_MAGIC, 1, 1]


def test_frames_round_trip_and_detect_damage() -> None:
    raw = Frame(FrameType.READ, 42, b"\x00\x01\x02").encode()
    assert decode_frame(raw) == Frame(FrameType.READ, 42, b"\x00\x01\x02")
    with pytest.raises(FrameError, match="CRC"):
        decode_frame(raw[:-1] + bytes([raw[-1] ^ 1]))
    with pytest.raises(FrameError, match="magic"):
        decode_frame(b"\x00" + raw[1:])
    with pytest.raises(FrameError, match="shorter"):
        decode_frame(raw[:5])


def test_rate_stream_releases_samples_in_simulated_time() -> None:
    clock, rate = 168_000_000, 16_000  # one sample every 10,500 instructions
    stream = RateStream(bytes(range(200)), sample_bytes=2, rate_hz=rate, clock_hz=clock)
    assert stream.due(0) == 0 and stream.due(1) == 10_500 and stream.due(3) == 31_500
    r = stream.read(up_to_instructions=10_499, max_bytes=1000)
    assert r.data == bytes([0, 1]) and r.next_due == 10_500 and not r.end_of_stream
    r = stream.read(up_to_instructions=31_500, max_bytes=1000)
    assert r.data == bytes([2, 3, 4, 5, 6, 7]) and r.next_due == 42_000
    r = stream.read(up_to_instructions=10**12, max_bytes=4)  # max_bytes bounds the batch
    assert len(r.data) == 4 and r.next_due == stream.due(6)
    r = stream.read(up_to_instructions=10**12, max_bytes=1000)
    assert r.end_of_stream and r.next_due == NO_MORE and len(r.data) == 200 - 12


def test_data_service_answers_hello_read_write_and_errors() -> None:
    got: list[bytes] = []
    svc = DataService(streams={0: RateStream(b"abcdef", 1, 1000, 1_000_000)}, sinks={2: got.append})
    ack = svc.handle(Frame(FrameType.HELLO, 5, struct.pack("<HH", 1, 0) + b"demo"))
    assert ack.type == FrameType.HELLO_ACK and svc.stats.firmware_name == "demo"
    rep = svc.handle(Frame(FrameType.READ, 2000, READ_REQUEST.pack(0, 0, 100)))
    stream, flags, count, next_due, dropped = DATA_REPLY.unpack_from(rep.payload)
    assert (stream, count, next_due, dropped) == (0, 3, 3000, 0) and not flags & DATA_END_OF_STREAM
    assert rep.payload[DATA_REPLY.size :] == b"abc"
    assert svc.handle(Frame(FrameType.WRITE, 1, struct.pack("<HH", 2, 0) + b"xyz")).type == FrameType.WRITE_ACK
    assert got == [b"xyz"]
    err = svc.handle(Frame(FrameType.READ, 1, READ_REQUEST.pack(9, 0, 100)))
    assert err.type == FrameType.ERROR and b"no stream 9" in err.payload
    bad = svc.handle(Frame(FrameType.HELLO, 1, struct.pack("<HH", 2, 0)))
    assert bad.type == FrameType.ERROR and b"protocol v2" in bad.payload


def test_reads_are_clamped_to_the_transport_buffer() -> None:
    svc = DataService(streams={0: RateStream(bytes(5000), 1, 1000, 1000)})
    rep = svc.handle(Frame(FrameType.READ, 10**9, READ_REQUEST.pack(0, 0, 4096)), max_reply=1024)
    assert len(rep.encode()) <= 1024 and rep.type == FrameType.DATA
    assert DATA_REPLY.unpack_from(rep.payload)[2] == 1024 - 20 - DATA_REPLY.size
