"""An ELF's Thumb code decoded (capstone) into one `StaticInsn` per address: class, TRM cycles, taken extra, flags and
the band of cycles the silicon can take.

What is decided here is decided statically: load/store pipelining and the address-dependency stall look at the
previous instruction in *program order* (the one before it in the same code region), which is the executed one except
at a branch target; the band keeps the other case (band high = not pipelined, band low = no stall). So do the rules
measured on silicon (timings.py: a load after a store, indexed accesses on one base, groups of unaligned 32-bit
instructions), whose cycles the band's low end leaves out. One condition only the run knows: whether a pipelined load
reads the same memory block as the load before it; such loads carry FLAG_PIPELINED and the plugin decides. Code the
ELF places in RAM (a section with its VMA in RAM and its LMA in flash) is decoded at its VMA, where it runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from capstone import arm
from elftools.elf.elffile import ELFFile

from tinyml_cosim.core.boards import Board
from tinyml_cosim.cycles.classes import FLAG_PIPELINED, FLAG_TRANSFER, FLAG_WIDE, InsnClass
from tinyml_cosim.cycles.classify import direct_target, insn_flags, memory_registers, register_operands, timing_key
from tinyml_cosim.cycles.timings import (
    ADDRESS_DEPENDENCY_STALL,
    P_UNALIGNED_WIDE_TARGET,
    PIPELINED_SAVING,
    STORE_THEN_LOAD_STALL,
    UNALIGNED_WIDE_GROUP,
    UNALIGNED_WIDE_GROUP_STALL,
    UNALIGNED_WIDE_STORE_GROUP,
    WRITEBACK_CHAIN_STALL,
    table,
)
from tinyml_cosim.elf.image import elf_symbols
from tinyml_cosim.elf.thumb import read_linked_code, thumb_disassembler

C = InsnClass


@dataclass(frozen=True)
class StaticInsn:
    """One instruction's static cost: `base` cycles when it does not transfer control, `taken_extra` added when it
    does, both without wait states; `band`/`taken_band` are their (low, high) ranges; `timing` names the TRM row."""

    addr: int
    size: int
    text: str
    klass: InsnClass
    base: int
    taken_extra: int
    flags: int
    band: tuple[int, int]
    taken_band: tuple[int, int]
    timing: str


@dataclass
class StaticCode:
    """The decoded code of one ELF as parallel arrays (sorted by address), for fast joins with a profile."""

    insns: list[StaticInsn]
    addr: np.ndarray  # uint32
    size: np.ndarray
    klass: np.ndarray
    base: np.ndarray
    taken_extra: np.ndarray
    flags: np.ndarray
    base_lo: np.ndarray
    base_hi: np.ndarray
    taken_lo: np.ndarray
    taken_hi: np.ndarray
    functions: list[tuple[int, int, str]]  # (address, size, name), sorted by address
    # Exception handlers the vector table names (Thumb bit cleared): the plugin tells exception entries from
    # taken branches by them (QEMU takes interrupts between blocks, most of which end in a branch).
    handlers: list[int] = field(default_factory=list)
    initial_sp: int | None = None  # the vector table's first word: where the stack is (its memory block)

    @property
    def unknown(self) -> int:
        return int(np.count_nonzero(self.klass == C.UNKNOWN))


@dataclass
class _Prev:
    """What the next instruction's pipelining depends on."""

    single_load_dest: frozenset[int] = frozenset()  # what an LDR (single, not to PC) just wrote: Rt, a written-back Rn
    is_single_load: bool = False
    is_single_store: bool = False
    store_writeback: int | None = None  # the base a pre/post-indexed single store just wrote back
    dp_writes: frozenset[int] = frozenset()  # registers a data-processing instruction just wrote
    narrow_plain: bool = False  # a 16-bit instruction an IT can fold onto


@dataclass
class _WideGroup:
    """32-bit instructions one after another at addresses that are not word aligned (timings.UNALIGNED_WIDE_*)."""

    length: int = 0
    stores_only: bool = True
    charged: bool = False

    def _reset(self) -> None:
        self.length, self.stores_only, self.charged = 0, True, False

    def step(self, addr: int, size: int, klass: InsnClass, transfer: bool) -> int:
        """The group's extra cycles charged to this instruction (0 or UNALIGNED_WIDE_GROUP_STALL)."""
        if size != 4 or addr % 4 != 2:
            self._reset()
            return 0
        self.length += 1
        self.stores_only &= klass == C.STORE
        due = self.length >= (UNALIGNED_WIDE_STORE_GROUP if self.stores_only else UNALIGNED_WIDE_GROUP)
        extra = UNALIGNED_WIDE_GROUP_STALL if due and not self.charged else 0
        self.charged |= due
        if transfer:  # the fetch restarts at the target
            self._reset()
        return extra


_MEMORY_CLASSES = (C.LOAD, C.STORE, C.LOAD_MULTIPLE, C.STORE_MULTIPLE, C.FPU_MEM)
_SINGLE = ("load", "load_literal", "store", "store_imm")
_LOADS_AFTER_STORE = ("load", "load_literal", "load_pc", "load_double", "load_multiple", "load_multiple_pc")


