"""The process launcher every engine starts its emulator through: it dies with its host, even a SIGKILLed one; one
process-group kill stops it and everything it started; Renode gets a TMPDIR of its own. Harmless children
(`sleep`, `sh`) stand in for the emulators, so none is needed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from cosim_testing import alive

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.engines import launcher
from tinyml_cosim.engines.renode.engine import RenodeEngine


def _wait_gone(pid: int, within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not alive(pid)


HOST = textwrap.dedent(
    """
    import sys, time
    from tinyml_cosim.engines import launcher
    child = launcher.popen(["sleep", "300"])
    print(child.pid, flush=True)
    time.sleep(300)
    """
)


def test_a_launched_child_dies_when_its_host_is_sigkilled() -> None:
    host = subprocess.Popen([sys.executable, "-c", HOST], stdout=subprocess.PIPE, text=True)
    try:
        assert host.stdout is not None
        child = int(host.stdout.readline())
        assert alive(child)
        os.kill(host.pid, signal.SIGKILL)  # no atexit, no signal handler: only PDEATHSIG can stop the child
        host.wait(timeout=30)
        assert _wait_gone(child), f"sleep {child} outlived its SIGKILLed host"
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()


# The host dies once the emulator has been exec'd, before popen returns, and the emulator has no PDEATHSIG (as after
# a credential change, which clears it, or for an emulator's own children): only a guard that already knows the
# emulator's process group can stop it -- the guard is armed by the child itself, before its exec.
HOST_DIES_AT_EXEC = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time
    from tinyml_cosim.engines import launcher
    launcher.PR_SET_PDEATHSIG = 0  # prctl(0, ...) fails (ignored): the emulator runs without PDEATHSIG
    real = subprocess.Popen
    class DieAtExec(real):
        def __init__(self, argv, *args, **kwargs):
            super().__init__(argv, *args, **kwargs)
            if argv[0] == "sleep":
                print(self.pid, flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
    launcher.subprocess.Popen = DieAtExec
    launcher.popen(["sleep", "300"])
    """
)


def test_an_emulator_without_pdeathsig_dies_with_a_host_killed_at_its_exec() -> None:
    host = subprocess.Popen([sys.executable, "-c", HOST_DIES_AT_EXEC], stdout=subprocess.PIPE, text=True)
    assert host.stdout is not None
    child = int(host.stdout.readline())
    host.wait(timeout=30)
    assert host.returncode == -signal.SIGKILL
    try:
        assert _wait_gone(child), f"{child} outlived its SIGKILLed host"
    finally:
        if alive(child):
            os.kill(child, signal.SIGKILL)


def test_kill_group_kills_what_ignores_sigterm() -> None:
    # The leader and its child both ignore SIGTERM (an ignored signal stays ignored across fork and exec).
    proc = launcher.popen(["sh", "-c", "trap '' TERM; sleep 300 & echo $!; wait"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    grandchild = int(proc.stdout.readline())
    assert proc in launcher._live and alive(grandchild)
    launcher.kill_group(proc, grace_s=0.2)
    assert proc.returncode == -signal.SIGKILL
    assert _wait_gone(grandchild)
    assert proc not in launcher._live


def test_kill_group_reaches_children_that_outlive_the_leader() -> None:
    # Like Renode's launcher script and its dotnet child: the leader exits on SIGTERM, the child does not.
    script = "(trap '' TERM; exec sleep 300) & echo $!; wait"
    proc = launcher.popen(["sh", "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    child = int(proc.stdout.readline())
    launcher.kill_group(proc, grace_s=5.0)
    assert proc.returncode == -signal.SIGTERM  # the leader went on SIGTERM ...
    assert _wait_gone(child)  # ... and its child with the group's SIGKILL


def test_kill_group_twice_and_after_exit_is_harmless() -> None:
    proc = launcher.popen(["true"])
    proc.wait()
    assert launcher.kill_group(proc) == 0
    assert launcher.kill_group(proc) == 0
    assert proc not in launcher._live


def test_kill_all_stops_every_registered_emulator() -> None:
    procs = [launcher.popen(["sleep", "300"]) for _ in range(2)]
    launcher.kill_all()
    assert all(p.returncode is not None for p in procs)
    assert not any(p in launcher._live for p in procs)


def test_popen_gives_its_own_tmpdir_and_keeps_the_environment(tmp_path: Path) -> None:
    env = {**os.environ, "COSIM_PROBE": "kept"}
    tmp = tmp_path / "own-tmp"
    proc = launcher.popen(
        ["sh", "-c", 'echo "$TMPDIR $COSIM_PROBE"'], env=env, tmpdir=tmp, stdout=subprocess.PIPE, text=True
    )
    out, _ = proc.communicate(timeout=30)
    launcher.kill_group(proc)
    assert out.split() == [str(tmp), "kept"] and tmp.is_dir()


def test_renode_is_launched_with_its_own_tmpdir_and_pdeathsig(tmp_path: Path) -> None:
    """Renode deletes $TMPDIR/renode-<pid> folders of dead PIDs at start-up: it must not see the shared /tmp."""
    fake = tmp_path / "renode"
    fake.write_text('#!/bin/sh\necho "TMPDIR=$TMPDIR"\nexec sleep 300\n')
    fake.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    engine = RenodeEngine(load_board("stm32f405"), work)
    with engine:
        engine._spawn(str(fake), launcher.free_port())
        proc = engine._proc
        assert proc is not None and proc in launcher._live
        assert os.getpgid(proc.pid) == proc.pid  # its own process group
        deadline = time.monotonic() + 10
        while not engine.log.recent():
            assert time.monotonic() < deadline, "the fake renode printed nothing"
            time.sleep(0.02)
        assert engine.log.recent() == [f"TMPDIR={work / 'tmp'}"]
    assert proc.poll() is not None and proc not in launcher._live
    assert engine.log_path == work / "renode.log"
    assert engine.log_path.read_text() == f"TMPDIR={work / 'tmp'}\n"
    assert (work / "tmp").is_dir()
