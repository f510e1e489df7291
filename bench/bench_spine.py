"""Benchmark the simulation spine: emulated MIPS, boot time, `cosim run` against bare QEMU, data-channel
throughput, real-time factor of a sensor stream, and two boards in parallel (issue 3, item 11).

    python bench/bench_spine.py [--quick] [--board stm32f405] [--out FILE] [--long-instructions N]

--quick (under a minute) checks that everything works with short workloads and one or a few repetitions; the full
run (a few minutes) uses a compute workload of at least 10 wall seconds and three repetitions of everything timed.
Each metric in the JSON says how it was measured; bench/README.md explains them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tinyml_cosim.build.firmware import build  # noqa: E402
from tinyml_cosim.core.boards import Board, load_board  # noqa: E402
from tinyml_cosim.elf.image import load_image  # noqa: E402
from tinyml_cosim.engines import launcher  # noqa: E402
from tinyml_cosim.engines.qemu.engine import QEMU_BINARY  # noqa: E402
from tinyml_cosim.engines.registry import engine_class  # noqa: E402
from tinyml_cosim.protocol.datachannel import DataService, RateStream, ReadResult  # noqa: E402
from tinyml_cosim.protocol.frames import (  # noqa: E402
    HOST_CONFIG_SYMBOL,
    ConfigFlag,
    CorruptEvent,
    Event,
    HostConfig,
    Transport,
    parse_event,
)
from tinyml_cosim.run.session import RunRequest, run_firmware  # noqa: E402

COSIM = Path(sys.executable).with_name("cosim")
RESULTS = REPO / "bench" / "results" / "spine.json"
GOAL_RATIO = 1.10
GOAL_SAMPLES_PER_S = 0.5e6
GOAL_REALTIME = 10.0
GOAL_PARALLEL = 1.8
LONG_WALL_S = 11.0  # the long workload is sized for at least this many wall seconds on bare QEMU (goal: >= 10 s)
JSON = dict[str, Any]


# --------------------------------------------------------------------------------------------------------------------
# timing helpers


@dataclass
class Timed:
    """One timed run: wall seconds from process start (or API call) to exit, and each console line's arrival time."""

    wall: float
    returncode: int | None
    lines: list[tuple[float, str]] = field(default_factory=list)
    instructions: int | None = None

    @property
    def first_line(self) -> float | None:
        return self.lines[0][0] if self.lines else None

    def events(self) -> list[tuple[float, Event]]:
        out = []
        for t, line in self.lines:
            try:
                e = parse_event(line)
            except CorruptEvent:
                continue
            if e is not None:
                out.append((t, e))
        return out

    def marks(self, *names: str) -> list[tuple[float, Event]]:
        return [(t, e) for t, e in self.events() if e.kind == "MARK" and e.fields.get("name") in names]

    def mark_value(self, name: str) -> int | None:
        found = self.marks(name)
        return found[-1][1].int_field("value") if found else None

    def exit_instructions(self) -> int | None:
        ends = [e.instructions for _, e in self.events() if e.kind == "EXIT"]
        return ends[-1] if ends else None


class LineClock:
    """Splits a byte stream into lines and stamps each with its arrival time relative to t0."""

    def __init__(self, t0: float) -> None:
        self.t0 = t0
        self.lines: list[tuple[float, str]] = []
        self._partial = b""
        self._lock = threading.Lock()

    def feed(self, chunk: bytes) -> None:
        now = time.perf_counter() - self.t0
        with self._lock:
            self._partial += chunk
            *complete, self._partial = self._partial.split(b"\n")
            self.lines += [(now, raw.rstrip(b"\r").decode("utf-8", "replace")) for raw in complete]

    def line(self, text: str) -> None:
        with self._lock:
            self.lines.append((time.perf_counter() - self.t0, text))


