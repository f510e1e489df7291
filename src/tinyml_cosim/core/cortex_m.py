"""Architectural facts of the ARMv7-M cores the boards use (Cortex-M3/M4/M7), in one place.

Addresses and bit positions from the ARMv7-M Architecture Reference Manual (B3.2 System Control Space, B1.5
exceptions); every engine, the diagnosis and the static stack analysis read them from here.
"""

from __future__ import annotations

# --- System Control Block fault status and address registers (B3.2.15 - B3.2.18) ---
CFSR = 0xE000ED28  # Configurable Fault Status: MMFSR (bits 0-7), BFSR (8-15), UFSR (16-31)
HFSR = 0xE000ED2C  # HardFault Status
MMFAR = 0xE000ED34  # MemManage Fault Address
BFAR = 0xE000ED38  # BusFault Address
# System Handler Priority Registers SHPR1..SHPR3, and the NVIC's Interrupt Priority Registers: [start, end).
SCB_SHPR = (0xE000ED18, 0xE000ED24)
NVIC_IPR = (0xE000E400, 0xE000E4F0)

# --- exceptions (B1.5.2): number -> name; numbers 16 and up are external interrupts IRQ0.. ---
NMI, HARD_FAULT, MEM_MANAGE, BUS_FAULT, USAGE_FAULT = 2, 3, 4, 5, 6
# The exceptions a fault (or NMI) enters: engines stop at their handlers' entry.
FAULT_VECTORS = (NMI, HARD_FAULT, MEM_MANAGE, BUS_FAULT, USAGE_FAULT)
SVCALL, DEBUG_MONITOR, PENDSV, SYSTICK = 11, 12, 14, 15
FIRST_IRQ = 16
EXCEPTION_NAMES = {
    NMI: "NMI",
    HARD_FAULT: "HardFault",
    MEM_MANAGE: "MemManage",
    BUS_FAULT: "BusFault",
    USAGE_FAULT: "UsageFault",
    SVCALL: "SVCall",
    DEBUG_MONITOR: "DebugMonitor",
    PENDSV: "PendSV",
    SYSTICK: "SysTick",
}

# --- CFSR bits (B3.2.15): bit -> (name, what it means) ---
MMARVALID_BIT = 7
BFARVALID_BIT = 15
CFSR_BITS = {
    0: ("IACCVIOL", "instruction fetch from a no-execute or protected region"),
    1: ("DACCVIOL", "data access violation"),
    3: ("MUNSTKERR", "MemManage fault on exception return unstacking"),
    4: ("MSTKERR", "MemManage fault on exception entry stacking"),
    5: ("MLSPERR", "MemManage fault during lazy FP state preservation"),
    MMARVALID_BIT: ("MMARVALID", "MMFAR holds the faulting address"),
    8: ("IBUSERR", "bus error on instruction fetch"),
    9: ("PRECISERR", "precise data bus error (BFAR holds the address)"),
    10: ("IMPRECISERR", "imprecise data bus error"),
    11: ("UNSTKERR", "bus fault on exception return unstacking"),
    12: ("STKERR", "bus fault on exception entry stacking (stack overflow?)"),
    13: ("LSPERR", "bus fault during lazy FP state preservation"),
    BFARVALID_BIT: ("BFARVALID", "BFAR holds the faulting address"),
    16: ("UNDEFINSTR", "undefined instruction"),
    17: ("INVSTATE", "invalid EPSR state (Thumb bit clear: a call through a bad function pointer?)"),
    18: ("INVPC", "invalid EXC_RETURN on exception return"),
    19: ("NOCP", "coprocessor access with the FPU disabled or absent"),
    24: ("UNALIGNED", "unaligned access with UNALIGN_TRP set"),
    25: ("DIVBYZERO", "integer division by zero with DIV_0_TRP set"),
}
# --- HFSR bits (B3.2.16) ---
HFSR_BITS = {1: "VECTTBL", 30: "FORCED", 31: "DEBUGEVT"}

# --- exception entry and return (B1.5.6 - B1.5.8) ---
IPSR_MASK = 0x1FF  # xPSR bits holding the active exception number
BASIC_FRAME_WORDS = 8  # r0-r3, r12, lr, pc, xpsr
STACKED_LR, STACKED_PC, STACKED_XPSR = 5, 6, 7  # word indices in the basic frame
EXC_RETURN_PREFIX = 0xFFFFFFF0  # LR values with these bits set are EXC_RETURN, not addresses
EXC_RETURN_PROCESS_STACK = 0x4  # EXC_RETURN bit 2: the frame is on the process stack (PSP)
EXC_RETURN_THREAD = 0x8  # EXC_RETURN bit 3: the exception interrupted thread mode (clear: another handler)
SYSTEM_VECTORS = 16  # initial SP, reset and the 14 system exception entries before IRQ0


def exception_name(number: int) -> str:
    """`HardFault`, `IRQ5`, or `exception 7` for a reserved number."""
    if number in EXCEPTION_NAMES:
        return EXCEPTION_NAMES[number]
    return f"IRQ{number - FIRST_IRQ}" if number >= FIRST_IRQ else f"exception {number}"


def cfsr_bits(cfsr: int | None) -> list[str]:
    if not cfsr:
        return []
    return [name for bit, (name, _) in CFSR_BITS.items() if cfsr & (1 << bit)]


def hfsr_bits(hfsr: int | None) -> list[str]:
    if not hfsr:
        return []
    return [name for bit, name in HFSR_BITS.items() if hfsr & (1 << bit)]


def is_exc_return(lr: int) -> bool:
    return (lr & EXC_RETURN_PREFIX) == EXC_RETURN_PREFIX


def frame_on_process_stack(lr: int) -> bool | None:
    """Whether the exception frame is on the process stack (PSP), from EXC_RETURN bit 2 in a handler's LR (0: the
    main stack, MSP); None when LR holds no EXC_RETURN (the handler has called a function since)."""
    if not is_exc_return(lr):
        return None
    return bool(lr & EXC_RETURN_PROCESS_STACK)


def stack_name(on_process_stack: bool) -> str:
    return "the process stack (PSP)" if on_process_stack else "the main stack (MSP)"
