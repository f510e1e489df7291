"""The exact-count TCG plugin (plugin/icount.c): finding QEMU's plugin header, building the plugin, reading its count.

QEMU's own instruction count (`query-replay`) is exact only while the CPU is stopped, and the host can only stop it
by asking over QMP, some time after the budget: a foreign firmware's budget stop landed millions of instructions
late and differed run to run, and a firmware that exits by itself is gone before its total can be asked. The plugin
counts every instruction into a file the host maps, and holds the CPU at exactly the budget.

Debian ships no `qemu-plugin.h` in any binary package; `python -m tinyml_cosim.engines.qemu.plugin fetch-header`
(`make qemu-plugin-header`) takes it from the source package of the installed QEMU. Where neither it nor
$QEMU_PLUGIN_INCLUDE is there, `unavailable_reason()` says why and the engine labels its counts approximate.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

from tinyml_cosim.core import resources
from tinyml_cosim.core.errors import EngineError

SOURCE = resources.PACKAGE_DIR / "engines" / "qemu" / "plugin" / "icount.c"
HEADER = "qemu-plugin.h"
INCLUDE_ENV = "QEMU_PLUGIN_INCLUDE"
QEMU_PACKAGE = "qemu-system-arm"
_MAGIC = b"cosimic1"
_LAYOUT = struct.Struct("<8Q")  # struct shared in icount.c


class PluginState(IntEnum):
    RUNNING = 0
    HELD = 1  # the vCPU waits at exactly the budget
    OVERSHOT = 2  # the budget was passed without a hold (not expected): the stop is approximate
    EXITED = 3


@dataclass(frozen=True)
class Snapshot:
    count: int
    state: PluginState
    pc: int  # HELD: the next instruction, not yet executed
    budget: int


def header_cache_dir() -> Path:
    """Per user, whatever $COSIM_BUILD_DIR says: one download serves every checkout and install."""
    import platformdirs  # lazy, as in core.resources: only a run that loads the plugin pays for it

    return Path(platformdirs.user_cache_dir("tinyml-cosim")) / "qemu-plugin-header"


def find_header() -> Path | None:
    """The directory holding qemu-plugin.h: $QEMU_PLUGIN_INCLUDE, a distribution's /usr/include, the cache."""
    explicit = os.environ.get(INCLUDE_ENV)
    candidates = [Path(explicit)] if explicit else []
    candidates += [Path("/usr/include"), Path("/usr/local/include"), header_cache_dir()]
    return next((d for d in candidates if (d / HEADER).is_file()), None)


def unavailable_reason() -> str | None:
    if find_header() is None:
        return (
            f"QEMU's {HEADER} not found (${INCLUDE_ENV}, /usr/include, {header_cache_dir()}): "
            "run `make qemu-plugin-header`"
        )
    if shutil.which("gcc") is None and shutil.which("cc") is None:
        return "no host C compiler (gcc) to build the exact-count QEMU plugin"
    return None


def plugin_path(source: Path = SOURCE) -> Path:
    """The built plugin (`source`: a plugin C file, by default icount.c), compiled on first use into the build
    directory as lib<stem>-<key>.so, keyed by source and header."""
    include = find_header()
    if include is None:
        raise EngineError(unavailable_reason() or f"{HEADER} not found")
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise EngineError("no host C compiler (gcc) to build the exact-count QEMU plugin")
    key = hashlib.sha256(source.read_bytes() + (include / HEADER).read_bytes()).hexdigest()[:12]
    out_dir = resources.build_dir() / "qemu-plugin"
    target = out_dir / f"lib{source.stem}-{key}.so"
    if target.is_file():
        return target
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / f".{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test workers build it once
        if not target.is_file():
            tmp = target.with_suffix(f".{os.getpid()}.tmp")
            cmd = [cc, "-O2", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror", "-I", str(include), "-o", str(tmp),
                   str(source)]  # fmt: skip
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise EngineError(f"cannot build the QEMU plugin {source.name}: {proc.stderr.strip()[-2000:]}")
            os.replace(tmp, target)
    return target


def qemu_args(state_file: Path, budget: int | None) -> list[str]:
    """`-plugin` for QEMU's command line; `budget`: hold the CPU once that many instructions have retired."""
    spec = f"{plugin_path()},state={state_file}"
    if budget:
        spec += f",budget={budget}"
    return ["-plugin", spec]


