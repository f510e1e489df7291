"""Budget keywords: worst-case inference time against a deadline, flash, RAM and stack against limits."""

from __future__ import annotations

from robot.api import logger
from robot.api.deco import keyword

from tinyml_cosim.robot.context import Context
from tinyml_cosim.robot.messages import memory_message, ms, parse_size, tinyml_cosim_time, worst_case_message


class BudgetKeywords:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @keyword(tags=["budgets", "inference"])
    def worst_case_inference_should_be_within(self, deadline: str) -> float:
        """Checks the longest inference span (observed maximum over the last run, or every seed of the last `Run
        Scenario`; the span name and calibration come from the scenario's ``expect.timing``) against
        ``deadline`` (``10 ms``, ``1.5 ms``; a number alone is seconds). Returns the worst case in ms.

        | Worst Case Inference Should Be Within | 10 ms |
        """
        board = self.ctx.board
        self.ctx.run()
        deadline_ms = tinyml_cosim_time(deadline, "deadline") * 1000
        timing, checks = board.timing(deadline_ms)
        check = next((c for c in checks if c.id == "timing.deadline_ms"), None)
        if timing is None or check is None or check.actual is None:
            span = timing.span if timing is not None else "inference"
            raise AssertionError(
                f"Worst-case inference not measured: no {span!r} spans in the run ({self.ctx.describe()}, "
                f"{board.now_s:.3f} s simulated)"
            )
        at = timing.observed_maximum_at or {}
        instr = int(timing.instructions["observed_maximum"].value or 0)
        worst = float(check.actual)  # what the CLI compares: at the silicon band's upper end when calibrated
        where = f"seed {at.get('seed')}, inference #{at.get('index')} at {at.get('time_s', 0):.3f} s simulated"
        estimated = timing.time_basis in ("calibrated cycles", "estimated cycles")
        basis = getattr(timing, "deadline_basis", "") if estimated else ""
        if check.failed:
            raise AssertionError(worst_case_message(instr, worst, timing.clock_hz, deadline_ms, where, basis))
        logger.info(
            f"worst-case inference {instr:,} instructions ({ms(worst)} ms) within {ms(deadline_ms)} ms ({where}; "
            f"{timing.inferences} inferences; {check.message})"
        )
        return worst

    def _memory(self):
        return self.ctx.board.memory()

    @keyword(tags=["budgets", "memory"])
    def flash_usage_should_be_below(self, limit: str) -> int:
        """Checks the firmware's flash use (every section loaded into flash) is below ``limit``: bytes
        (``65536``), ``64 KiB``, ``1 MiB`` or a share of the board's flash (``50 %``). Returns the bytes used.

        | Flash Usage Should Be Below | 64 KiB |
        """
        m = self._memory()
        need = parse_size(limit, m.flash_limit, "flash limit")
        if m.flash_used >= need:
            top = sorted(m.components_flash.items(), key=lambda kv: -kv[1])[:3]
            detail = "largest: " + ", ".join(f"{k} {v:,}" for k, v in top) if top else ""
            raise AssertionError(
                memory_message("Flash usage", m.flash_used, need, m.flash_limit, self.ctx.board.board_id, detail)
            )
        return m.flash_used

    @keyword("RAM Usage Should Be Below", tags=["budgets", "memory"])
    def ram_usage_should_be_below(self, limit: str) -> int:
        """Checks the firmware's RAM use (static data and bss plus the stack reservation) is below ``limit``
        (bytes, ``KiB``, ``MiB`` or ``%`` of the board's RAM). Returns the bytes used.

        | RAM Usage Should Be Below | 32 KiB |
        """
        m = self._memory()
        need = parse_size(limit, m.ram_limit, "RAM limit")
        if m.ram_used >= need:
            detail = f"static {m.static_ram:,} + stack reservation {m.stack_reserved:,}"
            raise AssertionError(
                memory_message("RAM usage", m.ram_used, need, m.ram_limit, self.ctx.board.board_id, detail)
            )
        return m.ram_used

    @keyword(tags=["budgets", "memory"])
    def stack_high_water_mark_should_be_below(self, limit: str) -> int:
        """Checks the stack high-water mark (the deepest stack the firmware used, from its EXIT event; the
        maximum over the seeds of the last `Run Scenario`) is below ``limit`` (bytes, ``KiB`` or ``%`` of the
        stack reservation). The run must have ended with the firmware's exit. Returns the bytes used.

        | Stack High Water Mark Should Be Below | 2 KiB |
        """
        board = self.ctx.board
        run = self.ctx.run()
        m = self._memory()
        if m.stack_used is None:
            raise AssertionError(
                f"Stack high-water mark not measured: the run did not end with the firmware's EXIT event (status "
                f"{run.record.status.value} at {run.end_s:.3f} s simulated; {self.ctx.describe()})"
            )
        need = parse_size(limit, m.stack_reserved, "stack limit")
        if m.stack_used >= need:
            exit_t = next((e.instructions for e in run.record.events if e.kind == "EXIT"), None)
            when = f" at exit, {exit_t / run.record.clock_hz:.3f} s simulated" if exit_t is not None else ""
            raise AssertionError(
                f"Stack high-water mark {m.stack_used:,} bytes ({100 * m.stack_used / m.stack_reserved:.1f} % of the "
                f"{m.stack_reserved:,}-byte reservation{when}) is not below {need:,} bytes ({board.board_id})"
            )
        return m.stack_used
