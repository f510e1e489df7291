"""Atomic file writes: a reader (or a crash, Ctrl-C, SIGTERM) never sees a half-written file.

Files are written beside their destination under a hidden name that carries our PID (two processes writing the same
place do not share a temporary), then renamed into place, which POSIX makes atomic on one file system. Report
directories and the `--out DIR` contract are in core/report_dir.py.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def beside(out: Path, role: str) -> Path:
    return out.parent / f".{out.name}.{role}-{os.getpid()}"


def write_text_atomically(path: Path, text: str) -> Path:
    """Write `text` to `path`, replacing an older file only once the new one is complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = beside(path, "tmp")
    try:
        tmp.write_text(text)
        tmp.replace(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return path
