"""Runs of a firmware that sleeps in WFI between bursts of work repeat to the instruction (QEMU).

The apps' decision streams used to drift by a few instructions between runs of the same ELF: QEMU 7.2's SysTick
(-icount shift=0,sleep=off) wakes a core in WFI after one reload period in some runs and after two in others, at the
same sleep, depending on host thread timing, and cosim_wait_until then finished its wait at another phase of its
polling loop. A timer interrupt that wakes the core can also come an instruction late now and then (most likely:
QEMU's main loop jumps virtual time with an instruction count the vCPU has not published yet). cosim_sleep.h now
sleeps on an STM32 timer's alarm on QEMU and executes the last stretch of a wait as an exact number of instructions.
firmware/tests/apps/sleep_probe sleeps 600 times after work and a console MARK (the pattern that showed the drift:
with the old cosim_sleep.h, 2 runs in 6 of it left run 0's stream, and this test failed on both boards) and reads the
data channel after each wake, served by a host that answers after random wall-clock delays, so neither the wake nor
the data may depend on when the host gets round to anything.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cosim_testing import needs_qemu, needs_toolchain

from tinyml_cosim.build.firmware import build
from tinyml_cosim.core.boards import load_board
from tinyml_cosim.protocol.datachannel import DataService, RateStream
from tinyml_cosim.protocol.frames import Frame
from tinyml_cosim.run.record import RunRecord
from tinyml_cosim.run.session import RunRequest, run_firmware

RUNS = 4
SLEEPS = 600  # sleep_probe's SLEEPS


@dataclass
class SlowDataService(DataService):
    """Answers every request after a random wall-clock delay (0-3 ms), differently in every run."""

    rng: random.Random = field(default_factory=random.Random)

    def handle(self, request: Frame, max_reply: int | None = None) -> Frame:
        time.sleep(self.rng.uniform(0.0, 0.003))
        return super().handle(request, max_reply)


def probe_run(elf: Path, board: str, seed: int) -> RunRecord:
    clock = load_board(board).clock_hz
    data = bytes(range(256)) * 64  # 16 KiB at 8 kB/s: more than the probe's ~1.5 s read by the end
    stream = RateStream(data, sample_bytes=2, rate_hz=4000.0, clock_hz=clock)
    service = SlowDataService(streams={0: stream}, rng=random.Random(seed))
    rec = run_firmware(RunRequest(elf, board, duration_s=30.0, data=service))
    assert rec.status.value == "exited" and rec.exit_code == 0, rec.diagnosis
    return rec


def stream_of(rec: RunRecord) -> list[tuple[str, int, dict[str, str]]]:
    return [(e.kind, e.instructions, e.fields) for e in rec.events]


def marks(rec: RunRecord, name: str) -> list[int]:
    return [int(e.fields["value"]) for e in rec.events if e.kind == "MARK" and e.fields["name"] == name]


@needs_qemu
@needs_toolchain
@pytest.mark.parametrize("board", ["stm32f405", "stm32f205"])
def test_sleeping_firmware_repeats_to_the_instruction_with_a_slow_host(board: str) -> None:
    elf = build(load_board(board), "sleep_probe").elf
    runs = [probe_run(elf, board, seed) for seed in range(RUNS)]
    first = runs[0]
    late = marks(first, "late")
    # every wait ended on time (the alarm is set 4000 instructions short, the loop polls the rest) ...
    assert len(late) == SLEEPS and min(late) >= 0 and max(late) < 100
    assert marks(first, "bytes")[0] > 0
    # ... and at the same instruction in every run, as did every read and the exit
    for again in runs[1:]:
        assert stream_of(again) == stream_of(first)
        assert again.instructions == first.instructions
