"""No emulator outlives its run: normal end, an exception in the caller, Ctrl-C, SIGTERM, even SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cosim_testing import alive, emulators_below, needs_qemu

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.elf.image import load_image
from tinyml_cosim.engines import launcher
from tinyml_cosim.engines.qemu.engine import QemuEngine

pytestmark = needs_qemu


def test_exception_inside_the_engine_block_kills_qemu(firmware) -> None:
    board = load_board("stm32f405")
    image = load_image(firmware("hang"), board)
    with pytest.raises(RuntimeError, match="test failure"), QemuEngine(board) as engine:
        engine.start(image, engine.transport())
        pid = engine._proc.pid
        assert alive(pid)
        raise RuntimeError("test failure")
    assert not alive(pid)
    assert not launcher._live


def _start_cli_run(elf: Path) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tinyml_cosim.cli.app", "run", "--board", "stm32f405", "--hang-instructions",
         str(10**12), "--timeout", "120", str(elf)],
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
def test_signals_to_the_cli_never_leak_qemu(firmware, sig: signal.Signals) -> None:
    proc, qemu = _start_cli_run(firmware("hang"))
    os.kill(proc.pid, sig)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while alive(qemu) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(qemu), f"qemu {qemu} survived {sig.name}"
    if sig != signal.SIGKILL:
        assert "Traceback" not in proc.stderr.read()