def _writeback_base(insn, ops: list) -> int | None:
    """The base register a pre- or post-indexed access writes back (None: no writeback)."""
    if not insn.writeback:
        return None
    bases = [op.mem.base for op in ops if op.type == arm.ARM_OP_MEM]
    return bases[0] if bases else None


def _address_registers(klass: InsnClass, name: str, ops: list, regs: list[int]) -> frozenset[int]:
    """The registers a memory access computes its address from (a load/store multiple: its base, Rn or SP)."""
    addr_regs = memory_registers(ops) if klass in _MEMORY_CLASSES else frozenset()
    if klass in (C.LOAD_MULTIPLE, C.STORE_MULTIPLE, C.FPU_MEM) and not addr_regs:
        addr_regs = frozenset([arm.ARM_REG_SP] if name in ("push", "pop", "vpush", "vpop") else regs[:1])
    return addr_regs


def _neighbour_terms(
    prev: _Prev, insn, ops: list, core: str, key: str, klass: InsnClass, addr_regs: frozenset[int]
) -> tuple[bool, int, int, int | None]:
    """What the instruction before changes: (pipelined with that load, the TRM's address-dependency stall, the
    extra cycles measured on silicon, the base this access writes back)."""
    writeback = _writeback_base(insn, ops) if key in _SINGLE else None
    # the Cortex-M3 chains no pre/post-indexed load after a load (timings.WRITEBACK_CHAIN_SOURCE)
    m3_indexed = core == "cortex-m3" and writeback is not None and klass == C.LOAD
    pipelined = key in _SINGLE and prev.is_single_load and not (prev.single_load_dest & addr_regs) and not m3_indexed
    stall = ADDRESS_DEPENDENCY_STALL if addr_regs & prev.dp_writes else 0  # (dp_writes: empty after a load)
    extra = 0  # measured on silicon beyond the TRM (timings.py): the band's low end leaves it out
    if prev.is_single_store and key in _LOADS_AFTER_STORE:
        extra += STORE_THEN_LOAD_STALL
    if klass == C.STORE and key in _SINGLE and prev.store_writeback in addr_regs:
        extra += WRITEBACK_CHAIN_STALL
    return pipelined, stall, extra, writeback


def _next_prev(
    insn, key: str, klass: InsnClass, regs: list[int], flags: int, writeback: int | None, in_it: bool
) -> _Prev:
    """What the next instruction's pipelining depends on, after this one."""
    if klass == C.LOAD and key in ("load", "load_literal"):
        written = frozenset(regs[:1]) | (frozenset([writeback]) if writeback is not None else frozenset())
        return _Prev(single_load_dest=written, is_single_load=True)
    if klass == C.STORE and key in ("store", "store_imm"):
        return _Prev(is_single_store=True, store_writeback=writeback)
    if klass in (C.ALU, C.MUL_MAC, C.SIMD) and not flags & FLAG_TRANSFER:
        _, writes = insn.regs_access()
        gp = frozenset(
            r for r in writes if arm.ARM_REG_R0 <= r <= arm.ARM_REG_R12 or r in (arm.ARM_REG_SP, arm.ARM_REG_LR)
        )
        return _Prev(dp_writes=gp, narrow_plain=insn.size == 2)
    return _Prev(narrow_plain=insn.size == 2 and klass == C.NOP and not in_it)


def _decode_region(code: bytes, base: int, core: str) -> list[tuple[StaticInsn, int | None]]:
    """Decode one stretch of Thumb code that starts at an instruction boundary: each instruction with its direct
    branch target (None for anything else), whose width decides the refill P (`_resolve_targets`)."""
    timings = table(core)
    pending: list[tuple[StaticInsn, int | None]] = []
    prev = _Prev()
    group = _WideGroup()
    it_left = 0
    for insn in thumb_disassembler().disasm(code, base):
        size = insn.size
        text = f"{insn.mnemonic} {insn.op_str}".strip()
        in_it = it_left > 0
        it_left = max(0, it_left - 1)
        if insn.id == 0:
            t = timings["unknown"]
            out_insn = StaticInsn(
                insn.address, size, text, C.UNKNOWN, t.base, 0, FLAG_WIDE if size == 4 else 0, t.band, (0, 0), "unknown"
            )
            pending.append((out_insn, None))
            prev, group = _Prev(), _WideGroup()
            continue
        ops = insn.operands
        regs = register_operands(ops)
        name = insn.insn_name()
        key, klass, n = timing_key(insn, core, ops, regs)
        if key not in timings:  # a row the core's table lacks (the M3 has no FPU): unknown
            key, klass, n = "unknown", C.UNKNOWN, 0
        t = timings[key]
        base_c, lo, hi = t.base + n, t.band[0] + n, t.band[1] + n
        if key in ("vldm", "vstm"):  # N counted in words; the band's low end counts listed registers
            listed = regs if name in ("vpush", "vpop") else regs[1:]
            lo = t.band[0] + len(listed)
        addr_regs = _address_registers(klass, name, ops, regs)
        pipelined, stall, extra, writeback = _neighbour_terms(prev, insn, ops, core, key, klass, addr_regs)
        if pipelined:
            base_c = max(1, base_c - PIPELINED_SAVING)
            lo = min(lo, base_c)
        flags = insn_flags(key, klass, size) | (FLAG_PIPELINED if pipelined and klass == C.LOAD else 0)
        extra += group.step(insn.address, size, klass, bool(flags & FLAG_TRANSFER))
        base_c, hi = base_c + stall + extra, hi + stall + extra
        if key == "it":
            base_c = 0 if prev.narrow_plain else 1
            it_left = len(insn.mnemonic.split(".")[0]) - 1  # it, ite, itte, ...: one per letter after "i"
        if in_it and klass != C.BRANCH:
            lo = min(lo, 1)  # a condition-failed instruction in an IT block executes as a 1-cycle NOP
        out_insn = StaticInsn(
            insn.address, size, text, klass, base_c, t.taken, flags, (lo, max(hi, base_c)), t.taken_band, key
        )
        pending.append((out_insn, direct_target(ops, key)))
        prev = _next_prev(insn, key, klass, regs, flags, writeback, in_it)
    return pending


