"""Keywords for plain firmware ELFs (your own start-up, TFLM, a vendor HAL; no scenario): run until the firmware
ends, its exit code, its fault, the functions measured with ``--measure``, console lines and UART input.

Every keyword runs the firmware from boot through `run_firmware`, the function behind ``cosim run ELF``: runs
are deterministic, so a later keyword sees the run an earlier one saw, continued further (with UART input: the same
console, see `Write To UART`). Input written with `Write To UART` is replayed in each later run after the console
line it followed."""

from __future__ import annotations

import re

from robot.api import logger
from robot.api.deco import keyword

from tinyml_cosim.core import cortex_m
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.core.run_limits import default_timeout_s
from tinyml_cosim.orchestrate.board_session import Run
from tinyml_cosim.robot.context import Context
from tinyml_cosim.robot.messages import (
    ended_message,
    instant,
    measured_message,
    parse_instructions_or_time,
    tinyml_cosim_time,
)
from tinyml_cosim.run.record import RunRecord, Status
from tinyml_cosim.run.session import RunRequest, run_firmware

# How a run that did not end by itself ended: `Run Firmware Until Exit` fails on these.
_NOT_ENDED = (Status.BUDGET_REACHED, Status.HANG, Status.TIMEOUT, Status.CRASH, Status.ERROR)
_FAULTED = (Status.FAULT, Status.LOCKUP)
# CFSR sub-registers (B3.2.15): bit ranges -> the fault class they report.
_CFSR_CLASSES = ((0, 8, "MemManage"), (8, 16, "BusFault"), (16, 32, "UsageFault"))


def _norm(name: str) -> str:
    return re.sub(r"[\s_-]+", "", name).lower()


def fault_kinds(record: RunRecord) -> list[str]:
    """Every name a fault of `record` answers to: its status (fault, lockup), the exceptions its diagnosis names
    (HardFault, ...), the CFSR classes with a bit set (BusFault, UsageFault, MemManage) and the bits themselves."""
    kinds = [record.status.value]
    kinds += [n for n in cortex_m.EXCEPTION_NAMES.values() if re.search(rf"\b{n}\b", record.diagnosis)]
    cfsr = record.cfsr or 0
    kinds += [name for lo, hi, name in _CFSR_CLASSES if cfsr & (((1 << hi) - 1) ^ ((1 << lo) - 1))]
    kinds += list(record.fault_bits)
    return list(dict.fromkeys(kinds))


def same_function(symbol: str | None, function: str) -> bool:
    """`crash_now` matches `crash_now`; a demangled C++ name matches with or without its parameter list."""
    if not symbol:
        return False
    bare = symbol.split("+", 1)[0].strip()
    return function in (bare, bare.split("(", 1)[0])


