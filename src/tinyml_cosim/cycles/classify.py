"""Which TRM row an instruction capstone decoded is costed by: capstone's instruction names mapped onto the timing
names of timings.py and the classes of classes.py, and the operand facts the pipelining rules look at.

Classification is by name (capstone's `insn_name()`, one per instruction whatever its condition or width) plus the
few operand facts the tables split on: a PC destination, a PC base, a register offset, the register list.
"""

from __future__ import annotations

from collections.abc import Iterable

import capstone
from capstone import arm

from tinyml_cosim.cycles.classes import FLAG_LOAD, FLAG_STORE, FLAG_TRANSFER, FLAG_WIDE, InsnClass

C = InsnClass


def _names(words: str) -> frozenset[str]:
    return frozenset(words.split())


_ALU = _names(
    "adc add addw adr and asr bfc bfi bic clz cmn cmp eor lsl lsr mov movs movw movt mvn neg orn orr rbit rev rev16 "
    "revsh ror rrx rsb sbc sbfx ssat usat sub subw teq tst ubfx sxtb sxth uxtb uxth"
)
_DSP = _names(
    "qadd qsub qdadd qdsub qadd8 qadd16 qsub8 qsub16 qasx qsax sadd8 sadd16 ssub8 ssub16 sasx ssax shadd8 shadd16 "
    "shsub8 shsub16 shasx shsax uadd8 uadd16 usub8 usub16 uasx usax uhadd8 uhadd16 uhsub8 uhsub16 uhasx uhsax uqadd8 "
    "uqadd16 uqsub8 uqsub16 uqasx uqsax usad8 usada8 ssat16 usat16 sxtb16 uxtb16 sxtab16 uxtab16 sxtab sxtah uxtab "
    "uxtah pkhbt pkhtb sel smlabb smlabt smlatb smlatt smlad smladx smlawb smlawt smlsd smlsdx smmla smmlar smmls "
    "smmlsr smmul smmulr smuad smuadx smulbb smulbt smultb smultt smulwb smulwt smusd smusdx"
)
_DSP_LONG = _names("smlalbb smlalbt smlaltb smlaltt smlald smlaldx smlsld smlsldx umaal")
_LOADS = _names("ldr ldrb ldrh ldrsb ldrsh ldrt ldrbt ldrht ldrsbt ldrsht ldrex ldrexb ldrexh")
_STORES = _names("str strb strh strt strbt strht strex strexb strexh")
_LDM = {"ldm", "ldmdb", "pop"}
_STM = {"stm", "stmdb", "push"}
_VFP = _names("vadd vsub vmul vnmul vabs vneg vcmp vcmpe vcvt vcvtr vcvtb vcvtt fconsts fconstd")
_VFP_MAC = _names("vmla vmls vnmla vnmls vfma vfms vfnma vfnms")
_VLDM = {"vldmia", "vldmdb", "vpop"}
_VSTM = {"vstmia", "vstmdb", "vpush"}
_HINTS = {"nop": "nop", "yield": "nop", "sev": "nop", "wfi": "wait", "wfe": "wait"}


def memory_registers(ops: list) -> frozenset[int]:
    regs: set[int] = set()
    for op in ops:
        if op.type == arm.ARM_OP_MEM:
            regs.update(r for r in (op.mem.base, op.mem.index) if r)
    return frozenset(regs)


def register_operands(ops: list) -> list[int]:
    return [op.reg for op in ops if op.type == arm.ARM_OP_REG]


def _words(insn: capstone.CsInsn, regs: Iterable[int]) -> int:
    return sum(2 if insn.reg_name(r).startswith("d") else 1 for r in regs)


def _table(rows: list[tuple[str, str, InsnClass]]) -> dict[str, tuple[str, InsnClass]]:
    return {name: (key, klass) for names, key, klass in rows for name in names.split()}


# capstone instruction name -> (timing name, class), where the name alone decides.
_BY_NAME = _table(
    [
        ("mul", "mul", C.MUL_MAC),
        ("mla mls", "mla", C.MUL_MAC),
        ("smull umull", "mull", C.MUL_MAC),
        ("smlal umlal", "mlal", C.MUL_MAC),
        ("sdiv udiv", "divide", C.DIVIDE),
        ("ldrd", "load_double", C.LOAD),
        ("strd", "store_double", C.STORE),
        ("b bx", "branch", C.BRANCH),
        ("cbz cbnz", "cbz", C.BRANCH),
        ("tbb tbh", "table_branch", C.BRANCH),
        ("bl blx", "call", C.CALL),
        ("it", "it", C.IT),
        ("pld pli clrex", "nop", C.NOP),
        ("msr mrs cps", "special", C.SYSTEM),
        ("dmb dsb", "barrier", C.SYSTEM),
        ("isb", "isb", C.SYSTEM),
        ("svc", "svc", C.SYSTEM),
        ("bkpt", "bkpt", C.SYSTEM),
        ("udf", "undefined", C.SYSTEM),
    ]
)
# The DSP extension and the FPU: Cortex-M4 only (on the M3 such an encoding is a UsageFault: unknown).
_M4_BY_NAME = _table(
    [
        (" ".join(_DSP), "dsp", C.SIMD),
        (" ".join(_DSP_LONG), "mlal", C.SIMD),
        (" ".join(_VFP), "vfp", C.FPU),
        (" ".join(_VFP_MAC), "vfp_mac", C.FPU),
        ("vdiv vsqrt", "vfp_div", C.FPU),
        ("vmrs vmsr fmstat", "vmov_core", C.FPU),
        ("vldr", "vldr", C.FPU_MEM),
        ("vstr", "vstr", C.FPU_MEM),
    ]
)


