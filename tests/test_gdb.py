"""`cosim debug`: the board starts halted with a GDB server; gdb-multiarch breaks at main, reads state, runs to exit."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest
from cosim_testing import HAVE_GDB, needs_qemu

pytestmark = [needs_qemu, pytest.mark.skipif(not HAVE_GDB, reason="needs gdb-multiarch (run `make setup`)")]


def test_gdb_attaches_breaks_reads_and_continues_to_exit(firmware) -> None:
    elf = firmware("spans")
    session = subprocess.Popen(
        [sys.executable, "-m", "tinyml_cosim.cli.app", "debug", "--board", "stm32f405", str(elf)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert session.stdout is not None
        header = [session.stdout.readline() for _ in range(3)]
        port = int(re.search(r"localhost:(\d+)", header[0])[1])
        command = header[1].strip()
        assert command.startswith('gdb-multiarch -q -ex "target extended-remote localhost:') and str(elf) in command
        assert "not valid while a debugger holds the CPU" in header[2]
        gdb = subprocess.run(
            ["gdb-multiarch", "--batch", "-nx", "-ex", f"target extended-remote localhost:{port}",
             "-ex", "break main", "-ex", "continue", "-ex", "info registers pc", "-ex", "print sink",
             "-ex", "print sizeof(cosim_host_config)", "-ex", "print/x cosim_host_config.flags",
             "-ex", "continue", str(elf)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        out = gdb.stdout + gdb.stderr
        assert "Breakpoint 1, main ()" in out
        assert re.search(r"pc\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <main", out)
        assert "$1 = 0" in out  # the global `sink`, not yet written
        assert "$2 = 32" in out  # the host configuration block the engine wrote
        assert "$3 = 0x7" in out  # semihosting exit | debug session | QEMU timer model
        assert "exited normally" in out or "exited with code" in out
        session.wait(timeout=30)
        rest = session.stdout.read()
        assert "DECISION class=normal score=97" in rest
    finally:
        if session.poll() is None:
            session.terminate()
            time.sleep(0.5)
            session.kill()
