"""Sensor delivery: the part's FIFO in simulated time (scenario/delivery.py), and firmware reading it on QEMU.

The FIFO model is checked against an independent reference (a sample-by-sample deque) and against closed forms;
the QEMU tests check the firmware's own checksum and drop count against numbers computed here, not by the model.
"""

from __future__ import annotations

import math
from collections import deque
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from cosim_testing import needs_qemu

from tinyml_cosim.protocol.datachannel import ReadResult
from tinyml_cosim.protocol.frames import NO_MORE
from tinyml_cosim.run.record import RunRecord, Status
from tinyml_cosim.run.session import RunRequest, run_firmware
from tinyml_cosim.scenario import scenario_from_dict
from tinyml_cosim.scenario.delivery import FifoStream, data_service_for, delivery_for, nominal_due, sample_due

F_CLK = 168_000_000  # stm32f405


def scenario(duration_s: float = 0.5, impairments: list | None = None, extra_sensors: list | None = None, seed=7):
    return scenario_from_dict(
        {
            "version": 1,
            "board": "stm32f405",
            "app": "sensor_checksum",
            "seed": seed,
            "duration_s": duration_s,
            "sensors": [
                {
                    "id": "accel",
                    "part": "lis2dw12",
                    "odr_hz": 1600,
                    "range_g": 4,
                    "signal": [{"type": "gravity"}, {"type": "sine", "axis": "x", "amplitude": 0.5, "freq_hz": 37}],
                    "impairments": impairments or [],
                },
                *(extra_sensors or []),
            ],
        },
        Path("."),
    )


def fnv1a(data: bytes) -> int:
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def as_i32(x: int) -> int:
    return x - (1 << 32) if x >= 1 << 31 else x


class Reference:
    """Sample-by-sample FIFO, written the obvious way: each sample is pushed at its due instant."""

    def __init__(self, due: list[int], depth: int, mode: str) -> None:
        self.due, self.depth, self.mode = due, depth, mode
        self.fifo: deque[int] = deque()
        self.pushed = self.lost = 0

    def read(self, t: int, max_samples: int) -> tuple[list[int], int]:
        while self.pushed < len(self.due) and self.due[self.pushed] <= t:
            if len(self.fifo) == self.depth:
                self.lost += 1
                if self.mode == "fifo":
                    self.pushed += 1
                    continue
                self.fifo.popleft()
            self.fifo.append(self.pushed)
            self.pushed += 1
        out = [self.fifo.popleft() for _ in range(min(max_samples, len(self.fifo)))]
        lost, self.lost = self.lost, 0
        return out, lost


def indexed(n: int, due: np.ndarray, depth: int | None, mode: str = "continuous") -> FifoStream:
    """A FIFO whose sample i is the 4-byte little-endian number i, so returned bytes name the samples."""
    return FifoStream(np.arange(n, dtype="<u4").tobytes(), 4, due, depth, mode)  # type: ignore[arg-type]


def names(r: ReadResult) -> list[int]:
    return np.frombuffer(r.data, dtype="<u4").tolist()


# --- the FIFO model ---


def test_nominal_due_is_exact_ceiling() -> None:
    k = np.arange(5000, dtype=np.int64)
    for odr in (1.6, 12.5, 104, 1600, 6667):
        rate = Fraction(str(odr))
        expect = [math.ceil(Fraction(int(i) * F_CLK) / rate) for i in k[::97]]
        assert nominal_due(k, odr, F_CLK)[::97].tolist() == expect
    assert nominal_due(k, 1600, F_CLK)[1] == 105_000


def test_reader_that_keeps_up_sees_every_sample() -> None:
    n, period = 1000, 105_000
    fifo = indexed(n, np.arange(n) * period, depth=32)
    got: list[int] = []
    t, r = 0, ReadResult(b"", 0)
    while not r.end_of_stream:
        t = r.next_due + 15 * period  # watermark 16
        r = fifo.read(t, 4096)
        assert r.dropped == 0
        got += names(r)
    assert got == list(range(n)) and fifo.dropped_total == 0 and r.next_due == NO_MORE


