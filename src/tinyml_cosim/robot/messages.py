"""Failure messages and the parsing of keyword arguments: actual vs expected, with the simulated timestamp.

Pure functions (no Robot Framework, no emulator), so the messages are unit-tested on their own."""

from __future__ import annotations

import re

from robot.utils import timestr_to_secs

from tinyml_cosim.core.errors import BadInput

_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(b|bytes?|kb|kib|k|mb|mib|m|%)?\s*$", re.IGNORECASE)
_UNITS = {None: 1, "b": 1, "byte": 1, "bytes": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1 << 20, "mb": 1 << 20}
_UNITS["mib"] = 1 << 20


def parse_size(text: str | int, limit: int | None = None, what: str = "size") -> int:
    """`65536`, `64 KiB`, `64K`, `1.5 MiB`, `90 %` (of `limit`) -> bytes. KB and KiB are both 1024 bytes."""
    if isinstance(text, int):
        return text
    m = _SIZE.match(str(text))
    if not m:
        raise BadInput(f"{what} {text!r} is not a size: write bytes (65536), KiB/MiB (64 KiB) or a percentage (90 %)")
    number, unit = float(m.group(1)), (m.group(2) or "").lower() or None
    if unit == "%":
        if limit is None:
            raise BadInput(f"{what} {text!r}: a percentage needs a limit")
        return int(number / 100 * limit)
    return int(number * _UNITS[unit])


def tinyml_cosim_time(text: str | float, what: str = "time", zero_ok: bool = False) -> float:
    """A simulated time in Robot's time format (`2 s`, `500 ms`, `10 us`; a number alone is seconds), unrounded."""
    try:
        value = float(timestr_to_secs(text, round_to=None))
    except ValueError:
        raise BadInput(f"{what} {text!r} is not a time: write e.g. 2 s, 500 ms or 10 us") from None
    if value < 0 or (value == 0 and not zero_ok):
        raise BadInput(f"{what} {text!r} must be a positive simulated time")
    return value


def parse_fraction(text: str | float) -> float:
    """`0.9`, `90 %`, `90%` -> 0.9."""
    s = str(text).strip()
    try:
        return float(s[:-1].strip()) / 100 if s.endswith("%") else float(s)
    except ValueError:
        raise BadInput(f"{text!r} is not a fraction: write 0.9 or 90 %") from None


def ms(value: float) -> str:
    """Milliseconds for messages: one decimal from 1 ms up (10.0), three significant digits below (0.0199)."""
    return f"{value:.1f}" if abs(value) >= 1 else f"{value:.3g}"


def seconds(value: float) -> str:
    return f"{value:.3f} s"


def instant(instructions: int | None, seconds_: float) -> str:
    """A simulated instant for messages: `0.000098 s simulated (16,529 instructions)`; milliseconds resolution
    hides an early end (a fault at boot reads 0.000 s), so below 1 s it keeps six decimals."""
    t = f"{seconds_:.3f}" if seconds_ >= 1 else f"{seconds_:.6f}"
    return f"{t} s simulated" + (f" ({instructions:,} instructions)" if instructions is not None else "")


def pct(value: float) -> str:
    return f"{value * 100:.1f} %"


def worst_case_message(
    instructions: int, time_ms: float, clock_hz: int, deadline_ms: float, where: str = "", basis: str = ""
) -> str:
    """`Worst-case inference 1,912,440 instructions (11.4 ms at 168 MHz) exceeds 10.0 ms deadline by 14 %`."""
    over = (time_ms - deadline_ms) / deadline_ms * 100
    text = (
        f"Worst-case inference {instructions:,} instructions ({ms(time_ms)} ms at {clock_hz / 1e6:g} MHz) exceeds "
        f"{ms(deadline_ms)} ms deadline by {over:.0f} %"
    )
    extra = [x for x in (where, basis) if x]
    return text + (f" ({'; '.join(extra)})" if extra else "")


def memory_message(what: str, used: int, limit_bytes: int, board_limit: int, board: str, detail: str = "") -> str:
    """`Flash usage 8,900 bytes (0.8 % of stm32f405's 1,048,576) is not below 4,096 bytes (exceeds it by 117 %)`."""
    over = (used - limit_bytes) / limit_bytes * 100 if limit_bytes else float("inf")
    text = (
        f"{what} {used:,} bytes ({100 * used / board_limit:.1f} % of {board}'s {board_limit:,}) is not below "
        f"{limit_bytes:,} bytes (exceeds it by {over:.0f} %)"
    )
    return text + (f"; {detail}" if detail else "")


def decisions_summary(decisions: list, limit: int = 8) -> str:
    """`idle at 0.200 s, idle at 0.400 s, … (12 in all)`."""
    if not decisions:
        return "none"
    shown = ", ".join(f"{d.cls} at {d.t_s:.3f} s" for d in decisions[:limit])
    return shown + (f", … ({len(decisions)} in all)" if len(decisions) > limit else "")


def parse_instructions_or_time(text: str | int, clock_hz: int, what: str = "limit") -> int:
    """`12000`, `12000 instructions`, `12,000 instr` -> instructions; `1 ms`, `50 us` -> instructions at `clock_hz`
    (t = instructions / f_clk, as everywhere in the library)."""
    s = str(text).strip()
    m = re.fullmatch(r"([0-9][0-9,_]*)\s*(instructions?|instr|insns?)?", s, re.IGNORECASE)
    if m:
        return int(m.group(1).replace(",", "").replace("_", ""))
    return round(tinyml_cosim_time(s, what) * clock_hz)


def ended_message(what: str, status: str, at: str, diagnosis: str, expected: str, tail: list[str]) -> str:
    """`Firmware x.elf on stm32f405/qemu ended with status fault at 0.000051 s simulated (8,660 instructions),
    expected exit code 0: <diagnosis>` and the console's last lines."""
    text = f"Firmware {what} ended with status {status} at {at}, expected {expected}: {diagnosis}"
    return text + ("\nlast console lines:\n" + "\n".join(tail) if tail else "")


def measured_message(
    function: str, worst: int, clock_hz: int, limit: int, calls: int, index: int, begin_s: float
) -> str:
    """`Measured function crc32: worst call 12,345 instructions (0.0735 ms at 168 MHz; call 3 of 10, entered at
    0.000120 s simulated) exceeds 10,000 instructions (0.0595 ms) by 23 %`."""
    over = (worst - limit) / limit * 100 if limit else float("inf")
    return (
        f"Measured function {function}: worst call {worst:,} instructions ({ms(worst / clock_hz * 1000)} ms at "
        f"{clock_hz / 1e6:g} MHz; call {index} of {calls}, entered at {instant(None, begin_s)}) exceeds "
        f"{limit:,} instructions ({ms(limit / clock_hz * 1000)} ms) by {over:.0f} %"
    )
