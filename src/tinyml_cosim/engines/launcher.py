"""The one way an engine starts and stops its emulator, so none outlives us: on normal exit, on SIGTERM, on Ctrl-C,
and even when the host is SIGKILLed.

Every emulator (QEMU, Renode and the dotnet/mono process it execs, a GDB server) is started by `popen`:
- in its own session and process group, so `kill_group` reaches its helpers and a Ctrl-C in the user's terminal
  reaches only the host, which then stops it in order;
- with PR_SET_PDEATHSIG, so Linux kills it when the host dies without a chance to clean up;
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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
TERMINATE_GRACE_S = 3.0  # how long an emulator may take to exit on SIGTERM before the group is SIGKILLed

_lock = threading.Lock()
_live: set[subprocess.Popen] = set()


def _die_with_parent() -> None:
    """preexec_fn: ask Linux to SIGKILL the emulator if the Python process dies, even by SIGKILL.

    PR_SET_PDEATHSIG is tied to the thread that forked: start emulators from a thread that outlives them.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


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
    proc = subprocess.Popen(
        argv,
        start_new_session=True,
        preexec_fn=_die_with_parent,
        env=environment,
        **kwargs,
    )
    register(proc)
    return proc


def register(proc: subprocess.Popen) -> None:
    with _lock:
        _live.add(proc)


def unregister(proc: subprocess.Popen) -> None:
    with _lock:
        _live.discard(proc)


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