def run_process(argv: Sequence[str], timeout: float, env: dict[str, str] | None = None) -> Timed:
    """Run argv, stamping each stdout line as it arrives; wall time is process start to exit."""
    t0 = time.perf_counter()
    proc = launcher.popen(
        list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0, env=env
    )
    clock = LineClock(t0)
    assert proc.stdout is not None
    fd = proc.stdout.fileno()

    def pump() -> None:
        while chunk := os.read(fd, 65536):
            clock.feed(chunk)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        launcher.kill_all()
        rc = None
    wall = time.perf_counter() - t0
    reader.join(timeout=5)
    proc.stdout.close()
    launcher.unregister(proc)
    return Timed(wall, rc, clock.lines)


def run_api(elf: Path, board: Board, data: DataService | None = None, timeout: float = 600.0) -> Timed:
    """Run through the Python API (no interpreter start-up, no CLI): wall time is call to return."""
    t0 = time.perf_counter()
    clock = LineClock(t0)
    record = run_firmware(RunRequest(elf=elf, board=board.id, data=data, timeout_s=timeout, echo=clock.line))
    wall = time.perf_counter() - t0
    ok = record.succeeded
    return Timed(
        wall, 0 if ok else (record.exit_code if record.exit_code is not None else -1), clock.lines, record.instructions
    )


def stats(values: Sequence[float], digits: int = 4) -> JSON:
    if not values:
        return {"n": 0, "median": None, "min": None, "max": None}
    return {
        "n": len(values),
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
    }


def load() -> JSON:
    one, five, fifteen = os.getloadavg()
    return {"load1": round(one, 2), "load5": round(five, 2), "load15": round(fifteen, 2)}


def busy_cpu_seconds() -> float | None:
    """CPU seconds every process on the machine has used since boot (all but idle and iowait)."""
    try:
        t = psutil.cpu_times()
    except (OSError, psutil.Error):
        return None
    return t.user + t.nice + t.system + t.irq + t.softirq + t.steal


def own_cpu_seconds() -> float:
    """CPU seconds of this process and every child it has waited for (QEMU, `cosim run` and their children)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def check(run: Timed, what: str) -> None:
    if run.returncode != 0:
        tail = "\n".join(line for _, line in run.lines[-5:])
        raise SystemExit(f"{what} failed (status {run.returncode}):\n{tail}")


# --------------------------------------------------------------------------------------------------------------------
# the two ways of running: `cosim run` and bare qemu-system-arm


def bare_argv(board: Board, elf: Path, serial: str = "null") -> list[str]:
    """qemu-system-arm with the engine's own flags, minus QMP and the console socket; the host configuration block
    (no transport, exit through semihosting) is written by QEMU's generic loader, as the engine does."""
    q = board.engines.qemu
    assert q is not None
    argv = [
        QEMU_BINARY, "-M", q.machine, "-kernel", str(elf.resolve()), "-display", "none", "-monitor", "none",
        "-icount", "shift=0,sleep=off", "-semihosting-config", "enable=on,target=native", "-serial", serial,
    ]  # fmt: skip
    base = load_image(elf, board).symbol(HOST_CONFIG_SYMBOL)
    for i, word in enumerate(HostConfig(Transport.NONE, flags=int(ConfigFlag.SEMIHOSTING_EXIT)).words()):
        argv += ["-device", f"loader,addr=0x{base + 4 * i:08x},data=0x{word:08x},data-len=4"]
    return argv


def cosim_argv(board: Board, elf: Path, timeout: float) -> list[str]:
    return [str(COSIM), "run", str(elf), "--board", board.id, "--timeout", str(timeout)]


CLI_ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def bare(board: Board, elf: Path, serial: str = "null", timeout: float = 600.0) -> Timed:
    run = run_process(bare_argv(board, elf, serial), timeout)
    check(run, f"bare {QEMU_BINARY} on {elf}")
    return run


def cosim_run(board: Board, elf: Path, timeout: float = 600.0) -> Timed:
    run = run_process(cosim_argv(board, elf, timeout), timeout + 30, env=CLI_ENV)
    check(run, f"cosim run {elf}")
    return run


