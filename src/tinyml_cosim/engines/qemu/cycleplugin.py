"""The cycle-profile TCG plugin (plugin/cycles.c): building it, its QEMU arguments, and reading its profile file.

The plugin counts what a Cortex-M cycle estimate needs from the executed stream (execution counts, taken
transfers, exception entries, flash fetch / ART cache stalls, flash data loads, snapshots at timebase reads) into a
file-backed mapping; `read_profile` reads it while QEMU runs or after it is gone. The layout is in docs/cycles.md
("File formats": cost table in, profile out); the arithmetic on it lives in the cycles/ package. It is built like the
exact-count plugin (plugin.py: header lookup, content-keyed build) and can be loaded beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from tinyml_cosim.core import resources
from tinyml_cosim.core.errors import EngineError
from tinyml_cosim.engines.qemu import plugin

SOURCE = resources.PACKAGE_DIR / "engines" / "qemu" / "plugin" / "cycles.c"
MAGIC = plugin.CYCLES_MAGIC
LAYOUT_VERSION = 1
PAGE = 4096
N_CLASSES = 16
FLAG_INSNS_FULL = 1
FLAG_SNAPSHOTS_FULL = 2


@dataclass(frozen=True)
class Counters:
    """Header words 7..21 of page 0, in order (0..6: magic, version, n_insns, insn capacity, n_snapshots, snapshot
    capacity, flags; 32..47: base cycles per class)."""

    instructions: int  # started (an instruction that faults part-way counts)
    cycles: int  # base + taken + fetch_stall + data_stall + exception cycles
    taken_cycles: int
    fetch_stall: int
    data_stall: int
    exception_entries: int
    exception_cycles: int
    icache_hits: int
    icache_misses: int
    dcache_hits: int
    dcache_misses: int
    flash_loads: int
    unknown_instructions: int  # executions of instructions the cost table does not list
    prefetch_hidden: int  # sequential line reads the prefetch shortened
    pipeline_breaks: int  # cycles of loads that did not pipeline across memory blocks (included in data_stall)


N_COUNTERS = len(fields(Counters))
INSN_DTYPE = np.dtype(
    [("addr", "<u4"), ("size", "<u2"), ("cls", "u1"), ("flags", "u1"), ("exec", "<u8"), ("taken", "<u8"),
     ("fetch_stall", "<u8"), ("data_stall", "<u8"), ("flash_loads", "<u8")]
)  # fmt: skip
SNAPSHOT_DTYPE = np.dtype(
    [("instructions", "<u8"), ("cycles", "<u8"), ("taken", "<u8"), ("fetch_stall", "<u8"), ("data_stall", "<u8"),
     ("exception_cycles", "<u8"), ("pc", "<u8"), ("pipeline_breaks", "<u8"), ("class_cycles", "<u8", (N_CLASSES,))]
)  # fmt: skip
assert INSN_DTYPE.itemsize == 48 and SNAPSHOT_DTYPE.itemsize == 192


@dataclass(frozen=True)
class RawProfile:
    """The plugin's counters as read at one moment. `insns["taken"]` counts taken transfers (not cycles);
    `counters.taken_cycles` is their cost. `flags`: FLAG_INSNS_FULL, FLAG_SNAPSHOTS_FULL."""

    insn_capacity: int
    snapshot_capacity: int
    flags: int
    counters: Counters
    class_cycles: np.ndarray  # u64[16], base cycles per class
    insns: np.ndarray  # INSN_DTYPE, one row per executed (translated) instruction
    snapshots: np.ndarray  # SNAPSHOT_DTYPE


def unavailable_reason() -> str | None:
    return plugin.unavailable_reason()


def plugin_path() -> Path:
    """The built plugin (libcycles-<key>.so in the build directory), compiled on first use."""
    return plugin.plugin_path(SOURCE)


def qemu_args(
    costs: Path, profile: Path, insns: int | None = None, snapshots: int | None = None, decode_loads: bool = True
) -> list[str]:
    """`-plugin` for QEMU's command line; `insns`/`snapshots`: table capacities (plugin defaults 2^20, 2^18);
    `decode_loads=False`: a memory callback for every load, literals and stack included (slower, same counts)."""
    spec = f"{plugin_path()},costs={costs},profile={profile}"
    if insns:
        spec += f",insns={insns}"
    if snapshots is not None:
        spec += f",snapshots={snapshots}"
    if not decode_loads:
        spec += ",decode=0"
    return ["-plugin", spec]


def read_profile(path: Path) -> RawProfile:
    """Read the profile file; raises EngineError when it is missing or not (yet) a profile.

    The counters of a running QEMU move while they are read: each number is a value it held, the set is not one
    instant (use a held vCPU or a finished run for consistency)."""
    try:
        with open(path, "rb") as fh:
            header = np.frombuffer(fh.read(PAGE), dtype="<u8")
            if header.size < PAGE // 8 or header[:1].tobytes() != MAGIC:
                raise EngineError(f"{path}: not a cycle profile (yet): no {MAGIC.decode()} header")
            if int(header[1]) != LAYOUT_VERSION:
                raise EngineError(f"{path}: profile layout {int(header[1])}, this reader knows {LAYOUT_VERSION}")
            n_insns, insn_cap, n_snaps, snap_cap = (int(v) for v in header[2:6])
            insns = np.frombuffer(fh.read(min(n_insns, insn_cap) * INSN_DTYPE.itemsize), dtype=INSN_DTYPE)
            fh.seek(PAGE + insn_cap * INSN_DTYPE.itemsize)
            snaps = np.frombuffer(fh.read(min(n_snaps, snap_cap) * SNAPSHOT_DTYPE.itemsize), dtype=SNAPSHOT_DTYPE)
    except OSError as exc:
        raise EngineError(f"cannot read the cycle profile {path}: {exc}") from exc
    return RawProfile(
        insn_capacity=insn_cap,
        snapshot_capacity=snap_cap,
        flags=int(header[6]),
        counters=Counters(*(int(v) for v in header[7 : 7 + N_COUNTERS])),
        class_cycles=header[32 : 32 + N_CLASSES].copy(),
        insns=insns.copy(),
        snapshots=snaps.copy(),
    )
