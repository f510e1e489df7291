"""RESD (Renode Sensor Data) writer and reader.

Layout, little-endian throughout, as Renode's reader parses it (renode-infrastructure,
src/Emulator/Main/Utilities/RESD/LowLevelRESDParser.cs, DataBlock.cs, MetadataBlock.cs, RESDSample.cs):

    file header   "RESD" u8 version=1, 3 zero bytes
    block header  u8 block_type (1 arbitrary timestamp, 2 constant frequency), u16 sample_type, u16 channel_id,
                  u64 data_size  -- 8 bytes: DataBlockHeader.ReadFromStream calls ReadUInt64 (the documentation's
                                    table gives bytes 5-8, i.e. 4 bytes, which is wrong; csv2resd writes Int64ul)
    subheader     constant frequency: u64 start_time_ns, u64 period_ns; arbitrary timestamp: u64 start_time_ns
    metadata      u64 size, then items: NUL-terminated key, u8 type, value
    samples       constant frequency: sample...; arbitrary timestamp: (u64 timestamp_ns relative to start, sample)...

data_size counts everything after the block header: subheader + 8 + metadata size + samples.
Units: temperature m°C (i32), acceleration µg (3 x i32), angular rate µ°/s (3 x i32), voltage µV (u32),
ECG nV (i32), humidity m%RH (u32), pressure mPa (u64), magnetic flux density nT (3 x i32), illuminance mlx (u32).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

import numpy as np

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.core.inputs import MAX_RESD_BYTES, read_input_bytes

MAGIC = b"RESD"
VERSION = 1
BLOCK_HEADER = struct.Struct("<BHHQ")


class BlockType(IntEnum):
    ARBITRARY_TIMESTAMP = 0x01
    CONSTANT_FREQUENCY = 0x02


class SampleType(IntEnum):
    TEMPERATURE = 0x0001
    ACCELERATION = 0x0002
    ANGULAR_RATE = 0x0003
    VOLTAGE = 0x0004
    ECG = 0x0005
    HUMIDITY = 0x0006
    PRESSURE = 0x0007
    MAGNETIC_FLUX_DENSITY = 0x0008
    ILLUMINANCE = 0x000A


# numpy dtype of one sample's fields and how many fields a sample has.
SAMPLE_FORMAT: dict[SampleType, tuple[str, int]] = {
    SampleType.TEMPERATURE: ("<i4", 1),
    SampleType.ACCELERATION: ("<i4", 3),
    SampleType.ANGULAR_RATE: ("<i4", 3),
    SampleType.VOLTAGE: ("<u4", 1),
    SampleType.ECG: ("<i4", 1),
    SampleType.HUMIDITY: ("<u4", 1),
    SampleType.PRESSURE: ("<u8", 1),
    SampleType.MAGNETIC_FLUX_DENSITY: ("<i4", 3),
    SampleType.ILLUMINANCE: ("<u4", 1),
}

# Metadata value types (MetadataValue.cs / csv2resd grammar.py).
_META_INT = {
    0x01: "<b",
    0x02: "<B",
    0x03: "<h",
    0x04: "<H",
    0x05: "<i",
    0x06: "<I",
    0x07: "<q",
    0x08: "<Q",
    0x09: "<f",
    0x0A: "<d",
}
META_STRING = 0x0B
META_BLOB = 0x0C

MetadataValue = int | float | str | bytes


@dataclass
class Block:
    """One RESD data block: constant frequency when `period_ns` is set, arbitrary timestamps otherwise."""

    sample_type: SampleType
    samples: np.ndarray  # (n,) or (n, fields) integers in RESD units
    channel_id: int = 0
    start_time_ns: int = 0
    period_ns: int | None = None
    timestamps_ns: np.ndarray | None = None  # relative to start_time_ns, arbitrary-timestamp blocks only
    metadata: dict[str, tuple[int, MetadataValue]] = field(default_factory=dict)

    @property
    def block_type(self) -> BlockType:
        return BlockType.CONSTANT_FREQUENCY if self.period_ns is not None else BlockType.ARBITRARY_TIMESTAMP


def _encode_metadata(items: dict[str, tuple[int, MetadataValue]]) -> bytes:
    out = bytearray()
    for key, (kind, value) in items.items():
        out += key.encode() + b"\0" + bytes([kind])
        if kind in _META_INT:
            out += struct.pack(_META_INT[kind], value)
        elif kind == META_STRING:
            assert isinstance(value, str)
            out += value.encode() + b"\0"
        elif kind == META_BLOB:
            assert isinstance(value, bytes)
            out += struct.pack("<I", len(value)) + value
        else:
            raise ValueError(f"metadata {key!r}: unknown type {kind:#x}")
    return bytes(out)


def _sample_bytes(block: Block) -> bytes:
    dtype, fields = SAMPLE_FORMAT[block.sample_type]
    data = np.asarray(block.samples)
    data = data.reshape(len(data), fields)
    info = np.iinfo(np.dtype(dtype))
    if data.size and (data.min() < info.min or data.max() > info.max):
        raise ValueError(f"{block.sample_type.name} samples do not fit {dtype}: {data.min()}..{data.max()}")
    values = data.astype(dtype)
    if block.period_ns is not None:
        return values.tobytes()
    assert block.timestamps_ns is not None and len(block.timestamps_ns) == len(values)
    rec = np.empty(len(values), dtype=[("t", "<u8"), ("v", dtype, (fields,))])
    rec["t"] = np.asarray(block.timestamps_ns, dtype=np.int64)
    rec["v"] = values
    return rec.tobytes()


def encode_block(block: Block) -> bytes:
    if block.period_ns is not None:
        if block.period_ns <= 0:
            raise ValueError("period_ns must be positive")
        sub = struct.pack("<QQ", block.start_time_ns, block.period_ns)
    else:
        if block.timestamps_ns is None:
            raise ValueError("an arbitrary-timestamp block needs timestamps_ns")
        sub = struct.pack("<Q", block.start_time_ns)
    meta = _encode_metadata(block.metadata)
    body = sub + struct.pack("<Q", len(meta)) + meta + _sample_bytes(block)
    return BLOCK_HEADER.pack(block.block_type, block.sample_type, block.channel_id, len(body)) + body


def encode(blocks: list[Block]) -> bytes:
    return MAGIC + bytes([VERSION, 0, 0, 0]) + b"".join(encode_block(b) for b in blocks)


def write(path: Path, blocks: list[Block]) -> None:
    path.write_bytes(encode(blocks))


def _decode_metadata(data: bytes) -> dict[str, tuple[int, MetadataValue]]:
    items: dict[str, tuple[int, MetadataValue]] = {}
    pos = 0
    while pos < len(data):
        end = data.index(b"\0", pos)
        key = data[pos:end].decode()
        kind = data[end + 1]
        pos = end + 2
        value: MetadataValue
        if kind in _META_INT:
            size = struct.calcsize(_META_INT[kind])
            (value,) = struct.unpack_from(_META_INT[kind], data, pos)
            pos += size
        elif kind == META_STRING:
            end = data.index(b"\0", pos)
            value, pos = data[pos:end].decode(), end + 1
        elif kind == META_BLOB:
            (size,) = struct.unpack_from("<I", data, pos)
            value, pos = data[pos + 4 : pos + 4 + size], pos + 4 + size
        else:
            raise ValueError(f"metadata {key!r}: unknown type {kind:#x}")
        items[key] = (kind, value)
    return items


def decode(data: bytes) -> list[Block]:
    """Parse a RESD file the way Renode does; raises ValueError on anything Renode would reject."""
    if data[:4] != MAGIC:
        raise ValueError("not a RESD file (no RESD magic at its start)")
    if data[4] != VERSION or data[5:8] != b"\0\0\0":
        raise ValueError(f"unsupported RESD version {data[4]} or non-zero padding")
    pos, blocks = 8, []
    while pos < len(data):
        btype, stype, channel, size = BLOCK_HEADER.unpack_from(data, pos)
        pos += BLOCK_HEADER.size
        body = data[pos : pos + size]
        if len(body) != size:
            raise ValueError(f"block at {pos - BLOCK_HEADER.size} claims {size} bytes, {len(body)} left")
        pos += size
        sample_type = SampleType(stype)
        dtype, fields = SAMPLE_FORMAT[sample_type]
        if btype == BlockType.CONSTANT_FREQUENCY:
            start, period = struct.unpack_from("<QQ", body, 0)
            off = 16
        elif btype == BlockType.ARBITRARY_TIMESTAMP:
            (start,), period = struct.unpack_from("<Q", body, 0), None
            off = 8
        else:
            raise ValueError(f"unknown block type {btype}")
        (meta_size,) = struct.unpack_from("<Q", body, off)
        metadata = _decode_metadata(body[off + 8 : off + 8 + meta_size])
        raw = body[off + 8 + meta_size :]
        if period is not None:
            samples = np.frombuffer(raw, dtype=dtype).reshape(-1, fields)
            stamps = None
        else:
            rec = np.frombuffer(raw, dtype=[("t", "<u8"), ("v", dtype, (fields,))])
            samples, stamps = rec["v"].reshape(-1, fields), rec["t"].astype(np.int64)
        blocks.append(
            Block(
                sample_type,
                samples.squeeze(axis=1) if fields == 1 else samples,
                channel,
                start,
                period,
                stamps,
                metadata,
            )
        )
    return blocks


def read(path: Path) -> list[Block]:
    """The blocks of the RESD file at `path` (a regular file of bounded size, core.inputs); BadInput if malformed."""
    data = read_input_bytes(path, what="RESD file", max_bytes=MAX_RESD_BYTES)
    try:
        return decode(data)
    except (ValueError, struct.error, IndexError) as exc:  # UnicodeDecodeError is a ValueError
        raise BadInput(f"{path}: not a valid RESD file ({exc.__class__.__name__}: {str(exc)[:80]})") from None