def steady_mips(run: Timed) -> float | None:
    """Instructions per wall second between the first and the last MARK of the compute workload."""
    marks = run.marks("start", "progress", "rounds")
    if len(marks) < 2:
        return None
    (t0, e0), (t1, e1) = marks[0], marks[-1]
    return (e1.instructions - e0.instructions) / (t1 - t0) / 1e6 if t1 > t0 else None


# --------------------------------------------------------------------------------------------------------------------
# benchmarks


@dataclass
class Plan:
    quick: bool
    reps: int
    long_instructions: int | None  # None: calibrate
    data_samples: int
    data_batches: list[int]
    stream_seconds_wfi: float
    stream_seconds_poll: float
    parallel_reps: int


def build_app(board: Board, app: str, **defines: int | str) -> Path:
    flags = [f"-D{k}={v}" for k, v in sorted(defines.items())]
    return build(board, app, extra_cflags=flags).elf


def bench_boot(board: Board, trivial: Path, plan: Plan) -> JSON:
    say("boot: trivial firmware, bare QEMU / cosim run / Python API")
    bare_stdio = [bare(board, trivial, serial="stdio") for _ in range(plan.reps)]
    bare_null = [bare(board, trivial) for _ in range(plan.reps)]
    cli = [cosim_run(board, trivial) for _ in range(plan.reps)]
    api = [run_api(trivial, board) for _ in range(plan.reps)]
    for r in api:
        check(r, "run_firmware(bench_trivial)")
    imports_cli = [
        run_process([sys.executable, "-c", "import tinyml_cosim.cli.app"], 60, env=CLI_ENV) for _ in range(plan.reps)
    ]
    imports_run = [
        run_process(
            [sys.executable, "-c", "import tinyml_cosim.run.session, tinyml_cosim.engines.qemu.engine"], 60, env=CLI_ENV
        )
        for _ in range(plan.reps)
    ]

    def firsts(runs: list[Timed]) -> list[float]:
        return [r.first_line for r in runs if r.first_line is not None]

    return {
        "unit": "s",
        "method": (
            "firmware/tests/apps/bench_trivial (BOOT event, then EXIT 0). first_line: process start (or API call) to "
            "the arrival of the first console line, which is the BOOT event; exit: process start to process exit "
            "(API: call to return). Bare QEMU uses the engine's flags with -serial stdio for first_line and "
            "-serial null for exit. python_imports: interpreter start + `import tinyml_cosim.cli.app` (what "
            "`cosim run` loads before it starts QEMU) and + `import tinyml_cosim.run.session, "
            "tinyml_cosim.engines.qemu.engine` "
            "(the modules a run needs)."
        ),
        "bare_qemu": {"first_line": stats(firsts(bare_stdio)), "exit": stats([r.wall for r in bare_null])},
        "cosim_run": {"first_line": stats(firsts(cli)), "exit": stats([r.wall for r in cli])},
        "python_api": {"first_line": stats(firsts(api)), "exit": stats([r.wall for r in api])},
        "python_imports": {
            "tinyml_cosim.cli.app": stats([r.wall for r in imports_cli]),
            "tinyml_cosim.run.session+tinyml_cosim.engines.qemu.engine": stats([r.wall for r in imports_run]),
        },
    }


def calibrate(board: Board) -> tuple[int, float]:
    """Size the long workload: at least LONG_WALL_S wall seconds at this machine's measured rate."""
    elf = build_app(board, "bench_compute", BENCH_INSTRUCTIONS="1500000000ull")
    run = run_api(elf, board)
    check(run, "calibration run of bench_compute")
    mips = steady_mips(run) or 300.0
    return max(6, math.ceil(LONG_WALL_S * mips / 1e3)) * 1_000_000_000, mips


