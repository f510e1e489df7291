"""The firmware's console as the host sees it: lines, protocol events among them, and expect-style waiting."""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable

from tinyml_cosim.protocol.frames import TERMINAL_EVENTS, CorruptEvent, Event, parse_event


class Console:
    """Collects console bytes from any engine, splits lines, and parses protocol events out of them.

    Engines feed bytes from their reader thread; callers read lines or wait for a pattern. Keeps every event but
    only the last `keep_lines` plain lines, so a chatty firmware cannot exhaust memory on a long run.
    """

    def __init__(self, keep_lines: int = 2000, echo: Callable[[str], None] | None = None) -> None:
        self._lines: deque[str] = deque(maxlen=keep_lines)
        self._partial = b""
        self._cond = threading.Condition()
        self._echo = echo
        self.events: list[Event] = []
        self.corrupt: list[str] = []
        self.line_count = 0
        self.last_activity = time.monotonic()
        self.closed = False

    def set_echo(self, echo: Callable[[str], None] | None) -> None:
        """Call `echo(line)` for every console line from now on (None: stop); lines come from the engine's reader
        thread, in order, as they arrive."""
        with self._cond:
            self._echo = echo

    def feed(self, data: bytes) -> None:
        if not data:
            return
        with self._cond:
            self.last_activity = time.monotonic()
            self._partial += data
            *complete, self._partial = self._partial.split(b"\n")
            for raw in complete:
                self._add_line(raw.rstrip(b"\r").decode("utf-8", errors="replace"))
            self._cond.notify_all()

    def _add_line(self, line: str) -> None:
        self._lines.append(line)
        self.line_count += 1
        try:
            event = parse_event(line)
        except CorruptEvent as exc:
            self.corrupt.append(str(exc))
            event = None
        if event is not None:
            self.events.append(event)
        if self._echo is not None:
            self._echo(line)

    def close(self) -> None:
        """No more bytes will come: flush a last line that had no newline."""
        with self._cond:
            if self._partial:
                self._add_line(self._partial.decode("utf-8", errors="replace"))
                self._partial = b""
            self.closed = True
            self._cond.notify_all()

    def tail(self, n: int = 20) -> list[str]:
        with self._cond:
            lines = list(self._lines)
            if self._partial:
                lines.append(self._partial.decode("utf-8", "replace"))
            return lines[-n:]

    def lines(self) -> list[str]:
        with self._cond:
            return list(self._lines)

    def expect(self, pattern: str, timeout: float) -> re.Match[str] | None:
        """Wait up to `timeout` wall seconds for a line matching `pattern`; None when it does not come."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                lines = list(self._lines)
                start = max(0, len(lines) - (self.line_count - seen))
                for line in lines[start:]:
                    m = regex.search(line)
                    if m:
                        return m
                seen = self.line_count
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.closed:
                    return None
                self._cond.wait(remaining)

    def first_event(self, *kinds: str) -> Event | None:
        with self._cond:
            return next((e for e in self.events if e.kind in kinds), None)

    def terminal_event(self) -> Event | None:
        """The first event that ends the run (EXIT, BUDGET, FAULT, WATCHDOG), or None."""
        return self.first_event(*TERMINAL_EVENTS)
