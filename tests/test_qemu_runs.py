"""End-to-end runs on QEMU: boot, exit codes, faults, hangs, budgets, determinism, data channel, diagnosis."""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

import pytest
from cosim_testing import needs_qemu
from typer.testing import CliRunner

from tinyml_cosim.cli.app import app
from tinyml_cosim.core.boards import load_board
from tinyml_cosim.elf.image import load_image
from tinyml_cosim.protocol.datachannel import DataService, RateStream
from tinyml_cosim.protocol.frames import Transport
from tinyml_cosim.run.record import RunRecord, Status
from tinyml_cosim.run.session import RunRequest, run_firmware

pytestmark = needs_qemu
F405 = load_board("stm32f405")


def run(elf: Path, **kw) -> RunRecord:
    kw.setdefault("timeout_s", 60)
    return run_firmware(RunRequest(elf=elf, board=kw.pop("board", "stm32f405"), **kw))


def in_function(elf: Path, pc: int | None, name: str) -> bool:
    start, end = load_image(elf, F405).function_range(name)
    return pc is not None and start <= pc < end


def test_demo_boots_prints_and_exits_zero(firmware) -> None:
    rec = run(firmware("demo"))
    assert rec.status is Status.EXITED and rec.exit_code == 0 and rec.succeeded
    boot = next(e for e in rec.events if e.kind == "BOOT")
    assert boot.fields == {"app": "demo", "proto": "1", "transport": "1", "clock_hz": "168000000"}
    assert any(line.startswith("demo: 8 inferences") for line in rec.console_tail)
    assert [s.name for s in rec.spans] == ["inference"] * 8
    assert rec.engine == "qemu" and rec.engine_version.startswith("7.2")
    assert rec.systick_ticks_per_instruction == pytest.approx(0.168)


def test_instruction_counts_repeat_exactly(firmware) -> None:
    """-icount shift=0,sleep=off: the same ELF retires the same instructions, to the instruction, every run."""
    runs = [run(firmware("demo")) for _ in range(3)]
    counts = {(r.instructions, tuple(s.instructions for s in r.spans)) for r in runs}
    assert len(counts) == 1
    total, spans = counts.pop()
    # Literal values: a change here means the firmware or the toolchain changed, and the numbers must be re-read.
    assert total == DEMO_TOTAL_INSTRUCTIONS
    assert spans[0] == DEMO_FIRST_INFERENCE_INSTRUCTIONS


# 991,499 before the mailbox buffer left QEMU builds: start-up no longer zeroes its 2,048 words (3 instructions each).
DEMO_TOTAL_INSTRUCTIONS = 985_355
DEMO_FIRST_INFERENCE_INSTRUCTIONS = 100_056


def test_exit_code_propagates(firmware) -> None:
    rec = run(firmware("exit_code"))
    assert rec.status is Status.EXITED and rec.exit_code == 3 and not rec.succeeded
    result = CliRunner().invoke(app, ["run", "--board", "stm32f405", "--json", str(firmware("exit_code"))])
    assert result.exit_code == 1  # the CLI's code says "firmware failed"; the firmware's own code is in the JSON
    payload = json.loads(result.stdout)
    assert payload["exit_code"] == 3 and payload["status"] == "exited" and payload["schema_version"] == 1
    for key in ("instructions", "pc", "lr", "cfsr", "hfsr", "bfar", "console_tail", "board", "engine", "elf_sha256"):
        assert key in payload


def test_undefined_instruction_is_a_usage_fault_in_the_right_function(firmware) -> None:
    elf = firmware("fault_undef")
    rec = run(elf)
    assert rec.status is Status.FAULT
    assert in_function(elf, rec.pc, "execute_undefined")
    assert rec.cfsr is not None and rec.cfsr & (1 << 16)  # UFSR.UNDEFINSTR
    assert "UNDEFINSTR" in rec.fault_bits and "execute_undefined" in rec.diagnosis


def test_bus_fault_reports_bfar(firmware) -> None:
    elf = firmware("fault_bus")
    rec = run(elf)
    assert rec.status is Status.FAULT and in_function(elf, rec.pc, "read_unmapped")
    assert rec.cfsr & (1 << 9) and rec.cfsr & (1 << 15)  # PRECISERR, BFARVALID
    assert rec.bfar == 0x60000000


