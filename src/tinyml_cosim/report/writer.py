"""Write a report directory atomically: everything goes into a hidden temporary directory beside it, which is
renamed into place at the end. An interrupted run (Ctrl-C, SIGTERM, a crash) leaves no half-written report: the
temporary directory is removed on the way out, and an older report at the same place stays until the new one is
complete. The mechanism is `tinyml_cosim.core.files`, shared with the single-file writes (`cosim run --out`)."""

from __future__ import annotations

from tinyml_cosim.core.files import write_atomically

__all__ = ["write_atomically"]
