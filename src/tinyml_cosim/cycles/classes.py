"""The 16 instruction classes the cost table names and the QEMU cycles plugin keeps one cycle counter for.

The ids are part of the cost-table format (docs/cycles.md "File formats", `class <id> <name>` lines), so a
class is never renumbered; 15 is the plugin's "not in the table" class.
"""

from __future__ import annotations

from enum import IntEnum


class InsnClass(IntEnum):
    ALU = 0  # data processing, moves, shifts, saturation, bit-field (1 cycle)
    MUL_MAC = 1  # MUL/MLA/MLS and the 64-bit multiplies
    SIMD = 2  # the DSP extension (ARMv7E-M): SIMD add/sub, packing, dual 16-bit MACs, saturating arithmetic
    LOAD = 3  # single and double loads (LDR*, LDRD, LDREX, LDR PC)
    STORE = 4  # single and double stores
    LOAD_MULTIPLE = 5  # LDM, POP
    STORE_MULTIPLE = 6  # STM, PUSH
    BRANCH = 7  # B, Bcc, BX, CBZ/CBNZ, TBB/TBH, MOV/ADD PC
    CALL = 8  # BL, BLX
    DIVIDE = 9  # SDIV, UDIV (early-terminating: costed at a stated value, the range in the band)
    FPU = 10  # VFP data processing and register moves
    FPU_MEM = 11  # VLDR, VSTR, VLDM, VSTM, VPUSH, VPOP
    SYSTEM = 12  # MSR, MRS, CPS, barriers, WFI/WFE, SVC, BKPT, UDF
    IT = 13  # IT (folded to 0 cycles where the core can fold it)
    NOP = 14  # NOP, YIELD, SEV (padding and hints, kept apart so that alignment NOPs show)
    UNKNOWN = 15  # what capstone cannot decode or this model does not classify: base 1, counted and reported


CLASS_NAMES: dict[int, str] = {c.value: c.name.lower() for c in InsnClass}

# Flags of a cost-table `insn` line (docs/cycles.md): which dynamic effects the plugin must watch for.
FLAG_LOAD = 1  # reads memory (a flash read goes through the ART data cache)
FLAG_STORE = 2
FLAG_TRANSFER = 4  # may transfer control: taken_extra applies when it does
FLAG_WIDE = 8  # a 32-bit Thumb-2 encoding
FLAG_KEEP = 16  # a load in the runtime's span functions: every timebase snapshot it makes is kept (never merged)
# A single load costed as pipelined with the load before it: the plugin charges the saved cycle back when the two
# read different memory blocks (timings.LOAD_BLOCK_SOURCE).
FLAG_PIPELINED = 32

# Estimate categories (CycleEstimate.categories): which classes' base cycles each one sums.
CATEGORY_OF_CLASS: dict[InsnClass, str] = {
    InsnClass.ALU: "alu_mac_simd",
    InsnClass.MUL_MAC: "alu_mac_simd",
    InsnClass.SIMD: "alu_mac_simd",
    InsnClass.LOAD: "loads_stores",
    InsnClass.STORE: "loads_stores",
    InsnClass.LOAD_MULTIPLE: "loads_stores",
    InsnClass.STORE_MULTIPLE: "loads_stores",
    InsnClass.BRANCH: "branches",
    InsnClass.CALL: "branches",
    InsnClass.DIVIDE: "divides",
    InsnClass.FPU: "fpu",
    InsnClass.FPU_MEM: "fpu",
    InsnClass.SYSTEM: "system",
    InsnClass.IT: "system",
    InsnClass.NOP: "system",
    InsnClass.UNKNOWN: "unknown",
}
