"""Write a report directory atomically: everything goes into a hidden temporary directory beside it, which is
renamed into place at the end. An interrupted run (Ctrl-C, SIGTERM, a crash) leaves no half-written report: the
temporary directory is removed on the way out, and an older report at the same place stays until the new one is
complete."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path


def write_atomically(out: Path, fill: Callable[[Path], None]) -> Path:
    """Call `fill(tmp_dir)` to write the files, then move tmp_dir to `out` (replacing an older report)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    old = out.parent / f".{out.name}.old-{os.getpid()}"
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