def bench_long(board: Board, long_elf: Path, boot: JSON, plan: Plan) -> tuple[JSON, JSON, list[Timed]]:
    """`cosim run` vs bare QEMU on the long workload, interleaved so load drift hits both alike."""
    bare_runs: list[Timed] = []
    cosim_runs: list[Timed] = []
    for i in range(plan.reps):
        say(f"long workload: repetition {i + 1}/{plan.reps}")
        bare_runs.append(bare(board, long_elf))
        cosim_runs.append(cosim_run(board, long_elf))
    instructions = cosim_runs[0].exit_instructions()
    assert instructions is not None
    b = [r.wall for r in bare_runs]
    c = [r.wall for r in cosim_runs]
    steady = [m for m in (steady_mips(r) for r in cosim_runs) if m is not None]
    bare_mips = [instructions / w / 1e6 for w in b]
    ratio = statistics.median(c) / statistics.median(b)
    cosim_fixed = boot["cosim_run"]["exit"]["median"] - boot["bare_qemu"]["exit"]["median"]
    marginal = (statistics.median(c) - boot["cosim_run"]["exit"]["median"]) / (
        statistics.median(b) - boot["bare_qemu"]["exit"]["median"]
    )
    comparison = {
        "workload": {
            "app": "firmware/tests/apps/bench_compute",
            "instructions": instructions,
            "bare_wall_s": stats(b, 3),
            "cosim_wall_s": stats(c, 3),
        },
        "ratio": {
            "value": round(ratio, 4),
            "min_over_min": round(min(c) / min(b), 4),
            "goal": f"<= {GOAL_RATIO}",
            "met": ratio <= GOAL_RATIO,
            "method": (
                f"median wall of `cosim run ELF --board {board.id}` / median wall of bare qemu-system-arm on the same "
                f"ELF ({plan.reps} runs each, interleaved; process start to exit). Bare flags: -M "
                f"{board.engines.qemu.machine if board.engines.qemu else '?'} -icount shift=0,sleep=off "
                "-semihosting-config enable=on,target=native -display none -monitor none -serial null, host config "
                "HostConfig(Transport.NONE, flags=SEMIHOSTING_EXIT) written at cosim_host_config with -device loader."
            ),
        },
        "startup_cost_s": {
            "value": round(cosim_fixed, 4),
            "method": "median exit time of the trivial firmware: `cosim run` minus bare QEMU (see boot)",
        },
        "marginal_ratio": {
            "value": round(marginal, 4),
            "method": (
                "(cosim long - cosim trivial) / (bare long - bare trivial), medians: the cost of `cosim run` per "
                "emulated second once start-up is taken out (QMP polling, console socket, data-channel thread)"
            ),
        },
    }
    mips = {
        "value": round(statistics.median(steady), 1) if steady else None,
        "unit": "MIPS",
        "steady_cosim": stats(steady, 1),
        "bare_end_to_end": stats(bare_mips, 1),
        "method": (
            "bench_compute (int8 64x256 matrix-vector products, ~1 instruction per emulated ns). value/steady_cosim: "
            "instructions between the firmware's first and last MARK divided by the wall time between their arrival "
            "on `cosim run`'s stdout (no start-up in it). bare_end_to_end: the run's instruction count (EXIT event) / "
            "bare QEMU's process wall time, start-up included."
        ),
    }
    return comparison, mips, cosim_runs


