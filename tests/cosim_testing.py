"""Skip markers shared by the test modules (a plain module: `conftest` is ambiguous with tests/kernels/conftest.py)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

HAVE_QEMU = shutil.which("qemu-system-arm") is not None
HAVE_ARM_GCC = shutil.which("arm-none-eabi-gcc") is not None
HAVE_GDB = shutil.which("gdb-multiarch") is not None

needs_qemu = pytest.mark.skipif(
    not (HAVE_QEMU and HAVE_ARM_GCC),
    reason="needs qemu-system-arm and arm-none-eabi-gcc (run `make setup`)",
)
needs_toolchain = pytest.mark.skipif(not HAVE_ARM_GCC, reason="needs arm-none-eabi-gcc (run `make setup`)")


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, grandchildren, ...), read from /proc."""
    parent: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        found += kids
        frontier += kids
    return found


def emulators_below(pid: int) -> list[int]:
    """The emulator processes (QEMU, Renode) a test's subprocess started."""
    found = []
    for p in descendants(pid):
        try:
            cmdline = Path(f"/proc/{p}/cmdline").read_bytes()
        except OSError:
            continue
        if b"qemu-system" in cmdline or b"renode" in cmdline.lower():
            found.append(p)
    return found


def alive(pid: int) -> bool:
    """Running and not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def load_script(name: str, path: Path) -> ModuleType:
    """Import a script that is not part of a package (models/<app>/evaluate.py, bench/*.py) under `name`."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, f"cannot import {path}"
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
