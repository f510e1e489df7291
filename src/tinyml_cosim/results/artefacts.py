"""What a failed run leaves behind for the person who has to find out why: the whole console (the run record holds
only its last 20 lines), the run record, and the engine's own log (QEMU's stderr, Renode's log), as Renode's
`renode-test` keeps a snapshot and log of each failed test. One function writes them for every front: the Robot
library, `cosim run --out DIR` and the pytest plugin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tinyml_cosim.run.record import RunRecord
from tinyml_cosim.run.session import engine_log_text

__all__ = ["engine_log_text", "keep_board_failure_artefacts", "keep_failure_artefacts"]

CONSOLE_LOG = "console.log"
RUN_RECORD = "run.json"
ENGINE_LOG = "engine.log"


def keep_failure_artefacts(
    out_dir: Path,
    record: RunRecord | None,
    console_lines: list[str] | None,
    engine_log_text: str | None,
    *,
    write_record: bool = True,
) -> list[Path]:
    """Write `console.log` (every console line), `run.json` (the record; not when `write_record` is false, for a
    front that writes its own) and `engine.log` (only when the engine has a log) into `out_dir`, created if needed.
    Returns the files written. A missing part is skipped, never invented: no record, no run.json."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if console_lines is not None:
        written.append(_write(out / CONSOLE_LOG, "".join(f"{line}\n" for line in console_lines)))
    if record is not None and write_record:
        written.append(_write(out / RUN_RECORD, record.model_dump_json(indent=2) + "\n"))
    if engine_log_text:
        written.append(
            _write(out / ENGINE_LOG, engine_log_text if engine_log_text.endswith("\n") else engine_log_text + "\n")
        )
    return written


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def keep_board_failure_artefacts(session: Any, out_dir: Path) -> list[Path]:
    """`keep_failure_artefacts` for a `BoardSession` (tinyml_cosim.orchestrate.board_session) after a failure: its
    last run's record and console, and the engine's log (`BoardSession.engine_log`). Nothing is written when the
    board has not run yet."""
    run = getattr(session, "last_run", None)
    if run is None:
        return []
    return keep_failure_artefacts(out_dir, run.record, run.console, session.engine_log())
