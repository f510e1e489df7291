"""Write a report directory atomically: everything goes into a hidden temporary directory beside it, which is
renamed into place at the end. An interrupted run (Ctrl-C, SIGTERM, a crash) leaves no half-written report: the
temporary directory is removed on the way out, and an older report at the same place stays until the new one is
complete; only the files the tool wrote are ever removed (the `--out` contract: `tinyml_cosim.core.report_dir`, shared
with `cosim run ELF --out`)."""

from __future__ import annotations

from tinyml_cosim.core.report_dir import MANIFEST, ReportDir, write_atomically

__all__ = ["MANIFEST", "ReportDir", "write_atomically"]
