"""SampleStream: one sensor's generated output, as raw part values with timestamps and ground-truth labels."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from tinyml_cosim.protocol.datachannel import RateStream


@dataclass(frozen=True)
class FaultWindow:
    """Where an impairment was active, for plots and ground truth (end_s is exclusive)."""

    kind: str
    start_s: float
    end_s: float
    index: int


@dataclass(frozen=True)
class SampleStream:
    """Samples as the part delivers them.

    raw:           (n, channels) register values exactly as the firmware reads them (e.g. LIS2DW12: int16 holding a
                   14-bit code shifted left by 2); dtype is the bus word (int16/uint16/...).
    timestamps_ns: (n,) int64, the simulated instant each sample was taken (jitter and clock drift included).
    index:         (n,) int64, the nominal sample number k (sample k is due at k / odr_hz); gaps mark dropouts.
    labels:        (n,) int16 index into label_names, the timeline segment each sample falls in.
    physical:      (n, channels) float64, the quantity the part saw after physical impairments, in `unit`.
    """

    sensor_id: str
    part: str
    kind: str
    unit: str
    channels: tuple[str, ...]
    odr_hz: float
    raw: np.ndarray
    timestamps_ns: np.ndarray
    index: np.ndarray
    labels: np.ndarray
    label_names: tuple[str, ...]
    physical: np.ndarray
    shift: int
    sensitivity: float = field(metadata={"unit": "unit per code"}, default=1.0)
    fault_windows: tuple[FaultWindow, ...] = ()

    def __len__(self) -> int:
        return int(self.raw.shape[0])

    @property
    def codes(self) -> np.ndarray:
        """The part's data codes without left-justification padding (arithmetic shift keeps the sign)."""
        return self.raw.astype(np.int64) >> self.shift

    @property
    def sample_bytes(self) -> int:
        return int(self.raw.dtype.itemsize * self.raw.shape[1])

    def to_bytes(self) -> bytes:
        """The bus bytes, sample after sample, channels in part order (e.g. X_L X_H Y_L Y_H Z_L Z_H)."""
        return np.ascontiguousarray(self.raw).tobytes()

    def label_at(self, i: int) -> str:
        return self.label_names[int(self.labels[i])]

    def sha256(self) -> str:
        """Hash of everything the stream delivers: bus bytes, timestamps, indices and labels (little-endian)."""
        h = hashlib.sha256()
        h.update(self.sensor_id.encode() + b"\0" + self.raw.dtype.str.encode() + b"\0")
        h.update(self.to_bytes())
        h.update(self.timestamps_ns.astype("<i8").tobytes())
        h.update(self.index.astype("<i8").tobytes())
        h.update(self.labels.astype("<i2").tobytes())
        h.update("\0".join(self.label_names).encode())
        return h.hexdigest()

    def rate_stream(self, clock_hz: int) -> RateStream:
        """Serve the bus bytes through the data channel at the nominal ODR (sample k due at ceil(k*f_clk/ODR))."""
        return RateStream(self.to_bytes(), self.sample_bytes, self.odr_hz, clock_hz)


def streams_sha256(streams: dict[str, SampleStream]) -> str:
    """One hash for a whole scenario's output, independent of dict order."""
    h = hashlib.sha256()
    for sensor_id in sorted(streams):
        h.update(sensor_id.encode() + b"=" + streams[sensor_id].sha256().encode() + b"\n")
    return h.hexdigest()