@pytest.mark.parametrize("mode", ["continuous", "fifo"])
@pytest.mark.parametrize("seed", range(6))
def test_fifo_matches_sample_by_sample_reference(mode: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, depth = 600, int(rng.integers(1, 40))
    due = np.cumsum(rng.integers(0, 3000, n))  # irregular, with equal instants (jitter clamped)
    fifo, ref = indexed(n, due, depth, mode), Reference(due.tolist(), depth, mode)
    t = 0
    while True:
        t += int(rng.integers(0, 60_000))
        max_samples = int(rng.integers(0, 50))
        r = fifo.read(t, max_samples * 4 + int(rng.integers(0, 4)))  # partial samples are never sent
        want, lost = ref.read(t, max_samples)
        assert names(r) == want and r.dropped == lost
        left = len(ref.fifo)
        assert r.next_due == (due[ref.fifo[0]] if left else due[ref.pushed] if ref.pushed < n else NO_MORE)
        assert r.end_of_stream == (ref.pushed == n and left == 0)
        if r.end_of_stream:
            break
    assert fifo.delivered + fifo.dropped_total == n


def test_slow_reader_drops_in_closed_form() -> None:
    """Reads every W instructions: each read after the first finds W*ODR/f_clk new samples and keeps `depth`."""
    odr, depth, n = 1600, 32, 800
    period = F_CLK // odr
    window, anchor = 50 * period, 10 * period + period // 2
    new_per_window = window * odr // F_CLK
    fifo = indexed(n, np.arange(n) * period, depth)
    results = []
    for i in range(100):
        results.append(fifo.read(anchor + i * window, 4096))
        if results[-1].end_of_stream:
            break
    first = anchor // period + 1
    reads = 1 + math.ceil((n - first) / new_per_window)
    last_new = n - first - (reads - 2) * new_per_window
    assert len(results) == reads == 17
    assert [r.dropped for r in results] == [0] + [new_per_window - depth] * (reads - 2) + [last_new - depth]
    assert sum(r.dropped for r in results) == (reads - 2) * (new_per_window - depth) + last_new - depth == 277
    # continuous mode keeps the newest: read i returns the 32 samples just before its instant
    assert names(results[3]) == list(first + 3 * new_per_window - depth + np.arange(depth))


def test_fifo_mode_keeps_the_oldest_and_resumes_after_a_read() -> None:
    period = 1000
    fifo = indexed(100, np.arange(100) * period, depth=4, mode="fifo")
    r = fifo.read(9 * period, 4096)  # samples 0..9 exist; 0..3 stored, 4..9 lost
    assert names(r) == [0, 1, 2, 3] and r.dropped == 6
    r = fifo.read(11 * period, 4096)  # storing resumed with sample 10
    assert names(r) == [10, 11] and r.dropped == 0


def test_unbounded_depth_never_drops() -> None:
    fifo = indexed(500, np.arange(500) * 10, depth=None)
    r = fifo.read(10**9, 1 << 20)
    assert names(r) == list(range(500)) and r.dropped == 0 and r.end_of_stream


def test_clock_drift_and_dropouts_reach_the_firmware_as_availability() -> None:
    plain = scenario(2.0).generate()["accel"]
    due = sample_due(plain, F_CLK)
    assert due.tolist() == (np.arange(len(plain)) * 105_000).tolist()  # no timing impairment: exactly nominal
    drift = scenario(2.0, [{"type": "clock_drift", "ppm": 500}]).generate()["accel"]
    d = sample_due(drift, F_CLK)
    k = len(drift) - 1
    # a part clock 500 ppm fast finishes early: t_k = k/ODR - 500e-6 * t_k (to the instruction)
    assert abs(int(d[-1]) - (k * 105_000 - round(500e-6 * k / 1600 * F_CLK))) <= 1
    assert sample_due(drift, F_CLK, timing="nominal").tolist() == (np.arange(len(drift)) * 105_000).tolist()
    lossy = scenario(2.0, [{"type": "dropout", "rate": 0.05}]).generate()["accel"]
    assert len(lossy) < len(plain)
    fifo = FifoStream(lossy.to_bytes(), lossy.sample_bytes, sample_due(lossy, F_CLK), None)
    assert fifo.read(10**12, 1 << 20).data == lossy.to_bytes()
    # a gap in index is a gap in time: the sample after a dropout exists at its own nominal instant
    assert sample_due(lossy, F_CLK).tolist() == (lossy.index * 105_000).tolist()


def test_data_service_for_uses_stream_ids_part_depths_and_the_board_clock() -> None:
    temp = {
        "id": "temp",
        "part": "tmp36_adc12",
        "odr_hz": 10,
        "stream": 5,
        "signal": [{"type": "constant", "value": 30}],
    }
    scn = scenario(0.5, extra_sensors=[temp])
    d = delivery_for(scn, seed=3)
    assert d.stream_ids == {"accel": 0, "temp": 5} and sorted(d.service.streams) == [0, 5]
    assert d.fifos["accel"].depth == 32 and d.fifos["temp"].depth is None  # the ADC has no FIFO: a DMA ring
    assert d.fifos["temp"].due[1] == F_CLK // 10
    f205 = data_service_for(scn, seed=3, board="stm32f205", depths={"accel": 8})
    fifo = f205.streams[0]
    assert isinstance(fifo, FifoStream) and fifo.depth == 8 and fifo.due[1] == 120_000_000 // 1600
    again = delivery_for(scn, seed=3)
    assert again.samples["accel"].sha256() == d.samples["accel"].sha256()
    assert delivery_for(scn, seed=4).samples["accel"].sha256() != d.samples["accel"].sha256()


def test_requests_decide_everything() -> None:
    """The same request sequence gives the same replies: no wall clock, no hidden state."""
    scn = scenario(0.5, [{"type": "jitter", "sigma_s": 0.0002}, {"type": "dropout", "rate": 0.02}])
    times = np.cumsum(np.random.default_rng(1).integers(0, 6_000_000, 60)).tolist()
    replies = []
    for _ in range(2):
        fifo = delivery_for(scn).fifos["accel"]
        replies.append([fifo.read(t, 300) for t in times])
    assert replies[0] == replies[1]


def test_bad_fifo_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="non-decreasing"):
        indexed(3, np.array([0, 5, 4]), 4)
    with pytest.raises(ValueError, match="depth"):
        indexed(3, np.array([0, 1, 2]), 0)
    with pytest.raises(ValueError, match="whole number"):
        FifoStream(b"12345", 4, np.array([0]), 4)


