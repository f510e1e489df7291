"""Cortex-M4 and Cortex-M3 instruction timings, from Arm's Technical Reference Manuals, each with its source.

Cycle counts are the TRMs' own: they assume zero wait states (flash wait states and the ART are the plugin's dynamic
part). Where a TRM gives a range (early-terminating divide and long multiply, the pipeline refill P) the model costs
one stated value and carries the range as the band, so that an estimate says how far the silicon can differ.

Sources (named in every constant):
- M4 = Cortex-M4 r0p1 TRM, Arm DDI 0439B, table 3-1 "Cortex-M4 instruction set summary" and section 3.3.2
  "Load/store timings"; M4-FPU = the same TRM, chapter 7, table 7-1 "FPU instruction set".
- M3 = Cortex-M3 r2p1 TRM, Arm DDI 0337I, table 18-1 "Cortex-M3 instruction set summary" and section 18.3
  "Load/store timings".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tinyml_cosim.core.memory_system import EXCEPTION_ENTRY_CYCLES as EXCEPTION_ENTRY_DEFAULT

Core = Literal["cortex-m3", "cortex-m4"]

# P, "the number of cycles required for a pipeline refill. This ranges from 1 to 3 depending on the alignment and
# width of the target instruction, and whether the processor manages to speculate the address early" (M4 table 3-1,
# M3 table 18-1, abbreviations). Costed: 2 (the refill of the decode and execute stages from one fetch), 3 where a
# direct branch's target is a 32-bit instruction at an address that is not word aligned (its two halfwords need two
# fetches); the band is always 1..3.
P_DEFAULT = 2
P_UNALIGNED_WIDE_TARGET = 3
P_RANGE = (1, 3)

# SDIV/UDIV, "2 to 12: division operations use early termination ... based on the number of leading ones and zeroes
# in the input operands" (M4 table 3-1 note; M3 table 18-1 note). QEMU 7.2's plugin API cannot read the operands, so
# the model costs the midpoint of the range.
DIVIDE_CYCLES = 7
DIVIDE_RANGE = (2, 12)

# Cortex-M3 long multiplies terminate early too: SMULL/UMULL 3 to 5, SMLAL/UMLAL 4 to 7 (M3 table 18-1). Costed at
# the top of the range: the int8 kernels' long multiplies are requantisation multiplies by a full-width (Q31)
# multiplier, whose operands leave no leading zeroes/ones for the early termination to skip.
M3_MULL_CYCLES, M3_MULL_RANGE = 5, (3, 5)
M3_MLAL_CYCLES, M3_MLAL_RANGE = 7, (4, 7)


@dataclass(frozen=True)
class Timing:
    """One row of a TRM table: cycles when the instruction does not transfer control (`base`, its `band`) and the
    extra cycles when it does (`taken`, its `taken_band`)."""

    base: int
    band: tuple[int, int]
    taken: int = 0
    taken_band: tuple[int, int] = (0, 0)
    source: str = ""


def _t(base: int, source: str, band: tuple[int, int] | None = None, taken: bool = False) -> Timing:
    return Timing(base, band or (base, base), P_DEFAULT if taken else 0, P_RANGE if taken else (0, 0), source)


# Keys are the decoder's timing names (decode.py maps capstone's instruction ids onto them).
_COMMON: dict[str, Timing] = {
    "alu": _t(1, "table 3-1/18-1: MOV, ADD, SUB, logical, shift, compare, extend, bit-field, saturate, REV: 1"),
    "alu_pc": _t(1, "table 3-1/18-1: MOV PC, Rm / ADD PC, PC, Rm: 1 + P", taken=True),
    "mul": _t(1, "table 3-1/18-1: MUL Rd, Rn, Rm: 1"),
    "divide": Timing(DIVIDE_CYCLES, DIVIDE_RANGE, source="table 3-1/18-1: SDIV/UDIV 2 to 12 (early termination)"),
    "load": _t(2, "table 3-1/18-1: LDR/LDRH/LDRB/LDRSH/LDRSB/LDREX: 2"),
    # "LDR Rx,[PC,#imm] might add a cycle because of contention with the fetch unit" (3.3.2 / 18.3): band 2..3.
    "load_literal": _t(2, "table 3-1/18-1: LDR 2; 3.3.2/18.3: LDR [PC,#imm] might add a cycle", band=(2, 3)),
    "load_pc": _t(2, "table 3-1/18-1: LDR PC, [Rn, <op2>]: 2 + P", taken=True),
    # "STR Rx,[Ry,#imm] is always one cycle ... the data store is performed at the same time as the next instruction
    # is executing" (3.3.2 / 18.3); a register-offset store is the table's 2.
    "store_imm": _t(1, "3.3.2/18.3: STR Rx,[Ry,#imm] is always one cycle", band=(1, 2)),
    "store": _t(2, "table 3-1/18-1: STR/STRH/STRB/STREX (register offset): 2"),
    "load_double": _t(3, "table 3-1/18-1: LDRD 1 + N (N = 2), not pipelined with neighbours (3.3.2/18.3)"),
    "store_double": _t(3, "table 3-1/18-1: STRD 1 + N (N = 2), not pipelined with neighbours (3.3.2/18.3)"),
    # 1 + N: `base` is the 1, decode.py adds N (the registers in the list, PC and LR included).
    "load_multiple": _t(1, "table 3-1/18-1: LDM/POP 1 + N"),
    "load_multiple_pc": _t(1, "table 3-1/18-1: LDM/POP with PC 1 + N + P", taken=True),
    "store_multiple": _t(1, "table 3-1/18-1: STM/PUSH 1 + N"),
    "branch": _t(1, "table 3-1/18-1: B, B<cond>, BX: 1 + P (conditional, not taken: 1)", taken=True),
    "call": _t(1, "table 3-1/18-1: BL, BLX: 1 + P", taken=True),
    "cbz": _t(1, "table 3-1/18-1: CBZ/CBNZ: 1 or 1 + P", taken=True),
    # TBB/TBH: the table's 2 + P; 3.3.2/18.3 say "at least two cycles for the load, one cycle for the add, and three
    # cycles for the pipeline reload", so the band reaches 3 + P.
    "table_branch": Timing(2, (2, 3), P_DEFAULT, P_RANGE, "table 3-1/18-1: TBB/TBH 2 + P; 3.3.2/18.3: 3 + P"),
    # IT: 1, or 0 folded onto the instruction before it. The fold rule this model states (the TRMs give none): an IT
    # right after a 16-bit data-processing instruction or NOP in program order (both in one fetched word) folds.
    "it": _t(1, "table 3-1/18-1: IT 1; folded after a 16-bit data-processing instruction or NOP: 0", band=(0, 1)),
    "nop": _t(1, "table 3-1/18-1: NOP, YIELD, SEV: 1"),
    "wait": _t(1, "table 3-1/18-1: WFI/WFE 1 + W (W, the wait for an event/interrupt, is not modelled)"),
    "special": _t(1, "table 3-1/18-1: MRS, MSR, CPSID/CPSIE: 1 or 2", band=(1, 2)),
    # DMB/DSB 1 + B, "for DSB and DMB, the minimum number of cycles is zero"; ISB 1 + B, B at least a refill (P).
    "barrier": _t(1, "table 3-1/18-1: DMB/DSB 1 + B, B >= 0", band=(1, 1 + P_RANGE[1])),
    "isb": _t(1 + P_DEFAULT, "table 3-1/18-1: ISB 1 + B, B >= P", band=(1 + P_RANGE[0], 1 + P_RANGE[1])),
    # SVC/BKPT: the tables give no cycles ("-"): the instruction itself costs 1; the exception entry an SVC causes is
    # counted by the plugin (exception_entry), a semihosting BKPT is a host call in the emulator.
    "svc": _t(1, "table 3-1/18-1: SVC '-' (1 here; the entry is counted as an exception entry)"),
    "bkpt": _t(1, "table 3-1/18-1: BKPT '-' (1 here; semihosting is a host call in the emulator)"),
    "undefined": _t(1, "UDF: a UsageFault follows (counted as an exception entry)"),
    "unknown": _t(1, "not decoded or not classified: 1, counted as unknown"),
}

M4: dict[str, Timing] = {
    **_COMMON,
    "mla": _t(1, "M4 table 3-1: MLA, MLS: 1"),
    "mull": _t(1, "M4 table 3-1: SMULL/UMULL: 1"),
    "mlal": _t(1, "M4 table 3-1: SMLAL/UMLAL/UMAAL, SMLALxy, SMLALD, SMLSLD: 1"),
    "dsp": _t(1, "M4 table 3-1: DSP/SIMD (SMLAD, SMUAD, SXTB16, QADD, SSAT16, PKHBT, SEL, USAD8, ...): 1"),
    # FPU, M4 TRM chapter 7, table 7-1 (single precision; FPv4-SP has no double-precision arithmetic).
    "vfp": _t(1, "M4-FPU table 7-1: VADD/VSUB/VMUL/VNMUL/VABS/VNEG/VCMP/VCVT, VMOV imm/reg: 1"),
    "vfp_mac": _t(3, "M4-FPU table 7-1: VMLA/VMLS/VNMLA/VNMLS, VFMA/VFMS/VFNMA/VFNMS: 3"),
    "vfp_div": _t(14, "M4-FPU table 7-1: VDIV, VSQRT: 14"),
    "vmov_core": _t(1, "M4-FPU table 7-1: VMOV Rt, Sn / VMOV Sn, Rt, VMRS, VMSR: 1"),
    "vmov_pair": _t(2, "M4-FPU table 7-1: VMOV Sm, Sm1, Rt, Rt2 / Dm <-> Rt, Rt2: 2"),
    "vldr": _t(2, "M4-FPU table 7-1: VLDR: 2"),
    "vstr": _t(2, "M4-FPU table 7-1: VSTR: 2"),
    # 1 + N: decode.py adds N, counted in 32-bit words (a D register is 2); the band's low end counts registers.
    "vldm": _t(1, "M4-FPU table 7-1: VLDM/VPOP 1 + N"),
    "vstm": _t(1, "M4-FPU table 7-1: VSTM/VPUSH 1 + N"),
}

M3: dict[str, Timing] = {
    **_COMMON,
    "mla": _t(2, "M3 table 18-1: MLA, MLS: 2"),
    "mull": Timing(M3_MULL_CYCLES, M3_MULL_RANGE, source="M3 table 18-1: SMULL/UMULL 3 to 5 (early termination)"),
    "mlal": Timing(M3_MLAL_CYCLES, M3_MLAL_RANGE, source="M3 table 18-1: SMLAL/UMLAL 4 to 7 (early termination)"),
    # The M3 (ARMv7-M) has neither the DSP extension nor an FPU: such an encoding is a UsageFault there, so any that
    # appears is costed as unknown.
}

TABLES: dict[str, dict[str, Timing]] = {"cortex-m4": M4, "cortex-m3": M3}

# Load/store pipelining (3.3.2 / 18.3), decided statically from the previous instruction in program order: "if the
# next instruction is an LDR or STR, and the destination of the first LDR is not used to compute the address for the
# next instruction, then one cycle is removed from the cost of the next instruction"; "STR can only be pipelined when
# it follows an LDR, but nothing can be pipelined after the store"; "LDRD/STRD and LDM/STM cannot be pipelined with
# preceding or following instructions".
PIPELINED_SAVING = 1
PIPELINE_SOURCE = "3.3.2/18.3: LDR followed by LDR/STR whose address does not use the loaded register: -1"

# "Any load or store that generates an address dependent on the result of a preceding data processing operation
# stalls the pipeline for an additional cycle while the register bank is updated. There is no forwarding path for
# this scenario." (Cortex-M4 load/store timing notes, 3.3.2, as reproduced in TI SWCU192). Applied on both cores; the
# band's low end leaves it out.
ADDRESS_DEPENDENCY_STALL = 1
ADDRESS_DEPENDENCY_SOURCE = "3.3.2: address computed by the preceding data-processing instruction: +1"

# Measured on silicon where the TRM's notes say less (jnk0le/random, "pipeline cycle test/doc/cortex_m3m4.md": a
# Cortex-M4 on an STM32F407 and a Cortex-M3 on an STM32F103, DWT CYCCNT over unrolled loops). Both cores; the band's
# low end leaves them out (the TRM alone).
SILICON_SOURCE = "jnk0le/random pipeline cycle test/doc/cortex_m3m4.md (measured, STM32F407 / STM32F103)"
# "stores cannot be pipelined with following load instructions (adds extra cycle to store)"; "stores can't be
# pipelined with following load multiple (but can with stm)". Charged to the load: the pair costs one more.
STORE_THEN_LOAD_STALL = 1
STORE_THEN_LOAD_SOURCE = f"{SILICON_SOURCE}, stores: a single store followed by a load or load multiple: +1"
# "[cm4] post and pre indexed loads cannot be chained back to back on same register base address (alternating 2
# different registers works)"; "[cm3] post and pre indexed loads cannot be chained back to back at all";
# "[both] post and pre indexed stores cannot be chained back to back on same register base address".
WRITEBACK_CHAIN_STALL = 1
WRITEBACK_CHAIN_SOURCE = f"{SILICON_SOURCE}: pre/post-indexed loads (stores) back to back on one base: not pipelined"
# "load pipelining happens only when targeting the same memory block by all loads (e.g. SRAM1 vs SRAM2 (and CCM) on
# f407)": decided at run time by the plugin (the addresses), over the board's `cycle_model.blocks`; a pipelined load
# whose block differs from the previous load's takes back the cycle pipelining saved (PIPELINED_SAVING, 1: the
# plugin adds it to its data stall).
LOAD_BLOCK_SOURCE = f"{SILICON_SOURCE}, loads: pipelining only within one memory block (plugin, at run time)"
# compendium.i-0.nl "Alignment rules" (measured, code in flash, data in SRAM2): "Groups of three or more unaligned wide
# instructions will take one extra cycle"; "Groups of unaligned wide str only add the penalty cycle from a length of
# 4". A group: 32-bit instructions one after another at addresses that are not word aligned (a 32-bit instruction
# keeps the next one's alignment); charged once, to the instruction that completes the group. What the page leaves
# unmeasured (a mixed group "can cause more than one delay cycle") is not charged.
UNALIGNED_WIDE_GROUP = 3
UNALIGNED_WIDE_STORE_GROUP = 4
UNALIGNED_WIDE_GROUP_STALL = 1
UNALIGNED_WIDE_SOURCE = "compendium.i-0.nl/docs/instruction-alignment/rules: 3+ unaligned 32-bit instructions: +1"

# Exception entry: the board's cycle_model.exception_entry (core/memory_system.py, 12 cycles of interrupt latency by
# default), added by the plugin at each entry it sees.
EXCEPTION_ENTRY_CYCLES = EXCEPTION_ENTRY_DEFAULT


def table(core: str) -> dict[str, Timing]:
    """The timings of `core`: Cortex-M4 or Cortex-M3 (the cores whose TRM tables this module carries)."""
    try:
        return TABLES[core]
    except KeyError:
        raise ValueError(f"no instruction timings for {core!r}: the cycle model knows {', '.join(TABLES)}") from None
