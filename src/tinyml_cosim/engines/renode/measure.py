"""`--measure SYMBOL` on Renode: per-call instruction counts from CPU hooks, without GDB.

A hook (hooks.py) at each measured function's first instruction and at the return sites of its calls reports
`cpu ExecutedInstructions` there, which is the count before that instruction, exactly as QEMU's count at a
breakpoint (QemuEngine.measure); a call is its entry's count to its return site's count. Return sites:
- statically, the instruction after every direct call (BL) of a measured function in the image;
- for every other call (a function pointer, a virtual call, a tail call: its LR is no such site), the entry's hook
  adds a hook at LR from inside Renode before the call runs on (hooks.DONE_HOOK_RETURN).
Returns are matched to entries by SP, as on QEMU: a return site passed with SP below the entry's belongs to a deeper
call (recursion) and ends nothing. Hooks are never removed; a return site passed when no call is pending is ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from tinyml_cosim.core import cortex_m
from tinyml_cosim.core.boards import Board
from tinyml_cosim.engines.base import CallMeasurement
from tinyml_cosim.engines.renode import hooks
from tinyml_cosim.engines.renode.hooks import DONE_HOOK_RETURN, KIND_ENTRY, KIND_RETURN, HookServer, HookStop


def direct_return_sites(path: Path, board: Board, entries: Iterable[int]) -> set[int]:
    """The address after every `bl <entry>` in the image's functions (Thumb bit clear)."""
    # capstone (~75 ms) only for --measure runs, not on every Renode run's import path (bench/bench_startup.py)
    import capstone
    from capstone import arm

    from tinyml_cosim.elf.thumb import code_at, read_linked_code

    targets = {a & ~1 for a in entries}
    linked = read_linked_code(path, board)
    cs = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
    cs.detail = True
    cs.skipdata = True  # literal pools: skipped, and a word misread as a BL only adds a hook that never fires
    sites: set[int] = set()
    for addr, size in {v for v in linked.funcs.values() if v[1] > 0}:
        for insn in cs.disasm(code_at(linked, addr, size), addr):
            if insn.id == arm.ARM_INS_BL and insn.operands[0].imm & ~1 in targets:
                sites.add(insn.address + insn.size)
    return sites


class CallTracker:
    """Entries and returns, matched as QemuEngine.measure matches them; knows which return sites have a hook."""

    def __init__(self, entries: dict[int, str], hooked_returns: Iterable[int] = ()) -> None:
        self.entries = {a & ~1: name for a, name in entries.items()}
        self.hooked = set(hooked_returns) | set(self.entries)
        self.frames: list[tuple[str, int, int, int]] = []  # function, count at entry, SP at entry, return address
        self.calls: list[CallMeasurement] = []

    def stop(self, pc: int, sp: int, lr: int, count: int) -> int | None:
        """A hook at `pc` with `count` instructions retired before it; the return address to hook now, if any."""
        pc &= ~1
        while self.frames and self.frames[-1][3] == pc and sp >= self.frames[-1][2]:
            name, begin, _sp, _ret = self.frames.pop()
            self.calls.append(CallMeasurement(name, begin, count - begin))
        if pc not in self.entries:
            return None
        ret = lr & ~1
        self.frames.append((self.entries[pc], count, sp, ret))
        # An exception handler's LR is EXC_RETURN: no instruction there, so that call never ends (as on QEMU).
        if ret in self.hooked or cortex_m.is_exc_return(lr):
            return None
        self.hooked.add(ret)
        return ret


class MeasureHooks:
    """The hooks of one measured Renode run and the calls they saw."""

    def __init__(
        self, functions: dict[str, int], static_returns: Iterable[int], skipped: Callable[[], int] = lambda: 0
    ) -> None:
        entries = {addr & ~1: name for name, addr in functions.items()}
        self.returns = sorted(set(static_returns) - entries.keys())  # an entry's own hook serves as a return site
        self.tracker = CallTracker(entries, self.returns)
        # Semihosting calls answered (and skipped) in Renode so far: QEMU retires them, so the count includes them.
        self._skipped = skipped
        self._server = HookServer(self._on_stop)

    @classmethod
    def for_image(
        cls, path: Path, board: Board, functions: dict[str, int], skipped: Callable[[], int] = lambda: 0
    ) -> MeasureHooks:
        return cls(functions, direct_return_sites(path, board, functions.values()), skipped)

    def hook_file(self) -> str:
        return hooks.hook_file_text(self._server.port)

    def commands(self, hook_path: Path) -> list[str]:
        """The monitor commands that add the hooks; the CPU must not have run yet."""
        sites = [(a, KIND_ENTRY) for a in sorted(self.tracker.entries)] + [(a, KIND_RETURN) for a in self.returns]
        return [f'cpu AddHook 0x{a:08X} "{hooks.hook_one_liner(hook_path, kind)}"' for a, kind in sites]

    def _on_stop(self, stop: HookStop) -> tuple[int, int]:
        ret = self.tracker.stop(stop.pc, stop.regs[13], stop.regs[14], stop.instructions + self._skipped())
        return (ret, DONE_HOOK_RETURN) if ret is not None else (0, 0)

    @property
    def calls(self) -> list[CallMeasurement]:
        return self.tracker.calls

    @property
    def error(self) -> str | None:
        return self._server.error

    def close(self) -> None:
        self._server.close()


__all__ = ["CallTracker", "MeasureHooks", "direct_return_sites"]