def test_foreign_firmware_fault_is_diagnosed_by_the_engine(firmware) -> None:
    """No project handler: the core spins in the vendor's `b .` HardFault; the engine unwinds the stacked frame."""
    elf = firmware("foreign_fault")
    rec = run(elf, hang_instructions=20_000_000)
    assert rec.status is Status.FAULT and not rec.uses_cosim_runtime
    assert in_function(elf, rec.pc, "sensor_read")  # stacked PC, not the handler's
    assert rec.cfsr & (1 << 9) and rec.bfar == 0x60000000
    assert rec.hfsr & (1 << 30)  # FORCED: escalated to HardFault
    assert "HardFault" in rec.diagnosis and "vendor firmware up" in rec.console_tail


def test_hang_is_caught_by_the_watchdog_inside_the_loop(firmware) -> None:
    elf = firmware("hang")
    rec = run(elf, hang_instructions=30_000_000)
    assert rec.status is Status.HANG and in_function(elf, rec.pc, "spin_forever")
    assert any(e.kind == "WATCHDOG" for e in rec.events)


def test_polling_an_unmodelled_peripheral_is_named(firmware) -> None:
    elf = firmware("rcc_poll")
    rec = run(elf, hang_instructions=30_000_000)
    assert rec.status is Status.HANG and in_function(elf, rec.pc, "SystemClock_Config")
    assert rec.polled_address == 0x40023800
    assert "polling RCC_CR at 0x40023800, not modelled by qemu; use --engine renode" in rec.diagnosis


def test_budget_on_project_firmware_is_exact_to_the_interrupt(firmware) -> None:
    rec = run(firmware("hang"), max_instructions=5_000_000, hang_instructions=10**12)
    assert rec.status is Status.BUDGET_REACHED and rec.succeeded and rec.instructions_exact
    assert 5_000_000 <= rec.instructions < 5_000_000 + 64  # the service alarm's interrupt latency


def test_budget_on_foreign_firmware_is_host_enforced(firmware) -> None:
    rec = run(firmware("foreign_hello"), max_instructions=50_000_000)
    assert rec.status is Status.BUDGET_REACHED and rec.instructions >= 50_000_000
    assert rec.instructions_precision == rec.instructions - 50_000_000
    assert "heartbeat" in rec.console_tail


def test_duration_is_converted_through_the_board_clock(firmware) -> None:
    rec = run(firmware("hang"), duration_s=0.01, hang_instructions=10**12)
    assert rec.status is Status.BUDGET_REACHED and rec.max_instructions == 1_680_000


def test_wall_clock_timeout_reports_where_the_firmware_was(firmware) -> None:
    elf = firmware("foreign_hello")
    rec = run(elf, timeout_s=0.3)
    assert rec.status is Status.TIMEOUT and rec.pc is not None and not rec.succeeded
    assert "timeout" in rec.diagnosis


def test_spans_nest_and_the_empty_span_measures_the_overhead(firmware) -> None:
    rec = run(firmware("spans"))
    by_name = {s.name: s for s in rec.spans}
    assert by_name["inner"].depth == 1 and by_name["outer"].depth == 0
    assert by_name["outer"].begin < by_name["inner"].begin < by_name["inner"].end < by_name["outer"].end
    overhead = by_name["empty"].instructions
    assert 0 < overhead < 40
    decision = next(e for e in rec.events if e.kind == "DECISION")
    assert decision.fields == {"class": "normal", "score": "97"}


@pytest.mark.parametrize("transport", [Transport.SEMIHOSTING, Transport.UART])
def test_data_channel_delivers_every_byte_in_order(firmware, transport: Transport) -> None:
    data = bytes((i * 37 + 11) & 0xFF for i in range(4000))
    svc = DataService(streams={0: RateStream(data, 2, 16_000, F405.clock_hz)})
    rec = run(firmware("data_sum"), data=svc, transport=transport)
    marks = {e.fields["name"]: int(e.fields["value"]) for e in rec.events if e.kind == "MARK"}
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    assert rec.status is Status.EXITED and rec.exit_code == 0
    assert marks["bytes"] == len(data) and marks["fnv1a"] & 0xFFFFFFFF == h
    assert svc.stats.firmware_name == "data_sum"
    # samples are released in simulated time: the last of 2000 samples at 16 kHz is due at 2000/16000 s
    assert rec.simulated_seconds >= 1999 / 16_000


