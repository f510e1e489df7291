"""Deliver a scenario's sensor streams to firmware through the data channel, with the part's FIFO in simulated time.

A sensor part does not wait for the firmware: sample k exists at its instant t_k (instruction ceil(t_k * f_clk)),
goes into the part's FIFO, and is lost if the FIFO overflows before the firmware reads it. `FifoStream` replays
that: each READ carries the firmware's instruction count T, the stream moves every sample that exists by T into a
FIFO of the part's depth (datasheet `fifo.depth_samples`), and the reply takes whole samples from the oldest end.
Everything depends only on the instruction counts in the requests, so a run is as deterministic as the firmware.

FIFO modes (FIFO chapters of the LIS2DW12 DS12292 and LSM6DSO DS12140 datasheets; the same in both parts):

* ``continuous`` (default; "stream" mode in older ST parts): when the FIFO is full the newest sample overwrites the
  oldest one, so a late reader gets the newest `depth` samples and the oldest ones are lost (FIFO_OVR).
* ``fifo``: when the FIFO is full the part stops storing, so a late reader gets the oldest `depth` samples and the
  newer ones are lost. The real part then stays stopped until the driver switches to bypass and back; we model the
  usual driver that re-arms right after draining, i.e. storing resumes with the first sample produced after a read.

Either way `ReadResult.dropped` counts the samples lost since the previous read (the OVERRUN flag in the reply),
and a firmware that keeps up sees every sample.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from tinyml_cosim.core.boards import Board, load_board
from tinyml_cosim.protocol.datachannel import DataService, ReadResult
from tinyml_cosim.protocol.frames import NO_MORE
from tinyml_cosim.sensors.stream import SampleStream

if TYPE_CHECKING:  # the model module imports this package's __init__, which would import this module back
    from tinyml_cosim.scenario.model import Scenario

FifoMode = Literal["continuous", "fifo"]
Timing = Literal["actual", "nominal"]


def nominal_due(index: np.ndarray, odr_hz: float, clock_hz: int) -> np.ndarray:
    """Instruction count at which nominal sample k exists: ceil(k * f_clk / ODR), in exact integer arithmetic.

    The ODR is taken as the decimal the part file states (1.6 Hz is 8/5, not the nearest binary float), so long
    streams do not accumulate float error and the firmware's closed-form schedule matches to the instruction."""
    rate = Fraction(repr(float(odr_hz)))
    num = index.astype(np.int64) * (clock_hz * rate.denominator)
    return -((-num) // rate.numerator)


def sample_due(stream: SampleStream, clock_hz: int, timing: Timing = "actual") -> np.ndarray:
    """Instruction count at which each delivered sample exists (int64, non-decreasing).

    `actual`: the nominal instant of its index k plus the deviation of the sample's real instant (jitter, clock
    drift) from the nominal one, rounded to whole instructions. Without timing impairments the deviation is exactly
    zero, so this equals ceil(k * f_clk / ODR). `nominal`: ignore the deviation (dropout gaps still show).
    A part's FIFO is ordered, so a jittered sample never overtakes the previous one (running maximum)."""
    index = np.asarray(stream.index, dtype=np.int64)
    due = nominal_due(index, stream.odr_hz, clock_hz)
    if timing == "actual" and len(index):
        # Same expression as the generator's nominal timestamp, so an unimpaired stream has deviation 0 exactly.
        nominal_ns = np.rint((index / stream.odr_hz) * 1e9).astype(np.int64)
        dev_ns = stream.timestamps_ns.astype(np.int64) - nominal_ns
        # round(dev_ns * f_clk / 1e9), half up, in integers: dev_ns * f_clk stays far below 2^63 for any scenario
        due = due + (dev_ns * clock_hz + 500_000_000) // 1_000_000_000
    due = np.maximum(due, 0)
    return np.maximum.accumulate(due) if len(due) else due


@dataclass
class FifoStream:
    """A data-channel `Stream` (tinyml_cosim.protocol.datachannel) that models a sensor part's FIFO in simulated time.

    data:         the bus bytes of every sample the part produces, in order (`sample_bytes` each)
    due:          instruction count at which each sample exists (non-decreasing; see `sample_due`)
    depth:        FIFO depth in samples; None = unbounded (a DMA ring the firmware never lets overflow)
    mode:         `continuous` (overwrite oldest) or `fifo` (stop storing when full); see the module docstring
    """

    data: bytes
    sample_bytes: int
    due: np.ndarray
    depth: int | None = 32
    mode: FifoMode = "continuous"
    _held: deque[list[int]] = field(default_factory=deque, init=False, repr=False)  # [start, end) ranges
    _n_held: int = field(default=0, init=False, repr=False)
    _produced: int = field(default=0, init=False, repr=False)  # samples [0, produced) are held, read or lost
    _lost: int = field(default=0, init=False, repr=False)  # lost since the previous read
    delivered: int = field(default=0, init=False)
    dropped_total: int = field(default=0, init=False)
    overrun_reads: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.sample_bytes <= 0 or len(self.data) % self.sample_bytes:
            raise ValueError(f"{len(self.data)} bytes are not a whole number of {self.sample_bytes}-byte samples")
        self.due = np.asarray(self.due, dtype=np.int64)
        if len(self.due) != len(self.data) // self.sample_bytes:
            raise ValueError(f"{len(self.due)} due instants for {len(self.data) // self.sample_bytes} samples")
        if len(self.due) > 1 and np.any(np.diff(self.due) < 0):
            raise ValueError("due instants must be non-decreasing (a FIFO delivers in order)")
        if self.depth is not None and self.depth <= 0:
            raise ValueError(f"FIFO depth must be positive, got {self.depth}")
        if self.mode not in ("continuous", "fifo"):
            raise ValueError(f"FIFO mode {self.mode!r} is not one of continuous, fifo")

    @property
    def count(self) -> int:
        return len(self.due)

    def exist_by(self, instructions: int) -> int:
        """How many samples the part has produced by `instructions`."""
        # clamp: a 64-bit count from the firmware may exceed int64, which numpy would turn into a float
        return int(np.searchsorted(self.due, min(instructions, 2**63 - 1), side="right"))

    def _push(self, start: int, end: int) -> None:
        if end <= start:
            return
        if self._held and self._held[-1][1] == start:
            self._held[-1][1] = end
        else:
            self._held.append([start, end])
        self._n_held += end - start

    def _advance(self, instructions: int) -> None:
        """Put every sample produced since the last request into the FIFO, losing what does not fit."""
        n = self.exist_by(instructions)
        new_from, self._produced = self._produced, max(self._produced, n)
        if n <= new_from:
            return
        if self.depth is None:
            self._push(new_from, n)
        elif self.mode == "fifo":
            # Full FIFO stops storing: the oldest samples stay, the newer ones are lost.
            take = min(max(self.depth - self._n_held, 0), n - new_from)
            self._push(new_from, new_from + take)
            self._lost += n - new_from - take
        else:
            # Continuous: the newest overwrite the oldest. Only the last `depth` new samples can survive anyway.
            first = max(new_from, n - self.depth)
            self._lost += first - new_from
            self._push(first, n)
            excess = self._n_held - self.depth
            while excess > 0:
                head = self._held[0]
                k = min(excess, head[1] - head[0])
                head[0] += k
                self._n_held -= k
                self._lost += k
                excess -= k
                if head[0] == head[1]:
                    self._held.popleft()

    def read(self, up_to_instructions: int, max_bytes: int) -> ReadResult:
        self._advance(up_to_instructions)
        want = min(self._n_held, max(max_bytes, 0) // self.sample_bytes)
        parts: list[bytes] = []
        sb = self.sample_bytes
        while want:
            head = self._held[0]
            k = min(want, head[1] - head[0])
            parts.append(self.data[head[0] * sb : (head[0] + k) * sb])
            head[0] += k
            self._n_held -= k
            want -= k
            self.delivered += k
            if head[0] == head[1]:
                self._held.popleft()
        dropped, self._lost = self._lost, 0
        self.dropped_total += dropped
        self.overrun_reads += dropped > 0
        done = self._produced >= self.count and self._n_held == 0
        if self._held:
            next_due = int(self.due[self._held[0][0]])  # already exists: the firmware left it in the FIFO
        elif self._produced < self.count:
            next_due = int(self.due[self._produced])
        else:
            next_due = NO_MORE
        return ReadResult(b"".join(parts), next_due, done, dropped)


def fifo_stream(
    stream: SampleStream,
    clock_hz: int,
    depth: int | None,
    mode: FifoMode = "continuous",
    timing: Timing = "actual",
) -> FifoStream:
    return FifoStream(stream.to_bytes(), stream.sample_bytes, sample_due(stream, clock_hz, timing), depth, mode)


@dataclass(frozen=True)
class Delivery:
    """What `data_service_for` built: the service for the engine, and per sensor its samples and its FIFO."""

    service: DataService
    samples: dict[str, SampleStream]  # sensor id -> the generated stream (ground truth, timestamps, labels)
    stream_ids: dict[str, int]  # sensor id -> data-channel stream id
    fifos: dict[str, FifoStream]


def delivery_for(
    scenario: Scenario,
    seed: int | None = None,
    board: Board | str | Path | None = None,
    *,
    mode: FifoMode = "continuous",
    timing: Timing = "actual",
    depths: dict[str, int | None] | None = None,
    samples: dict[str, SampleStream] | None = None,
) -> Delivery:
    """Generate the scenario's streams (or take `samples`) and serve each on its stream id through its part's FIFO.

    Stream ids: the sensor's `stream:` or its position in `sensors:`. FIFO depth: `depths[sensor id]` if given, else
    the part's `fifo.depth_samples`; parts without a FIFO (microphone, ADC) are unbounded, as a DMA ring would be.
    `board` defaults to the scenario's board (its clock turns instants into instruction counts)."""
    b = board if isinstance(board, Board) else load_board(board if board is not None else scenario.board)
    streams = samples if samples is not None else scenario.generate(seed)
    depths = depths or {}
    service = DataService()
    ids: dict[str, int] = {}
    fifos: dict[str, FifoStream] = {}
    for i, spec in enumerate(scenario.sensors):
        sid = spec.stream if spec.stream is not None else i
        part = scenario.part_of(spec)
        depth = depths.get(spec.id, part.fifo.depth_samples if part.fifo else None)
        fifos[spec.id] = fifo_stream(streams[spec.id], b.clock_hz, depth, mode, timing)
        service.streams[sid] = fifos[spec.id]
        ids[spec.id] = sid
    return Delivery(service, streams, ids, fifos)


def data_service_for(
    scenario: Scenario,
    seed: int | None = None,
    board: Board | str | Path | None = None,
    *,
    mode: FifoMode = "continuous",
    timing: Timing = "actual",
    depths: dict[str, int | None] | None = None,
) -> DataService:
    """A DataService with one FifoStream per sensor of `scenario` (see `delivery_for`)."""
    return delivery_for(scenario, seed, board, mode=mode, timing=timing, depths=depths).service
