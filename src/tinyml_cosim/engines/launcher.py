"""Every emulator process the host started, so none outlives us: on normal exit, on SIGTERM, and on Ctrl-C."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import threading

_lock = threading.Lock()
_live: set[subprocess.Popen] = set()


def _die_with_parent() -> None:
    """preexec_fn: ask Linux to SIGKILL the emulator if the Python process dies, even by SIGKILL.

    PR_SET_PDEATHSIG is tied to the thread that forked: start emulators from a thread that outlives them.
    """
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1


def popen(argv: list[str], **kwargs) -> subprocess.Popen:
    """Start an emulator in its own process group, tied to our life, and remember it."""
    proc = subprocess.Popen(argv, start_new_session=True, preexec_fn=_die_with_parent, **kwargs)
    register(proc)
    return proc


def register(proc: subprocess.Popen) -> None:
    with _lock:
        _live.add(proc)


def unregister(proc: subprocess.Popen) -> None:
    with _lock:
        _live.discard(proc)


def kill_all() -> None:
    with _lock:
        procs = list(_live)
        _live.clear()
    for proc in procs:
        if proc.poll() is None:
            # Engines start emulators in their own session: kill the whole group (Renode's mono, QEMU's helpers).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)


atexit.register(kill_all)


def install_signal_handlers() -> None:
    """Turn SIGTERM (and SIGHUP) into SystemExit so `with engine:` blocks unwind and close their emulators."""

    def _terminate(signum: int, _frame: object) -> None:
        kill_all()
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError):  # not the main thread
            signal.signal(sig, _terminate)
