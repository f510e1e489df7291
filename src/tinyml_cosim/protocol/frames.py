"""Host side of the host↔firmware protocol v1 (docs/protocol.md is the prose version of this module).

Three parts, all shared by every engine:
- the host configuration block the engine writes into the firmware's RAM before the first instruction runs;
- event lines the firmware prints on its console (`@C1 <instructions> <KIND> key=value ... #<crc32>`);
- binary request/response frames on the data channel, whatever the transport (semihosting, RAM mailbox, UART).
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass, field
from enum import IntEnum

PROTOCOL_VERSION = 1

# --- host configuration block (symbol `cosim_host_config`, section .cosim_config, never zeroed by startup) ---
HOST_CONFIG_SYMBOL = "cosim_host_config"
HOST_CONFIG_MAGIC = 0x31485343  # "CSH1" little-endian
HOST_CONFIG_FORMAT = "<IIIIQQ"
HOST_CONFIG_SIZE = struct.calcsize(HOST_CONFIG_FORMAT)


class Transport(IntEnum):
    NONE = 0
    SEMIHOSTING = 1
    MAILBOX = 2
    UART = 3


class ConfigFlag(IntEnum):
    SEMIHOSTING_EXIT = 1 << 0  # the engine turns SYS_EXIT_EXTENDED into its exit status
    DEBUG_SESSION = 1 << 1  # a debugger may hold the CPU: the firmware's watchdog stays off
    # QEMU 7.2's STM32 timer fires its update event at ARR + t(CNT write) + t(ARR write), not when CNT reaches ARR
    QEMU_TIMER_ALARM = 1 << 2


@dataclass(frozen=True)
class HostConfig:
    transport: Transport
    flags: int = 0
    watchdog_instructions: int = 0  # 0: off
    budget_instructions: int = 0  # 0: unlimited

    def pack(self) -> bytes:
        return struct.pack(
            HOST_CONFIG_FORMAT,
            HOST_CONFIG_MAGIC,
            PROTOCOL_VERSION,
            int(self.transport),
            self.flags,
            self.watchdog_instructions,
            self.budget_instructions,
        )

    def words(self) -> list[int]:
        """The block as little-endian 32-bit words, for engines that write memory a word at a time."""
        raw = self.pack()
        return [int.from_bytes(raw[i : i + 4], "little") for i in range(0, len(raw), 4)]


# --- console event lines ---
EVENT_PREFIX = "@C1 "
_EVENT_RE = re.compile(r"^@C1 (?P<instr>[0-9]+) (?P<kind>[A-Z_]+)(?P<fields>(?: [a-z_]+=\S*)*) #(?P<crc>[0-9a-f]{8})$")
# Event kinds that end a run: after one the firmware stops making progress by design (it exits through
# semihosting where the engine supports that, else sleeps in WFI), so every engine and the diagnosis stop there.
TERMINAL_EVENTS = ("EXIT", "BUDGET", "FAULT", "WATCHDOG")


@dataclass(frozen=True)
class Event:
    """One protocol event: what happened, at which instruction count (the firmware's time base)."""

    kind: str
    instructions: int
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        """Whether this event ends the run (TERMINAL_EVENTS)."""
        return self.kind in TERMINAL_EVENTS

    def int_field(self, name: str) -> int | None:
        value = self.fields.get(name)
        if value is None:
            return None
        return int(value, 0)


class CorruptEvent(ValueError):
    """An event line whose CRC does not match: bytes were lost or changed on the way."""


def event_crc(body: str) -> int:
    return zlib.crc32(body.encode("ascii", errors="replace")) & 0xFFFFFFFF


def parse_event(line: str) -> Event | None:
    """Return the event on `line`, None for an ordinary console line; raise CorruptEvent on a bad CRC."""
    if not line.startswith(EVENT_PREFIX):
        return None
    m = _EVENT_RE.match(line.rstrip("\r\n"))
    if m is None:
        raise CorruptEvent(f"malformed event line: {line!r}")
    body = line[: line.rindex(" #")]
    if event_crc(body) != int(m["crc"], 16):
        raise CorruptEvent(f"event line fails its CRC: {line!r}")
    fields = dict(tok.split("=", 1) for tok in m["fields"].split())
    return Event(kind=m["kind"], instructions=int(m["instr"]), fields=fields)


def format_event(event: Event) -> str:
    """The exact line firmware prints for `event` (used by tests and by host-side fakes)."""
    body = f"{EVENT_PREFIX}{event.instructions} {event.kind}" + "".join(f" {k}={v}" for k, v in event.fields.items())
    return f"{body} #{event_crc(body):08x}"


# --- data channel frames ---
FRAME_MAGIC = b"\xc5\x31"
FRAME_HEADER = struct.Struct("<2sBBIQ")  # magic, type, flags, payload length, instructions
FRAME_OVERHEAD = FRAME_HEADER.size + 4
MAX_PAYLOAD = 1 << 20


class FrameType(IntEnum):
    HELLO = 0x01
    READ = 0x02
    WRITE = 0x03
    HELLO_ACK = 0x81
    DATA = 0x82
    WRITE_ACK = 0x83
    ERROR = 0xFF


class FrameError(ValueError):
    """A frame that cannot be decoded: wrong magic, length out of range, CRC mismatch."""


@dataclass(frozen=True)
class Frame:
    type: FrameType
    instructions: int
    payload: bytes = b""
    flags: int = 0

    def encode(self) -> bytes:
        head = FRAME_HEADER.pack(FRAME_MAGIC, int(self.type), self.flags, len(self.payload), self.instructions)
        body = head + self.payload
        return body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)


