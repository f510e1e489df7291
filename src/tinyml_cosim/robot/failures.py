"""Failure artefacts of the Robot library: when a keyword fails, the board's full console, its run record and the
engine's log go to ``${OUTPUT DIR}/cosim-failures/<suite>/<test>/`` (written by
`tinyml_cosim.results.artefacts`, as for ``cosim run --out`` and the pytest plugin), with a link in the log. A test
that passes in the end (the failure was expected, e.g. inside ``Run Keyword And Expect Error``) leaves none."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from robot.api import logger

from tinyml_cosim.results.artefacts import keep_board_failure_artefacts
from tinyml_cosim.robot.context import Context, _builtin, slug

FAILURES_DIR = "cosim-failures"


def failure_dir() -> Path | None:
    """Where the current test's (or, in a suite setup/teardown, the suite's) artefacts go; None outside Robot."""
    bi = _builtin()
    if bi is None:
        return None
    suite = bi.get_variable_value("${SUITE NAME}") or "suite"
    test = bi.get_variable_value("${TEST NAME}") or "suite-level"
    return Path(bi.get_variable_value("${OUTPUT DIR}")) / FAILURES_DIR / slug(suite) / slug(test)


def keep_keyword_failure(ctx: Context, keyword: str) -> Path | None:
    """Write the artefacts of the board's last run after `keyword` failed; never raises (the keyword's own failure
    is what the test reports)."""
    session = ctx.session
    target = failure_dir()
    if session is None or target is None:
        return None
    try:
        written = keep_board_failure_artefacts(session, target)
    except Exception as exc:  # a full disk must not hide why the keyword failed
        logger.warn(f"cosim failure artefacts not written to {target}: {type(exc).__name__}: {exc}")
        return None
    if not written:
        return None
    ctx.failure_dirs.add(target)
    names = ", ".join(p.name for p in written)
    logger.info(f'{keyword} failed: {names} in <a href="{_link(target)}">{target}</a>', html=True)
    return target


def keep_test_failure(ctx: Context, status: str | None, what: str) -> Path | None:
    """A test failed (`status` FAIL) on something no library keyword checked (e.g. BuiltIn's `Should Be True` on a
    returned time): keep the artefacts before the board stops, unless a failed keyword already did."""
    if status != "FAIL" or ctx.failure_dirs:
        return None
    return keep_keyword_failure(ctx, what)


def forget_failures(ctx: Context) -> None:
    """The test passed after all: remove the artefacts its failed keywords wrote."""
    for target in ctx.failure_dirs:
        shutil.rmtree(target, ignore_errors=True)
    ctx.failure_dirs.clear()


def _link(target: Path) -> str:
    """The directory relative to the log file (log.html moves with the output directory)."""
    bi = _builtin()
    log_file = bi.get_variable_value("${LOG FILE}") if bi else None
    base = Path(log_file).parent if log_file and log_file != "NONE" else target.parent
    try:
        return Path(os.path.relpath(target, base)).as_posix()
    except ValueError:  # another drive (Windows)
        return target.as_uri()