# --- firmware on QEMU ---

SLOW_WINDOW_SAMPLES = 50  # firmware/tests/apps/sensor_slow/main.c: WINDOW_SAMPLES, ANCHOR, BUSY_ITERATIONS
SLOW_BUSY_ITERATIONS = 2_000_000


def run(elf: Path, service) -> RunRecord:
    rec = run_firmware(RunRequest(elf=elf, board="stm32f405", data=service, timeout_s=30))
    assert rec.status is Status.EXITED and rec.exit_code == 0, rec.console_tail
    return rec


def marks(rec: RunRecord) -> dict[str, int]:
    return {e.fields["name"]: int(e.fields["value"]) for e in rec.events if e.kind == "MARK"}


@needs_qemu
def test_firmware_checksum_equals_the_hosts_and_runs_repeat_exactly(firmware) -> None:
    scn = scenario(
        0.5,
        [
            {"type": "white_noise", "sigma": 0.01},
            {"type": "clock_drift", "ppm": 300},
            {"type": "dropout", "rate": 0.01},
        ],
    )
    elf = firmware("sensor_checksum")
    runs = []
    for _ in range(2):
        d = delivery_for(scn, seed=11)
        rec = run(elf, d.service)
        runs.append((d, rec, marks(rec)))
    (d, rec, m), (d2, rec2, m2) = runs
    data = d.samples["accel"].to_bytes()
    assert m["samples"] == len(d.samples["accel"]) and m["fnv1a"] == as_i32(fnv1a(data))
    assert m["dropped"] == 0 and m["overruns"] == 0  # watermark 16 of 32: the reader keeps up
    assert m["late_max"] < 1000  # woke from its SysTick sleep on time
    assert d.samples["accel"].sha256() == d2.samples["accel"].sha256()
    assert m == m2 and rec.instructions == rec2.instructions
    assert [(e.kind, e.instructions, e.fields) for e in rec.events] == [
        (e.kind, e.instructions, e.fields) for e in rec2.events
    ]


