"""What a failed run leaves behind for the person who has to find out why: the whole console (the run record holds
only its last 20 lines), the run record, and the engine's own log (QEMU's stderr, Renode's log), as Renode's
`renode-test` keeps a snapshot and log of each failed test. One function writes them for every front: the Robot
library, `cosim run --out DIR` and the pytest plugin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tinyml_cosim.run.record import RunRecord

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


def engine_log_text(engine: Any) -> str | None:
    """The engine's own log, read from its `log_path` (None before the engine class has one, or when the file is
    gone or was never written). Read while the engine is open: an engine removes its work directory on close."""
    path = getattr(engine, "log_path", None)
    if path is None:
        return None
    try:
        return Path(path).read_text(errors="replace") or None
    except OSError:
        return None


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def keep_board_failure_artefacts(session: Any, out_dir: Path) -> list[Path]:
    """`keep_failure_artefacts` for a `BoardSession` (tinyml_cosim.orchestrate.board_session) after a failure: its
    last run's record and console, and the engine's log while a live emulator session (`LiveRun`) is still open.
    Nothing is written when the board has not run yet."""
    run = getattr(session, "last_run", None)
    if run is None:
        return []
    live = getattr(session, "_live", None)  # the only engine a board keeps open between calls
    log = engine_log_text(live.engine) if live is not None else None
    return keep_failure_artefacts(out_dir, run.record, run.console, log)
