"""Atomic writes: a reader (or a crash, Ctrl-C, SIGTERM) never sees a half-written file or report directory.

Everything is written beside its destination under a hidden name that carries our PID (two processes writing the
same place do not share a temporary), then renamed into place, which POSIX makes atomic on one file system.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path


def _beside(out: Path, role: str) -> Path:
    return out.parent / f".{out.name}.{role}-{os.getpid()}"


def write_text_atomically(path: Path, text: str) -> Path:
    """Write `text` to `path`, replacing an older file only once the new one is complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _beside(path, "tmp")
    try:
        tmp.write_text(text)
        tmp.replace(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return path


def write_atomically(out: Path, fill: Callable[[Path], None]) -> Path:
    """Call `fill(tmp_dir)` to write a directory's files, then move tmp_dir to `out` (replacing an older one).

    A directory cannot be renamed over a non-empty one, so an older `out` is first moved aside and removed only
    once the new one is in place; if the new one never arrives, the old one is put back.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = _beside(out, "tmp")
    old = _beside(out, "old")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        fill(tmp)
        if out.exists():
            out.rename(old)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists():
            if not out.exists():  # the new one never arrived: put the old one back
                with contextlib.suppress(OSError):
                    old.rename(out)
            shutil.rmtree(old, ignore_errors=True)
    return out