class Recording:
    """Wraps a stream to keep the instruction count of every request."""

    def __init__(self, inner: FifoStream) -> None:
        self.inner, self.times = inner, []

    def read(self, up_to_instructions: int, max_bytes: int) -> ReadResult:
        self.times.append(up_to_instructions)
        return self.inner.read(up_to_instructions, max_bytes)


@needs_qemu
@pytest.mark.parametrize("mode", ["continuous", "fifo"])
def test_slow_firmware_gets_the_overrun_flag_and_the_closed_form_drop_count(firmware, mode: str) -> None:
    scn = scenario(0.5, [{"type": "white_noise", "sigma": 0.01}])
    d = delivery_for(scn, seed=5, mode=mode)  # type: ignore[arg-type]
    rec_stream = Recording(d.fifos["accel"])
    d.service.streams[0] = rec_stream
    m = marks(run(firmware("sensor_slow"), d.service))
    samples = d.samples["accel"]
    n, odr, depth = len(samples), 1600, 32
    # Closed form from ODR, f_clk, depth and the firmware's schedule: read i at ANCHOR + i*W, W = 50 sample periods
    # of 105000 instructions; ANCHOR = 10.5 periods, so 11 samples exist at the first read.
    period = Fraction(F_CLK, odr)
    window = SLOW_WINDOW_SAMPLES * period
    anchor = 10 * period + period / 2
    exist = [min(n, math.floor((anchor + i * window) / period) + 1) for i in range(n)]
    reads = next(i for i, e in enumerate(exist) if e == n) + 1
    dropped = [max(0, exist[i] - (exist[i - 1] if i else 0) - depth) for i in range(reads)]
    assert n == 800 and reads == 17 and sum(dropped) == 277
    # the schedule the closed form assumes: each request within half a sample period after its deadline
    assert all(0 <= t - (anchor + i * window) < period / 2 for i, t in enumerate(rec_stream.times))
    assert m["reads"] == reads and m["dropped"] == sum(dropped) and m["overruns"] == sum(x > 0 for x in dropped)
    assert m["samples"] == n - sum(dropped)
    # each read empties the FIFO, which holds min(depth, new) of the samples since the previous read: the newest
    # (continuous: overwrite the oldest) or the oldest (FIFO mode: stop storing when full)
    raw = samples.to_bytes()
    prev = [exist[i - 1] if i else 0 for i in range(reads)]
    if mode == "continuous":
        spans = [(max(exist[i] - depth, prev[i]), exist[i]) for i in range(reads)]
    else:
        spans = [(prev[i], min(prev[i] + depth, exist[i])) for i in range(reads)]
    kept = b"".join(raw[a * 6 : b * 6] for a, b in spans)
    assert m["fnv1a"] == as_i32(fnv1a(kept))
    # the processing loop costs exactly two instructions a turn (+ 19 for the call and the two time reads)
    assert m["busy"] == 2 * SLOW_BUSY_ITERATIONS + 19