def test_cortex_m3_board_runs_the_same_sources(firmware) -> None:
    rec = run(firmware("demo", board="stm32f205"), board="stm32f205")
    assert rec.status is Status.EXITED and rec.exit_code == 0 and rec.board == "stm32f205"
    assert rec.clock_hz == 120_000_000 and rec.systick_ticks_per_instruction == pytest.approx(0.12)
    f4 = run(firmware("demo"))

    def checksum(r: RunRecord) -> list[str]:
        return [ln for ln in r.console_tail if ln.startswith("demo:")] + [
            e.fields["value"] for e in r.events if e.kind == "MARK" and e.fields["name"] == "checksum"
        ]

    assert checksum(rec) == checksum(f4) and len(checksum(rec)) == 2  # same int8 arithmetic, same result


def test_event_crc_matches_zlib() -> None:
    assert zlib.crc32(b"@C1 991409 EXIT code=0 stack_used=516") == 0x71FB63D4


def test_qemu_timer_model_still_fires_where_the_runtime_expects(firmware) -> None:
    """QEMU 7.2 schedules an STM32 timer's update event at ARR + t(CNT write) + t(ARR write); the runtime's
    service alarm (budgets, watchdog, counter sampling) is armed that way on QEMU. Fails if an upgrade changes it."""
    rec = run(firmware("alarm_probe"))
    late = [int(e.fields["value"]) for e in rec.events if e.kind == "MARK"]
    assert len(late) == 6 and all(0 <= x < 200 for x in late), late


def test_fault_inside_the_fault_handler_is_a_lockup(firmware) -> None:
    elf = firmware("foreign_lockup")
    rec = run(elf)
    assert rec.status is Status.LOCKUP and in_function(elf, rec.pc, "broken_hardfault")
    assert "Lockup" in rec.diagnosis


def test_emulator_dying_is_a_crash_with_the_last_console_lines(firmware) -> None:
    import signal
    import threading

    from tinyml_cosim.engines.base import RunLimits
    from tinyml_cosim.engines.qemu.engine import QemuEngine
    from tinyml_cosim.run.session import make_record

    board, image = F405, load_image(firmware("foreign_hello"), F405)
    with QemuEngine(board) as engine:
        engine.start(image, engine.transport())
        engine.console.expect("heartbeat", timeout=30)
        threading.Timer(0.2, lambda: os.kill(engine._proc.pid, signal.SIGKILL)).start()
        ending = engine.run(RunLimits(timeout_s=30))
        rec = make_record(engine, image, board, ending, None, 0.0, None)
    assert rec.status is Status.CRASH and "qemu crashed" in rec.diagnosis
    assert "heartbeat" in rec.console_tail


def test_fingerprint_names_every_input_of_the_run(firmware, tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text("seed: 1\n")
    a = run(firmware("spans"), scenario=scenario, seed=7)
    b = run(firmware("spans"), scenario=scenario, seed=7)
    c = run(firmware("spans"), scenario=scenario, seed=8)
    assert a.fingerprint == b.fingerprint != c.fingerprint and len(a.fingerprint) == 64
    assert a.provenance.elf_sha256 == a.elf_sha256 and a.provenance.engine_version == a.engine_version
    scenario.write_text("seed: 2\n")
    assert run(firmware("spans"), scenario=scenario, seed=7).fingerprint != a.fingerprint


def test_measure_counts_a_function_exactly_as_cosim_spans_do(firmware) -> None:
    """--measure (breakpoints, QEMU's own instruction count) agrees with cosim.h spans around the same call."""
    elf = firmware("spans")
    measured = run(elf, measure=("work",))
    assert measured.status is Status.EXITED and not measured.timing_valid
    assert [m.instructions for m in measured.measurements] == [6_004, 30_004]  # work(1000), work(5000)
    spans = {s.name: s.instructions for s in run(elf).spans}
    # The inner span holds `movw r0, #5000; bl work` and the call; the empty span is the markers' own cost.
    call_site = 2
    assert spans["inner"] - spans["empty"] - call_site == measured.measurements[1].instructions


def test_measure_works_on_foreign_firmware(firmware) -> None:
    rec = run(firmware("foreign_hello"), max_instructions=3_000_000, measure=("heartbeat_delay",))
    assert rec.status is Status.BUDGET_REACHED and not rec.uses_cosim_runtime
    counts = [m.instructions for m in rec.measurements]
    assert len(counts) >= 4 and set(counts) == {600_009}  # 100,000 iterations x 6 + 9, every call


def test_measure_an_unknown_function_is_bad_input(firmware) -> None:
    from tinyml_cosim.core.errors import BadInput

    with pytest.raises(BadInput, match=r"--measure no_such_function: no function of that name"):
        run(firmware("spans"), measure=("no_such_function",))
