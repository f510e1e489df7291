"""The one way an engine starts and stops its emulator, so none outlives us: on normal exit, on SIGTERM, on Ctrl-C,
and even when the host is SIGKILLed.

Every emulator (QEMU, Renode and the mono/dotnet process its launcher script runs, a GDB server) is started by `popen`:
- in its own session and process group, so `kill_group` reaches its helpers and a Ctrl-C in the user's terminal
  reaches only the host, which then stops it in order;
- with PR_SET_PDEATHSIG, so Linux kills it when the host dies without a chance to clean up;
- watched by a guard (`/bin/sh`, one per emulator, in a session of its own) that SIGKILLs the emulator's whole
  process group when the host dies: PDEATHSIG reaches only the process we start, and launcher scripts such as
  Renode's (`/bin/sh` running `mono Renode.exe` as a child, not through exec) leave the real emulator without it;
- registered, so `kill_all` (at exit, and from the SIGTERM/SIGHUP handlers) stops whatever is still running.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
TERMINATE_GRACE_S = 3.0  # how long an emulator may take to exit on SIGTERM before the group is SIGKILLed

# The guard is started before the emulator and reads the emulator's process group from its stdin, whose write end
# only the host holds (a pipe, close-on-exec); it then waits for end of file there: the kernel closes the pipe when
# the host dies however it dies, and the guard then kills the group. On a normal stop the host SIGKILLs the guard
# itself. It ignores the signals a terminal or a dying session would send it. The emulator's child process tells it
# the group before its exec (`_tied_to_host`), so no emulator ever runs unwatched: PDEATHSIG alone misses an
# emulator's own children, and Linux clears it on a credential change (a set-user-ID exec).
GUARD_SCRIPT = "trap '' INT HUP TERM QUIT; read -r pgid || exit 0; read -r _; kill -s KILL -- -\"$pgid\" 2>/dev/null"

_lock = threading.Lock()
_live: set[subprocess.Popen] = set()
_guards: dict[subprocess.Popen, subprocess.Popen] = {}  # emulator -> its guard


def _tied_to_host(guard: subprocess.Popen) -> Callable[[], None]:
    """preexec_fn: ask Linux to SIGKILL the emulator if the Python process dies, even by SIGKILL, and arm the guard.

    PR_SET_PDEATHSIG is tied to the thread that forked: start emulators from a thread that outlives them. The child
    tells the guard its process group itself, before its exec (the guard's pipe is still open here; close_fds
    closes it afterwards), so there is no moment at which the emulator runs and the guard does not know it. A host
    that died before the PDEATHSIG request took effect has left us a new parent: then there is nothing to run for.
    """
    assert guard.stdin is not None
    fd, host = guard.stdin.fileno(), os.getpid()

    def setup() -> None:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != host:
            os._exit(1)
        os.write(fd, f"{os.getpid()}\n".encode())  # start_new_session: our pid is our process group

    return setup


def popen(
    argv: list[str],
    *,
    env: Mapping[str, str] | None = None,
    tmpdir: Path | None = None,
    **kwargs: Any,
) -> subprocess.Popen:
    """Start an emulator in its own process group, tied to our life, and remember it.

    `env`: the whole environment, as for subprocess.Popen (None: ours). `tmpdir`: the process's own TMPDIR
    (created), for emulators that clean up other processes' files in the shared one. Other keyword arguments go to
    subprocess.Popen.
    """
    environment = dict(env) if env is not None else None
    if tmpdir is not None:
        Path(tmpdir).mkdir(parents=True, exist_ok=True)
        environment = {**(environment if environment is not None else os.environ), "TMPDIR": str(tmpdir)}
    guard = _start_guard()
    try:
        proc = subprocess.Popen(
            argv,
            start_new_session=True,
            preexec_fn=_tied_to_host(guard),
            env=environment,
            **kwargs,
        )
    except BaseException:
        _stop_guard(guard)
        raise
    register(proc)
    with _lock:
        _guards[proc] = guard
    return proc


def _start_guard() -> subprocess.Popen:
    """The watcher that kills an emulator's process group when the host dies (see GUARD_SCRIPT); the emulator's
    child process tells it which group (`_tied_to_host`).

    Its own session, so a Ctrl-C in the user's terminal does not reach it; no PDEATHSIG, since it must outlive us.
    """
    return subprocess.Popen(
        ["/bin/sh", "-c", GUARD_SCRIPT, "cosim-guard"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _stop_guard(guard: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        guard.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        guard.wait(timeout=5)
    if guard.stdin is not None:
        with contextlib.suppress(OSError):
            guard.stdin.close()


def register(proc: subprocess.Popen) -> None:
    with _lock:
        _live.add(proc)


def unregister(proc: subprocess.Popen) -> None:
    with _lock:
        _live.discard(proc)
        guard = _guards.pop(proc, None)
    if guard is not None:
        _stop_guard(guard)  # SIGKILL, not end of file: the group is already gone and its number may be reused.


def _forget_in_forked_child() -> None:
    """A forked child (a ProcessPoolExecutor worker) does not own its parent's emulators: it must neither kill them
    at its exit or on SIGTERM, nor keep their guards' pipes open after the parent has died."""
    global _lock
    _lock = threading.Lock()  # the parent's may have been held by another thread at the fork
    for guard in _guards.values():
        if guard.stdin is not None:
            with contextlib.suppress(OSError):
                guard.stdin.close()  # the child's copy only; the parent's end stays open
    _guards.clear()
    _live.clear()


os.register_at_fork(after_in_child=_forget_in_forked_child)


def kill_group(proc: subprocess.Popen, grace_s: float = TERMINATE_GRACE_S) -> int | None:
    """Stop an emulator started by `popen` and everything in its process group, and reap it; its exit status.

    SIGTERM to the group first (QEMU and Renode exit cleanly on it, flushing their logs), then, after at most
    `grace_s`, SIGKILL to the group — also when the leader has already gone, because children (Renode's dotnet)
    may outlive the launcher script. Safe to call twice and from signal handlers.
    """
    if proc.poll() is None and grace_s > 0:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace_s)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
    unregister(proc)
    return proc.returncode


def kill_all() -> None:
    """Stop every emulator still registered (at exit, or on SIGTERM): no grace, the host is going away."""
    with _lock:
        procs = list(_live)
    for proc in procs:
        kill_group(proc, grace_s=0)


atexit.register(kill_all)


def install_signal_handlers() -> None:
    """Turn SIGTERM (and SIGHUP) into SystemExit so `with engine:` blocks unwind and close their emulators."""

    def _terminate(signum: int, _frame: object) -> None:
        kill_all()
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError):  # not the main thread
            signal.signal(sig, _terminate)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, for an emulator's monitor, console or GDB server.

    The port is free when this returns, not reserved: the emulator must bind it soon.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