def decode_header(head: bytes) -> tuple[FrameType, int, int, int]:
    """Validate a frame header; return (type, flags, payload length, instructions)."""
    magic, ftype, flags, length, instructions = FRAME_HEADER.unpack(head)
    if magic != FRAME_MAGIC:
        raise FrameError(f"bad frame magic {magic.hex()} (expected {FRAME_MAGIC.hex()})")
    if length > MAX_PAYLOAD:
        raise FrameError(f"frame payload of {length} bytes exceeds the {MAX_PAYLOAD}-byte limit")
    try:
        return FrameType(ftype), flags, length, instructions
    except ValueError:
        raise FrameError(f"unknown frame type 0x{ftype:02x}") from None


def decode_frame(raw: bytes) -> Frame:
    if len(raw) < FRAME_OVERHEAD:
        raise FrameError(f"frame of {len(raw)} bytes is shorter than the {FRAME_OVERHEAD}-byte minimum")
    ftype, flags, length, instructions = decode_header(raw[: FRAME_HEADER.size])
    if len(raw) != FRAME_OVERHEAD + length:
        raise FrameError(f"frame length {len(raw)} does not match its header ({FRAME_OVERHEAD + length})")
    body, (crc,) = raw[:-4], struct.unpack("<I", raw[-4:])
    if zlib.crc32(body) & 0xFFFFFFFF != crc:
        raise FrameError("frame fails its CRC-32")
    return Frame(ftype, instructions, raw[FRAME_HEADER.size : -4], flags)


# Payload layouts (all little-endian).
READ_REQUEST = struct.Struct("<HHI")  # stream, reserved, max bytes
# stream, flags, byte count, next-due instruction count (NO_MORE if none), samples dropped since the last read
DATA_REPLY = struct.Struct("<HHIQI")
WRITE_REQUEST = struct.Struct("<HH")  # stream, reserved; the bytes follow
HELLO_REQUEST = struct.Struct("<HH")  # protocol version, reserved; the firmware name follows (UTF-8)
DATA_END_OF_STREAM = 1 << 0
DATA_OVERRUN = 1 << 1
NO_MORE = 0xFFFFFFFFFFFFFFFF

# RAM mailbox (symbol `cosim_mailbox`): state, request length, reply length, capacity; then the two buffers.
MAILBOX_SYMBOL = "cosim_mailbox"
MAILBOX_DOORBELL_SYMBOL = "cosim_mailbox_doorbell"
MAILBOX_HEADER = struct.Struct("<IIII")
MAILBOX_IDLE, MAILBOX_REQUEST, MAILBOX_REPLY = 0, 1, 2
