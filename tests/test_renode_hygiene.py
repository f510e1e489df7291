"""Renode leaves nothing behind and touches nothing of the user's (issue 13, item 5).

Renode is `/bin/sh /opt/renode/renode` running `mono Renode.exe` as a child (not through exec); when it first needs
its temporary folder, and at exit, it deletes every `$TMPDIR/renode-<pid>` directory whose PID is not running. So the
launcher must reach the child too, and every Renode must see a TMPDIR of its own under the run's work directory.

The first two tests need no Renode (shell scripts of the same shape stand in); the others run a real one and are
marked `renode` (`make test-renode`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from tinyml_cosim.build.firmware import build
from tinyml_cosim.core.boards import load_board
from tinyml_cosim.elf.image import load_image
from tinyml_cosim.engines import launcher
from tinyml_cosim.engines.base import EndKind, RunLimits
from tinyml_cosim.engines.registry import create_engine
from tinyml_cosim.engines.renode import engine as renode_engine_mod
from tinyml_cosim.engines.renode.platform import overlay_text
from tinyml_cosim.protocol.datachannel import DataService

F405 = load_board("stm32f405")
needs_renode = pytest.mark.skipif(renode_engine_mod.renode_binary() is None, reason="renode not on PATH")


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _group(pgid: int) -> list[int]:
    """The live processes of process group `pgid`."""
    members = []
    for p in psutil.pids():
        try:
            if os.getpgid(p) == pgid and _alive(p):
                members.append(p)
        except (ProcessLookupError, PermissionError):
            continue
    return sorted(members)


def _wait_all_gone(pids: list[int], within_s: float = 15.0) -> list[int]:
    deadline = time.monotonic() + within_s
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [p for p in pids if _alive(p)]


def _dead_pid() -> int:
    """A PID that no process has: one just reaped."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _decoys(tmpdir: Path) -> dict[Path, str]:
    """A user's `renode-<dead pid>` folders, as a crashed Renode (or anything else named so) would leave them."""
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    decoys = {}
    for pid in (_dead_pid(), pid_max + 7):
        folder = tmpdir / f"renode-{pid}"
        folder.mkdir(parents=True)
        (folder / "keep.txt").write_text(f"the user's, pid {pid}")
        decoys[folder] = f"the user's, pid {pid}"
    return decoys


# A host that starts an emulator through the launcher and is then SIGKILLed: no atexit, no signal handler runs.
SCRIPT_HOST = textwrap.dedent(
    """
    import sys, time
    from tinyml_cosim.engines import launcher
    # Shaped like Renode's launcher: a shell whose child (not exec'd) is the real emulator.
    leader = launcher.popen(["sh", "-c", "sleep 300 & echo $!; wait"], stdout=launcher.subprocess.PIPE, text=True)
    child = leader.stdout.readline().strip()
    print(leader.pid, child, flush=True)
    time.sleep(300)
    """
)


def test_the_child_of_a_launcher_script_dies_with_a_sigkilled_host() -> None:
    host = subprocess.Popen([sys.executable, "-c", SCRIPT_HOST], stdout=subprocess.PIPE, text=True)
    try:
        assert host.stdout is not None
        leader, child = (int(w) for w in host.stdout.readline().split())
        assert _alive(leader) and _alive(child) and os.getpgid(child) == leader
        os.kill(host.pid, signal.SIGKILL)
        host.wait(timeout=30)
        # PDEATHSIG kills only the leader; the child, like Renode's mono, goes only by the guard's group kill.
        assert _wait_all_gone([leader, child]) == []
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()


FORKING_HOST = textwrap.dedent(
    """
    import os, time
    from tinyml_cosim.engines import launcher
    leader = launcher.popen(["sh", "-c", "sleep 300 & echo $!; wait"], stdout=launcher.subprocess.PIPE, text=True)
    child = leader.stdout.readline().strip()
    worker = os.fork()  # as a ProcessPoolExecutor worker is made: it inherits the guard's pipe and the registry
    if worker == 0:
        print(os.getpid(), len(launcher._live), len(launcher._guards), flush=True)
        time.sleep(300)
        os._exit(0)
    time.sleep(0.5)
    print(leader.pid, child, flush=True)
    time.sleep(300)
    """
)


def test_a_forked_worker_neither_owns_nor_keeps_alive_its_parents_emulators() -> None:
    host = subprocess.Popen([sys.executable, "-c", FORKING_HOST], stdout=subprocess.PIPE, text=True)
    worker = None
    try:
        assert host.stdout is not None
        worker, live, guards = (int(w) for w in host.stdout.readline().split())
        assert (live, guards) == (0, 0)  # the worker's registry is empty: it will not stop the parent's emulators
        leader, child = (int(w) for w in host.stdout.readline().split())
        os.kill(host.pid, signal.SIGKILL)
        host.wait(timeout=30)
        assert _alive(worker)  # the worker still runs, but its copy of the guard's pipe was closed at the fork
        assert _wait_all_gone([leader, child]) == []
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()
        if worker is not None and _alive(worker):
            os.kill(worker, signal.SIGKILL)