def _resolve_targets(pending: list[tuple[StaticInsn, int | None]]) -> list[StaticInsn]:
    """P = 3 for a direct branch whose target is a 32-bit instruction at an address that is not word aligned (its
    two halfwords take two fetches), looked up over all the decoded code (a call may go to another region)."""
    sizes = {i.addr: i.size for i, _ in pending}
    out = []
    for insn, target in pending:
        if target is not None and sizes.get(target) == 4 and target % 4 == 2:
            insn = replace(insn, taken_extra=P_UNALIGNED_WIDE_TARGET)
        out.append(insn)
    return out


def decode_region(code: bytes, base: int, core: str) -> list[StaticInsn]:
    """The instructions of one stretch of Thumb code that starts at an instruction boundary, costed for `core`."""
    return _resolve_targets(_decode_region(code, base, core))


def _regions(elf_path: Path, code: Sequence[tuple[int, bytes]], starts: Iterable[int]) -> list[tuple[int, bytes]]:
    """The Thumb stretches of the executable sections: split at the ELF's mapping symbols ($t code, $d data: literal
    pools are skipped) and at function starts (decoding restarts on a known boundary)."""
    marks: dict[int, str] = {}
    with elf_path.open("rb") as fh:
        for sym in elf_symbols(ELFFile(fh)):
            if sym.name in ("$t", "$d", "$a") or sym.name.startswith(("$t.", "$d.")):
                marks[sym.address] = sym.name[1]
    for s in starts:
        marks.setdefault(s, "t")
    out = []
    for sec_base, data in code:
        end = sec_base + len(data)
        inside = sorted(a for a in marks if sec_base <= a < end)
        if not inside or inside[0] != sec_base:
            inside = [sec_base, *inside]
        for i, a in enumerate(inside):
            kind = marks.get(a, "t")
            stop = inside[i + 1] if i + 1 < len(inside) else end
            if kind == "t" and stop > a:
                out.append((a, data[a - sec_base : stop - sec_base]))
    return out


def to_arrays(insns: list[StaticInsn], functions: list[tuple[int, int, str]] | None = None) -> StaticCode:
    insns = sorted(insns, key=lambda i: i.addr)

    def col(f, dtype=np.int64) -> np.ndarray:
        return np.fromiter((f(i) for i in insns), dtype=dtype, count=len(insns))

    return StaticCode(
        insns=insns,
        addr=col(lambda i: i.addr, np.uint32),
        size=col(lambda i: i.size),
        klass=col(lambda i: int(i.klass)),
        base=col(lambda i: i.base),
        taken_extra=col(lambda i: i.taken_extra),
        flags=col(lambda i: i.flags),
        base_lo=col(lambda i: i.band[0]),
        base_hi=col(lambda i: i.band[1]),
        taken_lo=col(lambda i: i.taken_band[0]),
        taken_hi=col(lambda i: i.taken_band[1]),
        functions=sorted(functions or []),
    )


def decode_elf(elf_path: Path, board: Board) -> StaticCode:
    """Every instruction of the ELF's executable sections, at the address it runs at (VMA), costed for the board's
    core; function symbols for the per-function breakdown."""
    linked = read_linked_code(elf_path, board)
    starts = [a for a in linked.starts]
    regions = _regions(elf_path, linked.code, starts)
    insns = _resolve_targets([p for base, data in regions for p in _decode_region(data, base, board.core)])
    functions = [(addr, size, name) for name, (addr, size) in linked.funcs.items()]
    static = to_arrays(insns, functions)
    # Entries 2 on (0: initial SP, 1: reset): Thumb addresses of decoded code. An ELF without a vector table has
    # code or data at the boot address; its words name no instruction and are dropped.
    known = set(static.addr.tolist())
    static.handlers = sorted({w & ~1 for w in linked.vectors[2:] if w & 1 and (w & ~1) in known})
    static.initial_sp = linked.vectors[0] if linked.vectors else None
    return static
