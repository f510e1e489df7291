"""Build the "vendor-way" test firmwares in tests/firmware/foreign/<name>/ (own start-up, own linker script, own
Makefile, nothing from this project) for the tests that run them.

Each firmware directory holds a plain Makefile that takes `OUT=<dir>` and writes `<dir>/<name>.elf` (or exactly
one `*.elf`); most share the start-up and build rules of tests/firmware/foreign/common/ (startup.c, rules.mk), which
make finds through FOREIGN_COMMON (given here, so that a copy of a firmware's folder elsewhere builds too). Builds
are content-keyed — a hash of every file in the firmware's directory and in common/, the make variables and the
toolchain — under core.resources.build_dir()/foreign/, reused when present, and serialised per key with a file lock
so that parallel test workers never build the same firmware twice or read a half-written ELF.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tinyml_cosim.core import resources

FOREIGN_DIR = Path(__file__).resolve().parent.parent / "firmware" / "foreign"
COMMON_DIR = FOREIGN_DIR / "common"  # shared start-up and make rules (not a firmware: it has no Makefile)


class ToolchainMissing(RuntimeError):
    """arm-none-eabi-gcc is not on PATH: callers skip (pytest) rather than fail."""


class ForeignBuildFailed(RuntimeError):
    """The firmware's own make failed; the message holds its output."""


def _toolchain() -> str:
    gcc = shutil.which("arm-none-eabi-gcc")
    if gcc is None:
        raise ToolchainMissing("arm-none-eabi-gcc not found on PATH (`make setup` installs gcc-arm-none-eabi)")
    return subprocess.run([gcc, "--version"], capture_output=True, text=True, check=True).stdout.splitlines()[0]


def _key(src: Path, make_vars: dict[str, str], toolchain: str) -> str:
    h = hashlib.sha256(toolchain.encode())
    for root, tag in ((src, ""), (COMMON_DIR, "common/")):
        for f in sorted(p for p in root.rglob("*") if p.is_file()):
            h.update((tag + str(f.relative_to(root))).encode())
            h.update(f.read_bytes())
    for name, value in sorted(make_vars.items()):
        h.update(f"{name}={value}\n".encode())
    return h.hexdigest()[:12]


def _elf_in(out: Path, name: str) -> Path | None:
    named = out / f"{name}.elf"
    if named.is_file():
        return named
    elves = sorted(out.glob("*.elf"))
    return elves[0] if len(elves) == 1 else None


def build_foreign(name: str, **make_vars: str) -> Path:
    """Build tests/firmware/foreign/<name> with `make OUT=<dir> NAME=VALUE...` and return its ELF.

    Skips the calling test when the Arm toolchain is missing; a failing build fails the test with the compiler's
    own output."""
    try:
        return make_foreign(name, **make_vars)
    except ToolchainMissing as exc:
        pytest.skip(str(exc))
    except ForeignBuildFailed as exc:
        pytest.fail(str(exc), pytrace=False)


def make_foreign(name: str, **make_vars: str) -> Path:
    """`build_foreign` without pytest (for the Robot suites): raises ToolchainMissing or ForeignBuildFailed."""
    src = FOREIGN_DIR / name
    if not (src / "Makefile").is_file():
        known = sorted(p.name for p in FOREIGN_DIR.iterdir() if (p / "Makefile").is_file())
        raise ValueError(f"no foreign firmware {name!r} in {FOREIGN_DIR}: known are {', '.join(known)}")
    toolchain = _toolchain()
    key = _key(src, make_vars, toolchain)
    root = resources.build_dir() / "foreign"
    out = root / f"{name}-{key}"
    elf = _elf_in(out, name)
    if elf is not None:
        return elf
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{name}-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        elf = _elf_in(out, name)
        if elf is not None:
            return elf
        tmp = out.with_name(out.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        cmd = ["make", "--no-print-directory", "-C", str(src), f"OUT={tmp}", f"FOREIGN_COMMON={COMMON_DIR}"]
        cmd += [f"{k}={v}" for k, v in sorted(make_vars.items())]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ForeignBuildFailed(f"build of foreign firmware {name} failed:\n{proc.stdout}{proc.stderr}")
        (tmp / "build.log").write_text(proc.stdout + proc.stderr)
        if _elf_in(tmp, name) is None:
            raise ForeignBuildFailed(f"foreign firmware {name}: make succeeded but left no single *.elf in {tmp}")
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
    elf = _elf_in(out, name)
    assert elf is not None
    return elf
