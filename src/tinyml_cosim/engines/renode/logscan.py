"""Reads Renode's log (stdout with --plain) for the facts the engine classifies a run by.

Renode does not fault on an access to an unmapped address (SystemBus.ReportNonExistingRead returns 0 and logs a
warning), so "out of bounds" is found here, in the log, and the engine ends the run on the first such access.
Formats: renode_facts.LOG_FORMATS.
"""

from __future__ import annotations

import re
import threading
from collections import Counter, deque
from dataclasses import dataclass

from tinyml_cosim.engines.renode.facts import STOCK_PLATFORMS

# "HH:mm:ss.ffff [LEVEL] object: message" (+ " (count)" when Renode folds repeats). Thread ids are off by default.
_LINE_RE = re.compile(r"^(?:\S+ )?\[(?P<level>NOISY|DEBUG|INFO|WARNING|ERROR)\](?: \(\d+\))? (?P<body>.*)$")
# DecorateWithCPUNameAndPC("[cpu: 0x8000ABC] ") marks accesses made by the CPU; the monitor's own reads (the
# engine reading memory) are not decorated and are never counted. Tagged addresses ("(tag: 'X') Read...") are
# modelled on purpose and do not match either.
_NON_EXISTING_RE = re.compile(
    r"\[(?P<cpu>[^:\]]+): 0x(?P<pc>[0-9A-Fa-f]+)\] (?P<op>Read|Write)(?P<width>Byte|Word|DoubleWord|QuadWord) "
    r"(?:from|to) non existing peripheral at 0x(?P<addr>[0-9A-Fa-f]+)"
)
_ABORT_RE = re.compile(r"CPU abort \[PC=0x(?P<pc>[0-9A-Fa-f]+)\]: (?P<message>.*)$")
_EXEC_OUTSIDE_RE = re.compile(
    r"Trying to execute code (?:outside RAM or ROM|from disabled or locked memory) at 0x(?P<addr>[0-9A-Fa-f]+)"
)
_UNHANDLED_READ_RE = re.compile(r"^(?P<obj>[A-Za-z0-9_./-]+): Unhandled read from offset 0x(?P<off>[0-9A-Fa-f]+)")
_PYTHON_ERROR_RE = re.compile(r"Python runtime error: (?P<error>.*)$")

# Where on-chip peripherals and the Cortex-M private peripheral bus live (ARMv7-M memory map; RM0090 2.3): an
# unmapped access there is an unmodelled peripheral register, not an access outside the part's memories.
PERIPHERAL_WINDOWS = ((0x40000000, 0x60000000), (0xE0000000, 0xE0100000))
WIDTH_BYTES = {"Byte": 1, "Word": 2, "DoubleWord": 4, "QuadWord": 8}


def in_peripheral_window(address: int) -> bool:
    return any(lo <= address < hi for lo, hi in PERIPHERAL_WINDOWS)


@dataclass(frozen=True)
class BadAccess:
    address: int
    pc: int
    write: bool
    size: int
    line: str
    execute: bool = False

    def describe(self) -> str:
        if self.execute:
            return f"instruction fetch from unmapped address 0x{self.address:08x}"
        kind = "write" if self.write else "read"
        return f"{self.size}-byte {kind} at unmapped address 0x{self.address:08x} by code at pc=0x{self.pc:08x}"


def parse_line(line: str) -> tuple[str, str] | None:
    """(level, body) of a Renode log line, None for anything else."""
    m = _LINE_RE.match(line.strip())
    return (m["level"], m["body"]) if m else None


class RenodeLog:
    """Collects Renode's log lines (fed by the engine's stdout reader thread) and extracts what matters."""

    def __init__(self, platform: str | None = None, keep: int = 400) -> None:
        self._lock = threading.Lock()
        self.tail: deque[str] = deque(maxlen=keep)
        self.out_of_bounds: list[BadAccess] = []
        self.unmodelled: list[BadAccess] = []  # unmapped accesses inside the peripheral windows (first 100)
        self.polled: Counter[int] = Counter()  # unmodelled/unhandled read addresses, for stall diagnosis
        self.aborts: list[str] = []
        self.python_errors: list[str] = []
        self.errors: list[str] = []
        self.lines = 0
        stock = STOCK_PLATFORMS.get(platform or "", {})
        self._bases = {name: p.address for name, p in stock.items()}

    def feed(self, line: str) -> None:
        line = line.rstrip("\r\n")
        with self._lock:
            self.lines += 1
            self.tail.append(line)
            parsed = parse_line(line)
            if parsed is None:
                return
            level, body = parsed
            m = _NON_EXISTING_RE.search(body)
            if m:
                access = BadAccess(
                    address=int(m["addr"], 16),
                    pc=int(m["pc"], 16),
                    write=m["op"] == "Write",
                    size=WIDTH_BYTES[m["width"]],
                    line=line,
                )
                if in_peripheral_window(access.address):
                    if len(self.unmodelled) < 100:
                        self.unmodelled.append(access)
                    if not access.write:
                        self.polled[access.address] += 1
                else:
                    self.out_of_bounds.append(access)
                return
            m = _ABORT_RE.search(body)
            if m:
                self.aborts.append(line)
                fetch = _EXEC_OUTSIDE_RE.search(m["message"])
                if fetch:
                    address = int(fetch["addr"], 16)
                    self.out_of_bounds.append(
                        BadAccess(address=address, pc=int(m["pc"], 16), write=False, size=2, line=line, execute=True)
                    )
                return
            m = _UNHANDLED_READ_RE.match(body)
            if m:
                base = self._bases.get(m["obj"].split("/")[-1])
                if base is not None:
                    self.polled[base + int(m["off"], 16)] += 1
                return
            m = _PYTHON_ERROR_RE.search(body)
            if m:
                self.python_errors.append(m["error"])
            if level == "ERROR":
                self.errors.append(body)

    def first_out_of_bounds(self) -> BadAccess | None:
        with self._lock:
            return self.out_of_bounds[0] if self.out_of_bounds else None

    def mark(self) -> Counter[int]:
        """A snapshot of the polled-address counts (compare later to see what was polled since)."""
        with self._lock:
            return Counter(self.polled)

    def most_polled_since(self, mark: Counter[int]) -> int | None:
        with self._lock:
            diff = self.polled - mark
        if not diff:
            return None
        return diff.most_common(1)[0][0]

    def recent(self, n: int = 20) -> list[str]:
        with self._lock:
            return list(self.tail)[-n:]

    def summary(self, n: int = 5) -> str:
        """The last warnings/errors, for Ending.message."""
        with self._lock:
            lines = [t for t in self.tail if "[WARNING]" in t or "[ERROR]" in t]
        return "\n".join(lines[-n:])
