"""RESD writer: byte-identical to Renode's csv2resd output (golden files in tests/data/resd)."""

from __future__ import annotations

import csv
import struct
from pathlib import Path

import numpy as np
import pytest

from tinyml_cosim.sensors import resd

DATA = Path(__file__).parent / "data" / "resd"


def _column(name: str, *cols: str) -> np.ndarray:
    with (DATA / name).open() as fh:
        rows = list(csv.DictReader(fh))
    return np.array([[int(r[c]) for c in cols] for r in rows]).squeeze()


def accel_block() -> resd.Block:
    # csv2resd.py --input accel.csv --map acceleration:ax,ay,az:x,y,z:0 --start-time 0 --frequency 400
    return resd.Block(resd.SampleType.ACCELERATION, _column("accel.csv", "ax", "ay", "az"), 0, 0, 2_500_000)


def temp_block() -> resd.Block:
    # csv2resd.py --input temp.csv --map temperature:t_mdeg::1 --start-time 1000000 --frequency 10
    return resd.Block(resd.SampleType.TEMPERATURE, _column("temp.csv", "t_mdeg"), 1, 1_000_000, 100_000_000)


def test_constant_frequency_acceleration_matches_csv2resd() -> None:
    assert resd.encode([accel_block()]) == (DATA / "accel_400hz.resd").read_bytes()


def test_temperature_channel_and_start_time_match_csv2resd() -> None:
    assert resd.encode([temp_block()]) == (DATA / "temp_10hz_ch1.resd").read_bytes()


def test_arbitrary_timestamps_match_csv2resd() -> None:
    # csv2resd.py --input temp_ts.csv --map temperature:t_mdeg --timestamp ts --start-time 0
    block = resd.Block(
        resd.SampleType.TEMPERATURE, _column("temp_ts.csv", "t_mdeg"), 0, 0, None, _column("temp_ts.csv", "ts")
    )
    assert resd.encode([block]) == (DATA / "temp_arbitrary.resd").read_bytes()


def test_two_blocks_match_csv2resd() -> None:
    assert resd.encode([accel_block(), temp_block()]) == (DATA / "combined.resd").read_bytes()


def test_block_header_data_size_is_u64() -> None:
    # Renode's DataBlockHeader.ReadFromStream: ReadByte, ReadUInt16, ReadUInt16, ReadUInt64 (13 bytes).
    data = resd.encode([accel_block()])
    btype, stype, channel, size = struct.unpack_from("<BHHQ", data, 8)
    assert (btype, stype, channel) == (2, 2, 0)
    assert size == 16 + 8 + 6 * 12 == len(data) - 8 - 13


def test_decode_round_trip_with_metadata() -> None:
    meta = {"sensor": (resd.META_STRING, "accel"), "gain": (0x0A, 1.5), "n": (0x06, 7)}
    block = resd.Block(resd.SampleType.VOLTAGE, np.array([0, 1, 4_000_000_000]), 3, 5, 1000, None, meta)
    (back,) = resd.decode(resd.encode([block]))
    assert back.samples.tolist() == [0, 1, 4_000_000_000]
    assert (back.channel_id, back.start_time_ns, back.period_ns, back.metadata) == (3, 5, 1000, meta)


def test_rejects_values_that_do_not_fit() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        resd.encode([resd.Block(resd.SampleType.VOLTAGE, np.array([-1]), 0, 0, 1000)])
    with pytest.raises(ValueError, match="not a RESD file"):
        resd.decode(b"RESX\x01\0\0\0")