# A host that runs the demo firmware on a real Renode and reports the engine's process group, then waits to be killed.
RENODE_HOST = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from tinyml_cosim.build.firmware import build
    from tinyml_cosim.core.boards import load_board
    from tinyml_cosim.elf.image import load_image
    from tinyml_cosim.engines.registry import create_engine
    from tinyml_cosim.protocol.datachannel import DataService

    board = load_board("stm32f405")
    elf = build(board, "demo", mailbox=True).elf
    engine = create_engine("renode", board, Path(sys.argv[1]))
    engine.start(load_image(elf, board), engine.transport(), data=DataService())
    print(engine._proc.pid, flush=True)
    time.sleep(600)
    """
)


@pytest.mark.renode
@needs_renode
def test_a_sigkilled_host_leaves_no_renode_or_mono(tmp_path: Path) -> None:
    host = subprocess.Popen(
        [sys.executable, "-c", RENODE_HOST, str(tmp_path / "work")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert host.stdout is not None
        line = host.stdout.readline()
        assert line, f"the host did not start Renode (exit {host.poll()})"
        pgid = int(line)
        members = _group(pgid)
        # Renode 1.16.1 built from source: the `renode` script (the leader) and `mono Renode.exe`, its child.
        assert len(members) >= 2 and pgid in members, members
        os.kill(host.pid, signal.SIGKILL)
        host.wait(timeout=30)
        assert _wait_all_gone(members) == [], f"outlived their SIGKILLed host: {members}"
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()


@pytest.mark.renode
@needs_renode
def test_renode_runs_in_its_own_group_and_tmpdir_and_spares_the_users_tmp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_tmp = tmp_path / "user-tmp"
    decoys = _decoys(user_tmp)
    monkeypatch.setenv("TMPDIR", str(user_tmp))  # the TMPDIR the host (and, unprotected, Renode) would use
    work = tmp_path / "work"
    elf = build(F405, "demo", mailbox=True).elf
    with create_engine("renode", F405, work) as engine:
        engine.start(load_image(elf, F405), engine.transport(), data=DataService())
        proc = engine._proc
        assert proc is not None
        assert os.getpgid(proc.pid) == proc.pid and os.getsid(proc.pid) == proc.pid  # own session and group
        members = _group(proc.pid)
        assert len(members) >= 2, members  # the launcher script and the runtime it runs (mono Renode.exe)
        for pid in members:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            assert f"TMPDIR={work / 'tmp'}".encode() in environ, pid
        # Renode's own temporary folder (named by the runtime's PID) is under the work directory.
        assert any((work / "tmp" / f"renode-{p}").is_dir() for p in members), sorted((work / "tmp").iterdir())
        ending = engine.run(RunLimits(max_instructions=500_000_000, timeout_s=120))
        assert ending.kind == EndKind.EXITED, ending
    assert _wait_all_gone(members) == []  # close(): quit, then the group's SIGTERM/SIGKILL
    assert proc not in launcher._live and proc not in launcher._guards
    assert {d: (d / "keep.txt").read_text() for d in decoys} == decoys


@pytest.mark.renode
@needs_renode
def test_renode_started_on_the_users_tmpdir_would_delete_its_folders(tmp_path: Path) -> None:
    """The control for the test above: the hazard is real, so sparing the decoys is the private TMPDIR's doing.

    Renode cleans up when it first needs its temporary folder (loading a platform's CPU does) and at exit."""
    user_tmp = tmp_path / "user-tmp"
    decoys = _decoys(user_tmp)
    binary = renode_engine_mod.renode_binary()
    assert binary is not None
    repl = tmp_path / "board.repl"
    repl.write_text(overlay_text(F405))  # the project's overlay: loads offline
    argv = [binary, "--disable-xwt", "--plain", "--hide-analyzers", "--port", str(launcher.free_port())]
    argv += ["-e", 'mach create "control"', "-e", f"machine LoadPlatformDescription @{repl}", "-e", "quit"]
    proc = launcher.popen(argv, tmpdir=user_tmp, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
    try:
        out, _ = proc.communicate(timeout=120)
    finally:
        launcher.kill_group(proc)
    assert proc.returncode == 0, out  # it ran the commands and quit (its log is asynchronous: not asserted on)
    # A decoy survives only if its PID came back to life meanwhile (a reused PID), which Renode rightly spares.
    kept = [d for d in decoys if d.exists() and not _alive(int(d.name.split("-")[1]))]
    assert kept == [], out