class PluginCounter:
    """The host's view of the plugin's shared page, read and written with pread/pwrite rather than mapped: the page
    lies in the run's directory, where the firmware's semihosting may truncate it (SYS_OPEN mode "w"), and a
    mapping of a truncated file kills its reader with SIGBUS; a short read is only "no snapshot"."""

    def __init__(self, state_file: Path) -> None:
        self.path = state_file

    def _page(self) -> bytes | None:
        try:
            with open(self.path, "rb", buffering=0) as fh:  # opened per read: nothing to leak (microseconds)
                page = fh.read(_LAYOUT.size)
        except OSError:
            return None
        return page if len(page) == _LAYOUT.size else None

    def snapshot(self) -> Snapshot | None:
        """None until the plugin has installed itself (QEMU still starting, or the plugin failed to load)."""
        m = self._page()
        if m is None or m[:8] != _MAGIC:
            return None
        _magic, count, state, pc, budget, _release, _precise, _ = _LAYOUT.unpack(m)
        return Snapshot(count=count, state=PluginState(state), pc=pc, budget=budget)

    def settle(self, alive: Callable[[], bool], patience_s: float = 2.0) -> Snapshot | None:
        """The snapshot once no hold is pending. The count reaches the budget when the instruction before it
        retires; the hold starts in the next instruction's callback, which may first wait for that block to be
        translated (on a loaded machine, milliseconds). A QMP `stop` or GDB interrupt sent in that window waits for
        a vCPU that the hold then never gives back, so callers settle first. A CPU asleep in WFI at exactly the
        budget holds only when an interrupt wakes it: after `patience_s` of an unmoving count it is stoppable."""
        snap = self.snapshot()
        deadline = time.monotonic() + patience_s
        while (
            snap is not None and snap.state == PluginState.RUNNING and snap.budget and snap.count >= snap.budget
            and alive() and time.monotonic() < deadline
        ):  # fmt: skip
            time.sleep(0.0005)
            before, snap = snap.count, self.snapshot()
            if snap is not None and snap.count != before:
                deadline = time.monotonic() + patience_s
        return snap

    def release(self) -> None:
        """Let a held vCPU run on (it then counts on, without a budget)."""
        if self._page() is None:
            return
        with contextlib.suppress(OSError), open(self.path, "r+b", buffering=0) as fh:
            os.pwrite(fh.fileno(), (1).to_bytes(8, "little"), 40)

    def close(self) -> None:
        """Nothing stays open between reads (kept for callers of the mapped version)."""


CYCLES_MAGIC = b"cosimcy1"  # cycles.c's profile page (cycleplugin.py reads the rest; numpy there)


def running_cycles(path: Path | None) -> int | None:
    """The plugin's running cycle total (header word 8), for a stopped CPU: a call's cycles are the difference at
    its entry and return stops. Transfers are charged when the next block starts, so each difference lacks the
    return's branch refill (1..3 cycles) and nothing else. None without a profile."""
    if path is None:
        return None
    try:
        with open(path, "rb") as fh:
            head = fh.read(9 * 8)
    except OSError:
        return None
    if len(head) < 9 * 8 or head[:8] != CYCLES_MAGIC:
        return None
    return int.from_bytes(head[64:72], "little")


# --- fetching the header (make qemu-plugin-header) ---
def installed_source_version(package: str = QEMU_PACKAGE) -> str:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${source:Version}", package], capture_output=True, text=True, check=False
    )
    if out.returncode != 0 or not out.stdout.strip():
        raise SystemExit(f"error: {package} is not installed as a Debian package (dpkg-query: {out.stderr.strip()})")
    return out.stdout.strip()


def fetch_header(dest: Path) -> Path:
    """Download the source package of the installed QEMU (needs a deb-src line) and keep only qemu-plugin.h."""
    version = installed_source_version()
    with tempfile.TemporaryDirectory(prefix="cosim-qemu-src-") as tmp:
        proc = subprocess.run(
            ["apt-get", "source", "--download-only", f"qemu={version}"], cwd=tmp, capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise SystemExit(
                f"error: apt-get source qemu={version} failed (is there a deb-src line for its suite?): "
                f"{proc.stderr.strip()[-500:]}"
            )
        orig = next(Path(tmp).glob("qemu_*.orig.tar.*"), None)
        if orig is None:
            raise SystemExit(f"error: apt-get source qemu={version} left no qemu_*.orig.tar.* in {tmp}")
        with tarfile.open(orig) as tar:
            member = next((m for m in tar if re.fullmatch(r"[^/]+/include/qemu/qemu-plugin\.h", m.name)), None)
            if member is None:
                raise SystemExit(f"error: {orig.name} has no include/qemu/{HEADER}")
            data = tar.extractfile(member)
            assert data is not None
            dest.mkdir(parents=True, exist_ok=True)
            tmp_header = dest / f".{HEADER}.{os.getpid()}"
            tmp_header.write_bytes(data.read())
            os.replace(tmp_header, dest / HEADER)
        (dest / "SOURCE_VERSION").write_text(f"qemu {version} ({orig.name})\n")
    return dest / HEADER


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tinyml_cosim.engines.qemu.plugin")
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch-header", help=f"put the installed QEMU's {HEADER} into the cache")
    fetch.add_argument("--dest", type=Path, default=None, help="directory (default: the per-user cache)")
    sub.add_parser("build", help="build the plugin and print its path")
    args = parser.parse_args(argv)
    if args.command == "fetch-header":
        dest = args.dest or header_cache_dir()
        if (dest / HEADER).is_file():
            print(dest / HEADER)
            return 0
        print(fetch_header(dest))
        return 0
    print(plugin_path())
    return 0


if __name__ == "__main__":
    sys.exit(main())