def _memory_key(name: str, ops: list, regs: list[int]) -> tuple[str, InsnClass, int] | None:
    """Single and multiple loads and stores: (timing name, class, N registers)."""
    mem = [op.mem for op in ops if op.type == arm.ARM_OP_MEM]
    if name in _LOADS:
        if regs and regs[0] == arm.ARM_REG_PC:
            return "load_pc", C.LOAD, 0
        return ("load_literal" if mem and mem[0].base == arm.ARM_REG_PC else "load"), C.LOAD, 0
    if name in _STORES:
        register_offset = bool(mem and mem[0].index)
        return ("store" if register_offset or name.startswith("strex") else "store_imm"), C.STORE, 0
    if name in _LDM:
        listed = regs if name == "pop" else regs[1:]
        return ("load_multiple_pc" if arm.ARM_REG_PC in listed else "load_multiple"), C.LOAD_MULTIPLE, len(listed)
    if name in _STM:
        return "store_multiple", C.STORE_MULTIPLE, len(regs if name == "push" else regs[1:])
    return None


def _vfp_key(insn: capstone.CsInsn, name: str, regs: list[int]) -> tuple[str, InsnClass, int] | None:
    """VMOV (by how many core registers it moves) and VLDM/VSTM/VPUSH/VPOP (1 + N, N in words)."""
    if name == "vmov":
        core_regs = sum(1 for r in regs if insn.reg_name(r).startswith("r") or r in (arm.ARM_REG_SP, arm.ARM_REG_LR))
        return ("vfp" if core_regs == 0 else "vmov_core" if core_regs == 1 else "vmov_pair"), C.FPU, 0
    if name in _VLDM or name in _VSTM:
        listed = regs if name in ("vpush", "vpop") else regs[1:]
        return ("vldm" if name in _VLDM else "vstm"), C.FPU_MEM, _words(insn, listed)
    return None


def timing_key(insn: capstone.CsInsn, core: str, ops: list, regs: list[int]) -> tuple[str, InsnClass, int]:
    """(timing name, class, N registers to add) for one decoded instruction (`ops`, `regs`: its operands and the
    register ones, read once: capstone's accessors are what decoding spends its time in)."""
    name = insn.insn_name() or ""
    m4 = core == "cortex-m4"
    if name in _ALU:
        return ("alu_pc" if regs and regs[0] == arm.ARM_REG_PC else "alu"), C.ALU, 0
    if name in _BY_NAME:
        return (*_BY_NAME[name], 0)
    if m4 and name in _M4_BY_NAME:
        return (*_M4_BY_NAME[name], 0)
    if name == "hint":  # NOP, YIELD, SEV, WFI, WFE share capstone's id
        key = _HINTS.get(insn.mnemonic.split(".")[0])
        if key:
            return key, (C.NOP if key == "nop" else C.SYSTEM), 0
    found = _memory_key(name, ops, regs) or (_vfp_key(insn, name, regs) if m4 else None)
    return found or ("unknown", C.UNKNOWN, 0)


def insn_flags(key: str, klass: InsnClass, size: int) -> int:
    flags = FLAG_WIDE if size == 4 else 0
    if klass in (C.LOAD, C.LOAD_MULTIPLE) or key in ("vldr", "vldm", "table_branch"):
        flags |= FLAG_LOAD
    if klass in (C.STORE, C.STORE_MULTIPLE) or key in ("vstr", "vstm"):
        flags |= FLAG_STORE
    if key in ("alu_pc", "load_pc", "load_multiple_pc", "branch", "call", "cbz", "table_branch"):
        flags |= FLAG_TRANSFER
    return flags


def direct_target(ops: list, key: str) -> int | None:
    if key in ("branch", "call", "cbz") and ops and ops[-1].type == arm.ARM_OP_IMM:
        return int(ops[-1].imm)
    return None
