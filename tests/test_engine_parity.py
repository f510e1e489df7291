"""The same test firmwares on QEMU and on a live Renode (issue 13): the same statuses, exit codes, faulting PCs, fault
addresses, console and instruction counts. Counts the host takes at an instruction (a semihosting exit, a fault
handler's entry, a budget stop) are exact on both engines and equal; counts the project's firmware reads from its
own timer are exact on QEMU and within the precision Renode's record states.

Needs QEMU and Renode on PATH (`make test-renode`); skipped otherwise, with the reason."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

import pytest
from cosim_testing import needs_qemu
from foreign import build_foreign
from test_renode_replay import short_shake

from tinyml_cosim.build.firmware import build
from tinyml_cosim.core.boards import load_board
from tinyml_cosim.engines.renode import engine as renode_engine
from tinyml_cosim.engines.renode.engine import RenodeEngine
from tinyml_cosim.orchestrate.scenario_runs import ScenarioRunRequest, run_scenario
from tinyml_cosim.run.record import RunRecord, Status
from tinyml_cosim.run.session import RunRequest, run_firmware

F405 = load_board("stm32f405")
pytestmark = [
    needs_qemu,
    pytest.mark.renode,
    pytest.mark.skipif(renode_engine.renode_binary() is None, reason="renode not on PATH (make test-renode)"),
]


def elf_of(name: str) -> Path:
    """A project test app (`cosim build`) or, prefixed `vendor:`, a vendor-way firmware of tests/firmware/foreign."""
    return build_foreign(name[7:]) if name.startswith("vendor:") else build(F405, name).elf


@cache
def _run(name: str, engine: str, budget: int | None = None, hang_seconds: float | None = None) -> RunRecord:
    extra = {} if hang_seconds is None else {"hang_seconds": hang_seconds}
    return run_firmware(
        RunRequest(elf=elf_of(name), board="stm32f405", engine=engine, timeout_s=300, max_instructions=budget,
                   **extra)
    )  # fmt: skip


def both(name: str, **kw) -> tuple[RunRecord, RunRecord]:
    return _run(name, "qemu", **kw), _run(name, "renode", **kw)


PROJECT_PRECISION = RenodeEngine.event_count_precision(F405)


@pytest.mark.parametrize("app", ["demo", "exit_code", "fault_undef"])
def test_project_firmware_same_status_and_counts_within_the_stated_precision(app: str) -> None:
    q, r = both(app)
    assert (r.status, r.exit_code, r.pc, r.cfsr) == (q.status, q.exit_code, q.pc, q.cfsr)
    assert [e.kind for e in r.events] == [e.kind for e in q.events]
    assert q.instructions_exact and not r.instructions_exact
    assert r.instructions_precision == PROJECT_PRECISION
    assert q.instructions is not None and r.instructions is not None
    assert abs(r.instructions - q.instructions) <= PROJECT_PRECISION
    assert [s.name for s in r.spans] == [s.name for s in q.spans]
    for rs, qs in zip(r.spans, q.spans, strict=True):
        assert abs(rs.instructions - qs.instructions) <= 2 * PROJECT_PRECISION  # two timer reads per span


@pytest.mark.parametrize("app", ["fault_bus", "foreign_fault"])
def test_an_unmapped_access_is_a_fault_with_its_pc_and_bfar(app: str) -> None:
    """Renode logs the access and runs on (the project's fault_bus even prints EXIT afterwards): still a fault."""
    q, r = both(app)
    assert q.status is r.status is Status.FAULT
    assert r.pc == q.pc and r.bfar == q.bfar == 0x60000000
    assert "0x60000000" in r.diagnosis and "renode" in r.diagnosis


@pytest.mark.parametrize("firmware", ["vendor:busy_loop", "vendor:semihosting_printf"])
def test_semihosting_firmware_exits_with_the_same_code_console_and_exact_count(firmware: str) -> None:
    """newlib's rdimon (SYS_OPEN :tt, the feature file, SYS_WRITE, SYS_EXIT) answered as QEMU answers it."""
    q, r = both(firmware)
    assert (r.status, r.exit_code) == (q.status, q.exit_code) == (Status.EXITED, 0)
    assert r.console_tail == q.console_tail and r.console_tail
    assert r.instructions_exact and q.instructions_exact
    assert r.instructions == q.instructions


def test_a_budget_stops_on_the_same_instruction() -> None:
    q, r = both("vendor:busy_loop", budget=1_000_003)
    assert q.status is r.status is Status.BUDGET_REACHED
    assert q.instructions == r.instructions == 1_000_003
    assert r.instructions_exact and r.instructions_precision == 0
    assert r.pc == q.pc


def test_a_vendor_fault_is_caught_at_its_handler_with_the_same_count() -> None:
    """An undefined instruction faults on both engines: the handler's entry, its count and the stacked PC agree."""
    q, r = both("foreign_lockup")  # UsageFault at `udf` in trigger(); its HardFault handler faults again
    assert r.status is Status.FAULT and q.status is Status.LOCKUP  # Renode 1.16.1 models no lockup
    assert r.instructions == q.instructions == 3 and r.instructions_exact
    assert r.pc == 0x08000048 and "trigger" in r.diagnosis
    assert "although SHCSR does not enable it" in r.diagnosis


@pytest.mark.parametrize("firmware", ["vendor:hardfault_b_dot", "vendor:stack_overflow_msp"])
def test_a_vendor_bus_error_is_a_fault_on_both(firmware: str) -> None:
    """QEMU raises the BusFault (the vendor's HardFault handler catches it); Renode logs the access, which is the
    fault: same status, and for a plain unmapped read the same PC and address."""
    q, r = both(firmware)
    assert q.status is r.status is Status.FAULT
    if firmware.endswith("hardfault_b_dot"):
        assert r.pc == q.pc and r.bfar == q.bfar == 0x60000000


def test_polling_usart_rx_is_a_hang_on_both() -> None:
    q, r = both("vendor:usart_rx_poll", hang_seconds=3)
    assert q.status is r.status is Status.HANG
    assert r.instructions_exact


def test_hal_firmware_that_qemu_cannot_clock_runs_on_renode() -> None:
    """HSE + PLL to 168 MHz: QEMU has no RCC model (HAL's timeout ends in Error_Handler); Renode's RCC locks."""
    cube = os.environ.get("STM32CUBE_DIR", "/opt/byof-src")
    if not Path(cube, "stm32f4xx-hal-driver").is_dir() and not Path(cube, "Drivers").is_dir():
        pytest.skip("STM32CUBE_DIR is not set to an STM32CubeF4 tree (see docs/byof.md)")
    elf = build_foreign("cube_hal_hello", STM32CUBE_DIR=cube)
    lines: list[str] = []
    rec = run_firmware(
        RunRequest(elf=elf, board="stm32f405", engine="renode", duration_s=0.05, timeout_s=300, echo=lines.append)
    )
    assert rec.status is Status.BUDGET_REACHED, rec.diagnosis
    assert "hal_hello: SYSCLK 168000000 Hz" in lines
    assert any(line.startswith("hal_hello: tick ") for line in lines)


def test_a_scenario_gives_the_same_verdict_and_decisions(tmp_path: Path) -> None:
    """The shake scenario (3 s; the firmware built for each engine's data channel): the same checks, the same
    decisions in the same order, each at the same time within the firmware-count precision."""
    scenario = short_shake(tmp_path)
    reports = {}
    for engine in ("qemu", "renode"):
        out = tmp_path / engine
        run_scenario(ScenarioRunRequest(scenario, engine=engine, out=out))
        report = json.loads((out / "report.json").read_text())
        run = json.loads(next(out.glob("run-seed*.json")).read_text())
        reports[engine] = (report, [e for e in run["events"] if e["kind"] == "DECISION"])
    (q, q_decisions), (r, r_decisions) = reports["qemu"], reports["renode"]
    assert r["verdict"] == q["verdict"] == "pass"
    assert [(c["id"], c["status"]) for c in r["checks"]] == [(c["id"], c["status"]) for c in q["checks"]]
    assert [d["fields"] for d in r_decisions] == [d["fields"] for d in q_decisions] and q_decisions
    # Different builds (the mailbox vs the semihosting data channel) and Renode's ±83 timer reads: close, not equal.
    # Measured: every Renode decision 651-668 instructions after QEMU's (the mailbox path's cost per request).
    for a, b in zip(r_decisions, q_decisions, strict=True):
        assert abs(a["instructions"] - b["instructions"]) < 2_000, (a, b)
