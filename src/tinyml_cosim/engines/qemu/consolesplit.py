"""QEMU's stdout and stderr as one pipe, split again: the firmware's console (USART, semihosting, newlib's
stderr) in the order it was written, and QEMU's own lines for the engine log."""

from __future__ import annotations

import re
from pathlib import Path

# QEMU's own lines on its stderr (errors, warnings, infos); anything else there came from the firmware.
QEMU_OWN_RE = re.compile(r"^(qemu-system-\w+|qemu|\S*qemu\S*):|^Unexpected error in |^Aborted")


class ConsoleSplitter:
    """One byte stream holding the firmware's console and QEMU's own stderr lines: QEMU's lines ("qemu-system-arm:
    ...", and everything from "qemu: fatal" on, its register dump) go to the log file, the rest to the console.
    A partial line is passed on at once unless it could still become one of QEMU's (a prompt shows without
    waiting for its newline)."""

    def __init__(self, console_feed, log_path: Path) -> None:
        self._feed, self._log_path, self._pending, self._fatal = console_feed, log_path, b"", False

    def feed(self, chunk: bytes) -> None:
        data = self._pending + chunk
        *lines, rest = data.split(b"\n")
        out = b""
        for raw in lines:
            line = raw + b"\n"
            if self._is_qemu(line):
                with open(self._log_path, "ab") as log:
                    log.write(line)
            else:
                out += line
        if self._fatal or any(p.startswith(rest) or rest.startswith(p) for p in QEMU_PREFIXES):
            self._pending = rest  # wait for the rest of the line to tell
        else:
            out, self._pending = out + rest, b""
        if out:
            self._feed(out)

    def _is_qemu(self, line: bytes) -> bool:
        text = line.decode(errors="replace")
        self._fatal = self._fatal or text.startswith("qemu: fatal")
        return self._fatal or bool(QEMU_OWN_RE.match(text))


QEMU_PREFIXES = (b"qemu", b"Unexpected error in ", b"Aborted")