class FirmwareKeywords:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # --- running ----------------------------------------------------------------------------------------------
    def _run(self, within: str, measure: tuple[str, ...] = ()) -> Run:
        board = self.ctx.board
        if board.scenario_source is not None:
            raise BadInput(
                "these keywords run a plain firmware ELF: start the board with firmware=... (no Load Scenario)"
            )
        duration = tinyml_cosim_time(within, "within")
        lines: list[str] = []
        record = run_firmware(
            RunRequest(elf=board.elf(), board=board.board_id, engine=board.engine, duration_s=duration,
                       timeout_s=default_timeout_s(duration), echo=lines.append, measure=measure,
                       console_input=tuple(self.ctx.uart_input))
        )  # fmt: skip
        run = Run(None, record, lines)
        board.last_run, board.outcome = run, None
        board.now_s = duration if record.status is Status.BUDGET_REACHED else min(duration, run.end_s)
        logger.info(f"{self.ctx.describe()}: {record.status.value} at {self._at(run)}: {record.diagnosis}")
        return run

    @staticmethod
    def _at(run: Run) -> str:
        return instant(run.record.instructions, run.end_s)

    @keyword(tags=["firmware"])
    def run_firmware_until_exit(self, within: str = "10 s", measure: str | list[str] | None = None) -> int | None:
        """Runs the firmware from boot until it ends by itself — it exits (semihosting ``SYS_EXIT``, ``exit()``
        with rdimon) or faults — within ``within`` of simulated time (``10 s``, ``500 ms``). Returns the exit code
        (None after a fault): check it with `Exit Code Should Be` or `Fault Should Be`.

        Fails when the firmware does not end by itself: still running at ``within`` (budget reached), a hang, the
        wall-clock backstop or an emulator crash, with the diagnosis and the last console lines.

        ``measure``: functions whose every call is counted, as ``cosim run --measure`` (a name or a list; check
        them with `Measured Function Should Be Within`). Input written before with `Write To UART` is sent after
        the console line it followed.

        | Run Firmware Until Exit | within=2 s |
        | Run Firmware Until Exit | measure=crc32 |
        """
        names = tuple([measure] if isinstance(measure, str) else (measure or ()))
        run = self._run(within, tuple(n for n in names if n))
        rec = run.record
        if rec.status in _NOT_ENDED:
            raise AssertionError(
                ended_message(self.ctx.describe(), rec.status.value, self._at(run), rec.diagnosis,
                              f"it to exit within {within}", run.console[-5:])
            )  # fmt: skip
        return rec.exit_code

    @keyword(tags=["firmware"])
    def exit_code_should_be(self, code: int) -> None:
        """Checks that the last run ended with the firmware's own exit, with exit code ``code``.

        | Run Firmware Until Exit |
        | Exit Code Should Be | 0 |
        """
        run = self.ctx.run()
        rec, expected = run.record, int(code)
        if rec.status is not Status.EXITED:
            raise AssertionError(
                ended_message(self.ctx.describe(), rec.status.value, self._at(run), rec.diagnosis,
                              f"exit code {expected}", run.console[-5:])
            )  # fmt: skip
        if rec.exit_code != expected:
            raise AssertionError(
                f"Exit code of {self.ctx.describe()} was {rec.exit_code}, expected {expected} (at {self._at(run)}); "
                "last console lines:\n" + "\n".join(run.console[-5:])
            )

    @keyword(tags=["firmware", "fault"])
    def fault_should_be(self, kind: str | None = None, function: str | None = None) -> str:
        """Checks that the last run ended in a fault (or a lockup) of ``kind`` in ``function``.

        ``kind`` is any name the fault answers to, case and spaces ignored: ``fault`` or ``lockup``, the exception
        taken (``HardFault``), the fault class of the CFSR bits set (``UsageFault``, ``BusFault``, ``MemManage``)
        or one of those bits (``UNDEFINSTR``, ``PRECISERR``). ``function``: the function of the faulting PC (for a
        firmware stuck in a fault handler, the stacked PC), a C++ name demangled with or without its parameters.
        Returns the diagnosis.

        | Fault Should Be | UsageFault | function=crash_now |
        | Fault Should Be | lockup |
        """
        run = self.ctx.run()
        rec = run.record
        if rec.status not in _FAULTED:
            expected = "a fault" + (f" ({kind})" if kind else "") + (f" in {function}" if function else "")
            raise AssertionError(
                ended_message(self.ctx.describe(), rec.status.value, self._at(run), rec.diagnosis, expected,
                              run.console[-5:])
            )  # fmt: skip
        kinds = fault_kinds(rec)
        if kind and _norm(kind) not in {_norm(k) for k in kinds}:
            raise AssertionError(
                f"Fault of {self.ctx.describe()} at {self._at(run)} is {', '.join(kinds)}, expected {kind}: "
                f"{rec.diagnosis}"
            )
        if function and not same_function(rec.pc_symbol, function):
            pc = f"0x{rec.pc:08x}" if rec.pc is not None else "unknown"
            raise AssertionError(
                f"Fault of {self.ctx.describe()} at {self._at(run)} is in {rec.pc_symbol or 'no known function'} "
                f"(PC {pc}), expected in {function}: {rec.diagnosis}"
            )
        return rec.diagnosis

    @keyword(tags=["firmware", "budgets"])
    def measured_function_should_be_within(self, function: str, limit: str) -> int:
        """Checks every call of ``function`` counted in the last run (`Run Firmware Until Exit` with
        ``measure=function``) took at most ``limit``: instructions (``12000``, ``12000 instructions``) or simulated
        time at the board's clock (``1 ms``). Returns the worst call's instructions.

        | Run Firmware Until Exit | measure=crc32 |
        | Measured Function Should Be Within | crc32 | 0.5 ms |
        """
        run = self.ctx.run()
        rec = run.record
        calls = [m for m in rec.measurements if same_function(m.function, function) or m.function == function]
        if not calls:
            seen = sorted({m.function for m in rec.measurements})
            hint = f"measured: {', '.join(seen)}" if seen else "no function was measured"
            raise AssertionError(
                f"Measured function {function}: no calls in the last run ({self.ctx.describe()}, up to "
                f"{self._at(run)}; {hint}): use Run Firmware Until Exit    measure={function}"
            )
        need = parse_instructions_or_time(limit, rec.clock_hz, "limit")
        index, worst = max(enumerate(calls, 1), key=lambda ic: ic[1].instructions)
        if worst.instructions > need:
            raise AssertionError(
                measured_message(function, worst.instructions, rec.clock_hz, need, len(calls), index,
                                 worst.begin / rec.clock_hz)
            )  # fmt: skip
        logger.info(f"{function}: {len(calls)} calls, worst {worst.instructions:,} instructions (limit {need:,})")
        return worst.instructions

    # --- console and UART ---------------------------------------------------------------------------------------
    @keyword(tags=["firmware", "console"])
    def wait_for_console_line(self, pattern: str, within: str = "1 s") -> str:
        """Runs the firmware from boot for at most ``within`` of simulated time (it may end earlier by itself) and
        waits for a console line (USART or semihosting) matching the regular expression ``pattern`` (Python
        ``re.search``) after the line the previous wait found. Returns the line; a later `Write To UART` is sent
        right after it.

        | Wait For Console Line | ^uart_echo: ready | within=100 ms |
        """
        regex = re.compile(pattern)
        run = self._run(within)
        start = self.ctx.console_cursor
        for i, line in enumerate(run.console[start:], start):
            if regex.search(line):
                self.ctx.console_cursor = i + 1
                return line
        rec = run.record
        tail = "\n".join(run.console[-5:])
        raise AssertionError(
            f"No console line matching {pattern!r} after line {start} of {self.ctx.describe()} within {within}: "
            f"the run ended with status {rec.status.value} at {self._at(run)} ({rec.diagnosis}); "
            f"{len(run.console)} lines, last:\n{tail}"
        )

    @keyword("Write To UART", tags=["firmware", "console"])
    def write_to_uart(self, text: str, encoding: str = "utf-8") -> int:
        """Types ``text`` into the console USART's receiver (Robot escapes: ``\\n`` for a newline), in this and
        every later run of the test, right after the console line the last `Wait For Console Line` found (at boot
        when none did: a firmware sees it once it has enabled its receiver). Returns the number of bytes.

        The console that follows is the same in every run; the instruction count is not exact to the instruction:
        how long the firmware polls before a byte arrives depends on the host, as with a person typing.

        | Wait For Console Line | ready |
        | Write To UART | hello\\n |
        | Wait For Console Line | ^echo: hello$ |
        """
        if self.ctx.board.scenario_source is not None:
            raise BadInput("Write To UART needs a plain firmware ELF: start the board with firmware=... (no scenario)")
        data = text.encode(encoding)
        self.ctx.uart_input.append((self.ctx.console_cursor, data))
        return len(data)
