"""No emulator outlives its run: normal end, an exception in the caller, Ctrl-C, SIGTERM, even SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cosim_testing import ENGINE_PARAMS, alive, emulators_below

from tinyml_cosim.build.firmware import build
from tinyml_cosim.core.boards import load_board
from tinyml_cosim.elf.image import load_image
from tinyml_cosim.engines import launcher
from tinyml_cosim.engines.registry import create_engine, needs_mailbox

F405 = load_board("stm32f405")  # the board both engines model


@pytest.fixture(params=ENGINE_PARAMS)
def engine_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _hang(engine_name: str) -> Path:
    """The spinning firmware, built as the engine needs it (the RAM mailbox for Renode)."""
    return build(F405, "hang", mailbox=needs_mailbox(engine_name)).elf


def test_exception_inside_the_engine_block_kills_the_emulator(engine_name: str) -> None:
    image = load_image(_hang(engine_name), F405)
    with pytest.raises(RuntimeError, match="test failure"), create_engine(engine_name, F405) as engine:
        engine.start(image, engine.transport())
        pid = engine._proc.pid  # both engines keep their emulator process as _proc
        assert alive(pid)
        raise RuntimeError("test failure")
    assert not alive(pid)
    assert not launcher._live


def _start_cli_run(elf: Path, engine_name: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tinyml_cosim.cli.app", "run", "--board", "stm32f405", "--engine", engine_name,
         "--hang-instructions", str(10**12), "--timeout", "120", str(elf)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # wait until the firmware is really running
            if "entering spin_forever" in line:
                break
        qemu = emulators_below(proc.pid)
        assert len(qemu) == 1
    except BaseException:
        proc.kill()  # a failing test must not leave the run (and its emulator) behind
        proc.wait()
        raise
    return proc, qemu[0]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_signals_to_the_cli_never_leak_the_emulator(engine_name: str, sig: signal.Signals) -> None:
    proc, qemu = _start_cli_run(_hang(engine_name), engine_name)
    os.kill(proc.pid, sig)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while alive(qemu) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(qemu), f"{engine_name} {qemu} survived {sig.name}"
    if sig != signal.SIGKILL:
        assert "Traceback" not in proc.stderr.read()