def samples_bytes(n: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(2 * n)


class TimedStream:
    """A RateStream that notes when the host served its first and its last READ (wall clock) and at which firmware
    instruction counts: host-side timestamps, free of the console thread's scheduling delays."""

    def __init__(self, inner: RateStream) -> None:
        self.inner = inner
        self.reads = 0
        self.bytes = 0
        self.first: tuple[float, int, int] | None = None  # wall, instructions, bytes in that reply
        self.last: tuple[float, int] | None = None

    def read(self, up_to_instructions: int, max_bytes: int) -> ReadResult:
        result = self.inner.read(up_to_instructions, max_bytes)
        now = time.perf_counter()
        if self.first is None:
            self.first = (now, up_to_instructions, len(result.data))
        self.last = (now, up_to_instructions)
        self.reads += 1
        self.bytes += len(result.data)
        return result

    def window(self) -> tuple[float, int, int]:
        """Wall seconds, firmware instructions and bytes delivered between the first and the last READ."""
        assert self.first is not None and self.last is not None
        return self.last[0] - self.first[0], self.last[1] - self.first[1], self.bytes - self.first[2]


def bench_data_rate(board: Board, plan: Plan) -> JSON:
    data = samples_bytes(plan.data_samples)
    rows = []
    for batch in plan.data_batches:
        elf = build_app(board, "bench_data_rate", BENCH_BATCH_BYTES=f"{batch}u")
        steady, e2e, trips, per_read = [], [], [], []
        for i in range(plan.reps):
            say(f"data channel: {batch}-byte reads, repetition {i + 1}/{plan.reps}")
            # A rate far above anything the firmware can read: every sample is due at instruction 0 (a backlog).
            stream = TimedStream(
                RateStream(data, sample_bytes=2, rate_hz=board.clock_hz * 1_000_000, clock_hz=board.clock_hz)
            )
            run = run_api(elf, board, DataService(streams={0: stream}))
            check(run, f"bench_data_rate ({batch} B)")
            got = run.mark_value("samples")
            if got != plan.data_samples:
                raise SystemExit(f"bench_data_rate read {got} samples, expected {plan.data_samples}")
            wall, instructions, nbytes = stream.window()
            steady.append(nbytes / 2 / wall)
            per_read.append(instructions / (stream.reads - 1))
            e2e.append(plan.data_samples / run.wall)
            trips.append((stream.reads - 1) / wall)
        rows.append(
            {
                "batch_bytes": batch,
                "samples_per_s": stats(steady, 0),
                "samples_per_s_end_to_end": stats(e2e, 0),
                "reads_per_s": stats(trips, 0),
                "firmware_instructions_per_read": round(statistics.median(per_read)),
            }
        )
    main = next(r for r in rows if r["batch_bytes"] == 4096)
    value = main["samples_per_s"]["median"]
    return {
        "value": value,
        "unit": "int16 samples/s",
        "goal": f">= {GOAL_SAMPLES_PER_S:.0f}",
        "met": value >= GOAL_SAMPLES_PER_S,
        "samples": plan.data_samples,
        "by_batch": rows,
        "method": (
            "bench_data_rate reads stream 0 (int16, all samples due at once) with cosim_read(max = batch bytes) until "
            "end of stream and does nothing else; QEMU semihosting transport (FIFO pair). value: samples delivered "
            "after the first READ / host wall time between serving the first and the last READ, 4096-byte reads "
            "(median of runs). end_to_end: all samples / the whole run_firmware() call (QEMU start to exit). "
            "firmware_instructions_per_read: emulated instructions between two READs (frame building and the "
            "CRC-32 check of each reply included)."
        ),
    }


def bench_stream(board: Board, plan: Plan) -> JSON:
    q = board.engines.qemu
    assert q is not None
    num, den = q.systick_hz // 1_000_000, 1000  # SysTick ticks per instruction, as a fraction
    rate, batch = 16_000, 256
    out: JSON = {}
    for mode, seconds in (("wfi", plan.stream_seconds_wfi), ("poll", plan.stream_seconds_poll)):
        elf = build_app(
            board, "bench_stream", BENCH_WFI=int(mode == "wfi"), BENCH_RATE_HZ=f"{rate}u", BENCH_BATCH=f"{batch}u",
            BENCH_SYSTICK_NUM=f"{num}u", BENCH_SYSTICK_DEN=f"{den}u",
        )  # fmt: skip
        n = int(seconds * rate) // batch * batch
        data = samples_bytes(n, seed=2)
        steady, e2e = [], []
        for i in range(plan.reps):
            say(f"stream 16 kHz ({mode}): {seconds:g} simulated s, repetition {i + 1}/{plan.reps}")
            stream = TimedStream(RateStream(data, sample_bytes=2, rate_hz=rate, clock_hz=board.clock_hz))
            run = run_api(elf, board, DataService(streams={0: stream}))
            check(run, f"bench_stream ({mode})")
            if run.mark_value("samples") != n:
                raise SystemExit(f"bench_stream ({mode}) read {run.mark_value('samples')} samples, expected {n}")
            wall, instructions, _ = stream.window()
            steady.append(instructions / board.clock_hz / wall)
            e2e.append(n / rate / run.wall)
        out[mode] = {
            "simulated_seconds": n / rate,
            "realtime_factor": stats(steady, 2),
            "realtime_factor_end_to_end": stats(e2e, 2),
        }
    value = out["wfi"]["realtime_factor"]["median"]
    return {
        "value": value,
        "unit": "simulated s per wall s",
        "goal": f">= {GOAL_REALTIME:g}",
        "met": value >= GOAL_REALTIME,
        **out,
        "method": (
            f"bench_stream: a {rate} Hz int16 stream (RateStream, released in simulated time); per {batch} samples "
            f"({1000 * batch / rate:g} ms) the firmware waits until the batch's last sample is due, reads it in one "
            "cosim_read and computes its sum of squares. value: simulated seconds between the first and the last "
            "READ (the requests' instruction stamps / clock_hz) per host wall second between serving them, for wfi "
            "(asleep in WFI until a SysTick alarm; QEMU's -icount sleep=off skips the idle time). poll: the same "
            "firmware waiting by polling the instruction counter (as firmware/tests/apps/data_sum does), for "
            "comparison. end_to_end: stream length / whole run_firmware() wall time."
        ),
    }


def bench_parallel(board: Board, long_elf: Path, instructions: int, plan: Plan) -> JSON:
    seq, par = [], []
    for i in range(plan.parallel_reps):
        say(f"parallel: repetition {i + 1}/{plan.parallel_reps} (two sequential runs, then two at once)")
        t0 = time.perf_counter()
        cosim_run(board, long_elf)
        cosim_run(board, long_elf)
        seq.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        results: list[Timed] = []

        def one(out: list[Timed] = results) -> None:
            out.append(cosim_run(board, long_elf))

        threads = [threading.Thread(target=one) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        par.append(time.perf_counter() - t0)
        if len(results) != 2:
            raise SystemExit("a parallel run failed")
    speedup = statistics.median(seq) / statistics.median(par)
    return {
        "value": round(speedup, 3),
        "unit": "x aggregate throughput (2 parallel vs 1 at a time)",
        "goal": f">= {GOAL_PARALLEL}",
        "met": speedup >= GOAL_PARALLEL,
        "sequential_wall_s": stats(seq, 3),
        "parallel_wall_s": stats(par, 3),
        "aggregate_mips_parallel": round(2 * instructions / statistics.median(par) / 1e6, 1),
        "aggregate_mips_sequential": round(2 * instructions / statistics.median(seq) / 1e6, 1),
        "cpus": os.cpu_count(),
        "method": (
            f"two `cosim run` of the long workload ({instructions} instructions, board {board.id}) one after the "
            "other vs two at once as separate processes; value = median sequential wall / median parallel wall "
            "(same work, so the aggregate-throughput ratio)."
        ),
    }


def bench_other_engine(name: str, board: Board, trivial: Path, plan: Plan) -> tuple[JSON, JSON]:
    """Boot time and MIPS on an engine other than QEMU, through the Python API, when it is installed."""
    reason = engine_class(name).unavailable_reason(board)
    if reason is not None:
        missing = {"value": None, "reason": f"not installed here: {reason}"}
        return missing, missing
    say(f"{name}: boot and MIPS through the Python API")
    boots = []
    for _ in range(plan.reps):
        t0 = time.perf_counter()
        clock = LineClock(t0)
        run_firmware(RunRequest(elf=trivial, board=board.id, engine=name, echo=clock.line, timeout_s=120))
        boots.append((clock.lines[0][0] if clock.lines else math.nan, time.perf_counter() - t0))
    elf = build_app(board, "bench_compute", BENCH_INSTRUCTIONS="500000000ull")
    t0 = time.perf_counter()
    clock = LineClock(t0)
    run_firmware(RunRequest(elf=elf, board=board.id, engine=name, echo=clock.line, timeout_s=600))
    mips = steady_mips(Timed(time.perf_counter() - t0, 0, clock.lines))
    boot = {
        "python_api": {"first_line": stats([b[0] for b in boots]), "exit": stats([b[1] for b in boots])},
        "method": "run_firmware(engine=...) on bench_trivial: call to first console line, call to return",
    }
    return boot, {"value": round(mips, 1) if mips else None, "unit": "MIPS", "method": "bench_compute, 5e8 instr."}


# --------------------------------------------------------------------------------------------------------------------
# machine description


def command_output(argv: list[str]) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, cwd=REPO)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def machine_info() -> JSON:
    cpu = None
    try:  # psutil has no CPU model name, and platform.processor() gives only the architecture on Linux
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem: int | None = psutil.virtual_memory().total // 2**20
    except (OSError, psutil.Error):
        mem = None
    return {
        "host": platform.node(),
        "os": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "mem_mib": mem,
    }


def software_info() -> JSON:
    qemu = command_output([QEMU_BINARY, "--version"])
    status = command_output(["git", "status", "--porcelain"])
    return {
        "qemu": qemu.splitlines()[0] if qemu else None,
        "python": platform.python_version(),
        "gcc": (command_output(["arm-none-eabi-gcc", "--version"]) or "").splitlines()[:1] or None,
        "git_commit": command_output(["git", "rev-parse", "HEAD"]),
        "git_dirty": bool(status) if status is not None else None,
    }


# --------------------------------------------------------------------------------------------------------------------


def make_plan(quick: bool, long_instructions: int | None) -> Plan:
    if quick:
        return Plan(
            quick=True, reps=3, long_instructions=long_instructions or 600_000_000, data_samples=1_000_000,
            data_batches=[4096], stream_seconds_wfi=10.0, stream_seconds_poll=1.0, parallel_reps=1,
        )  # fmt: skip
    return Plan(
        quick=False, reps=3, long_instructions=long_instructions, data_samples=16_000_000,
        data_batches=[512, 4096, 16384], stream_seconds_wfi=300.0, stream_seconds_poll=5.0, parallel_reps=3,
    )  # fmt: skip


def goals_summary(metrics: JSON) -> list[JSON]:
    rows = []
    for key, label in (
        ("cosim_vs_bare", "cosim run / bare QEMU wall time"),
        ("data_throughput", "data channel, int16 samples/s"),
        ("stream_realtime", "16 kHz stream, simulated s per wall s"),
        ("parallel", "2 boards in parallel, aggregate speed-up"),
    ):
        m = metrics[key]["ratio"] if key == "cosim_vs_bare" else metrics[key]
        rows.append({"metric": label, "value": m["value"], "goal": m["goal"], "met": m["met"]})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="short workloads (under a minute), to check the harness")
    ap.add_argument("--board", default="stm32f405")
    ap.add_argument(
        "--out", type=Path, default=None, help="default: bench/results/spine.json (--quick: spine-quick.json)"
    )
    ap.add_argument(
        "--long-instructions", type=int, default=None, help="size of the long workload (default: calibrated)"
    )
    args = ap.parse_args(argv)
    launcher.install_signal_handlers()
    if shutil.which(QEMU_BINARY) is None:
        raise SystemExit(f"{QEMU_BINARY} not found on PATH")
    plan = make_plan(args.quick, args.long_instructions)
    out: Path = args.out or (RESULTS.with_name("spine-quick.json") if args.quick else RESULTS)
    board = load_board(args.board)
    started = time.perf_counter()
    busy0, own0 = busy_cpu_seconds(), own_cpu_seconds()
    result: JSON = {
        "benchmark": "spine",
        "mode": "quick" if plan.quick else "full",
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "board": board.id,
        "machine": {**machine_info(), "uptime_before": uptime(), "load_before": load()},
        "software": software_info(),
    }
    if plan.quick:
        result["note"] = (
            "quick mode: short workloads and few repetitions, to check the harness; the cosim/bare ratio and the "
            "parallel speed-up are dominated by start-up costs here and are not comparable with the goals"
        )
    say(f"{result['date_utc']}  {result['machine']['uptime_before']}")
    say("building bench apps")
    trivial = build_app(board, "bench_trivial")

    boot = bench_boot(board, trivial, plan)
    calibration: JSON | None = None
    if plan.long_instructions is None:
        say("calibrating the long workload")
        long_instructions, cal_mips = calibrate(board)
        calibration = {"mips": round(cal_mips, 1), "target_wall_s": LONG_WALL_S, "instructions": long_instructions}
    else:
        long_instructions = plan.long_instructions
    long_elf = build_app(board, "bench_compute", BENCH_INSTRUCTIONS=f"{long_instructions}ull")
    comparison, mips, _ = bench_long(board, long_elf, boot, plan)
    comparison["workload"]["calibration"] = calibration
    if not plan.quick and comparison["workload"]["bare_wall_s"]["min"] < 10.0:
        comparison["workload"]["warning"] = "bare run shorter than 10 s: pass a larger --long-instructions"
    data = bench_data_rate(board, plan)
    stream = bench_stream(board, plan)
    parallel = bench_parallel(board, long_elf, comparison["workload"]["instructions"], plan)
    renode_boot, renode_mips = bench_other_engine("renode", board, trivial, plan)

    metrics: JSON = {
        "emulated_mips": {"qemu": mips, "renode": renode_mips},
        "boot": {"qemu": boot, "renode": renode_boot},
        "cosim_vs_bare": comparison,
        "data_throughput": data,
        "stream_realtime": stream,
        "parallel": parallel,
    }
    result["metrics"] = metrics
    result["goals"] = goals_summary(metrics)
    result["machine"]["uptime_after"] = uptime()
    result["machine"]["load_after"] = load()
    result["bench_wall_s"] = round(time.perf_counter() - started, 1)
    busy1 = busy_cpu_seconds()
    if busy0 is not None and busy1 is not None:
        other = max(0.0, (busy1 - busy0) - (own_cpu_seconds() - own0))
        result["machine"]["other_processes_cpu_s"] = round(other, 1)
        result["machine"]["other_processes_avg_cores"] = round(other / result["bench_wall_s"], 2)
        result["machine"]["other_processes_method"] = (
            "CPU time of the whole machine (psutil.cpu_times, i.e. /proc/stat) during the benchmark minus this "
            "benchmark's own process tree (os.times, children included): how much of the 2 cores something else used"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print_summary(result)
    say(f"wrote {out} in {result['bench_wall_s']} s")
    return 0


def print_summary(result: JSON) -> None:
    m = result["metrics"]
    boot = m["boot"]["qemu"]
    rows: list[tuple[str, str]] = [
        ("QEMU MIPS (steady, cosim run)", f"{m['emulated_mips']['qemu']['value']}"),
        ("QEMU MIPS (bare, end to end)", f"{m['emulated_mips']['qemu']['bare_end_to_end']['median']}"),
        ("boot, bare QEMU: first line / exit", f"{boot['bare_qemu']['first_line']['median']} / "
                                               f"{boot['bare_qemu']['exit']['median']} s"),
        ("boot, cosim run: first line / exit", f"{boot['cosim_run']['first_line']['median']} / "
                                               f"{boot['cosim_run']['exit']['median']} s"),
        ("boot, Python API: first line / exit", f"{boot['python_api']['first_line']['median']} / "
                                                f"{boot['python_api']['exit']['median']} s"),
        ("cosim run start-up cost", f"{m['cosim_vs_bare']['startup_cost_s']['value']} s"),
        ("Renode", str(m["emulated_mips"]["renode"].get("reason") or m["emulated_mips"]["renode"]["value"])),
    ]  # fmt: skip
    mach = result["machine"]
    rows.append(("other processes on the machine", f"{mach.get('other_processes_avg_cores')} cores on average"))
    rows.append(("uptime before / after", f"{mach['uptime_before']} / {mach['uptime_after']}"))
    for g in result["goals"]:
        rows.append((g["metric"], f"{g['value']} (goal {g['goal']}: {'met' if g['met'] else 'MISSED'})"))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


if __name__ == "__main__":
    sys.exit(main())
