"""Hand counts for the cycle micro-benchmarks (src/tinyml_cosim/firmware/tests/apps/cycle_bench/bench.S), worked out
from the TRM tables (tinyml_cosim/cycles/timings.py) and the boards' flash parameters with the plugin's fetch model
(engines/qemu/plugin/cycles.c), not from the code under test. Boards: stm32f405 (Cortex-M4, 5 flash wait states at
168 MHz, RM0090 table 10) and stm32f205 (Cortex-M3, 3 wait states at 120 MHz, RM0033); both ART: 64 x 16-byte
I-cache, 8 x 16-byte D-cache, prefetch.

Each benchmark's window is what the cycles plugin counts between its two snapshots (the reads of TIM2->CNT at
cb_<name>_a and cb_<name>_b) in the benchmark's second run: every instruction after the first read up to and
including the second (the plugin's inline adds run before an instruction, so a snapshot includes its own load),
plus the taken-branch and fetch-stall cycles charged in between. Every window is framed the same way:

    FRAME = nop after the first read (1) + nop before the second (1) + the second read (LDR after a NOP: 2) = 4

Terms: P = 2 (pipeline refill, TRM range 1..3), P = 3 when the target is a 32-bit instruction at an address that is
not word aligned; a load after an LDR whose result it does not use for its address is pipelined (-1); a load whose
address the preceding data-processing instruction computed stalls (+1); UDIV is costed at 7 (TRM 2..12). Measured on
silicon beyond the TRM (cycles/timings.py): a pipelined load that reads another memory block than the load before it
+1; a load after a single store +1; pre/post-indexed accesses back to back on one base do not pipeline (stores +1);
three or more 32-bit instructions in a row at halfword addresses +1 for the group.

Variants: "art_on" is the board file (the vendor start-up's ART caches and prefetch on); in the second run every
line is in the I-cache, so no fetch stall. "art_off" is the same memory system with both ART caches and the prefetch
off (`memory_system(board, icache=False, dcache=False, prefetch=False)`): every flash read costs the wait states,
the flash interface keeps only the line it read last. Only the loops have an "art_off" count here: their layout
(16-byte lines L0..L3, bench.S's LOOP macro) is what the count depends on.
"""

from __future__ import annotations

FRAME = 1 + 1 + 2
P = 2
DIVIDE = 7
WAIT_STATES = {"stm32f405": 5, "stm32f205": 3}
CORE = {"stm32f405": "cortex-m4", "stm32f205": "cortex-m3"}

# The loop (LOOP in bench.S): 10 rounds of 14 ADDS + SUBS + BNE; BNE taken 9 times (1 + P), falls through once (1).
ROUNDS = 10
LOOP_BASE = 2 + ROUNDS * (14 + 1 + 1) + (ROUNDS - 1) * P + 1 + 2  # nop nop | rounds | taken | nop, second read
# = 2 + 160 + 18 + 3 = 183


def loop_flash_art_off_stall(wait_states: int) -> int:
    """The plugin charges a translation block's line reads when the block starts. The block that holds the first
    read runs on into the loop (lines L0, L1, L2): the first round's L1 and L2 are read before the snapshot, and the
    block continued after QEMU's re-run of the I/O read reads none of them again. Rounds 2..10 each read L1 and L2;
    the block after the loop reads L3, which holds the second read."""
    return (ROUNDS - 1) * 2 * wait_states + wait_states  # F405: 90 + 5 = 95; F205: 54 + 3 = 57


def multiplies(core: str) -> int:
    # mla ; umull ; smlal: M4 1 + 1 + 1; M3 2 + 5 + 7 (UMULL 3..5 and SMLAL 4..7 costed at the top); the three are
    # 32-bit at halfword addresses (after READ_A's two 16-bit instructions): + 1 for the group
    return FRAME + (1 + 1 + 1 if core == "cortex-m4" else 2 + 5 + 7) + 1


def expected(board: str) -> dict[str, dict[str, int]]:
    """benchmark -> variant -> cycles of its window on `board`."""
    ws, core = WAIT_STATES[board], CORE[board]
    return {
        # ldr r1,[r0] (2, after a NOP) ; ldr r2,[r0,#4] ; ldr r3,[r0,#8] ; ldr r4,[r0,#12] (pipelined: 1 each)
        "load_chain": {"art_on": FRAME + 2 + 1 + 1 + 1},  # 9
        # ldr r1,[r0] ; ldr r2,[r1] ; ldr r3,[r2] ; ldr r4,[r3]: each address is the previous result: 2 each
        "dependent_loads": {"art_on": FRAME + 2 + 2 + 2 + 2},  # 12
        # mov r1,r0 (1) ; ldr r2,[r1] (2 + 1 stall) ; adds r1,#4 (1) ; ldr r3,[r1] (2 + 1 stall)
        "address_dependency": {"art_on": FRAME + 1 + 3 + 1 + 3},  # 12
        # ldr r1,[r0] (2) ; str r1,[r0,#16] (STR [imm]: 1) ; str r1,[r0,r2] (register offset, after a store: 2) ;
        # ldr r3,[r0] (after a store, not pipelined: 2, + 1 measured: a store does not pipeline with a following load)
        "load_store": {"art_on": FRAME + 2 + 1 + 2 + (2 + 1)},  # 12
        # ldr r1,[r0] SRAM (2) ; ldr r2,[r3] flash (pipelined 1, another memory block: + 1) ; ldr r4,[r0,#4] SRAM
        # (1 + 1) ; ldr r5,[sp] the stack, SRAM1 like cb_buf (1) ; ldr r1,[r3,#4] flash (1 + 1) ; ldr r2,=literal in
        # flash (1) ; ldr r4,[r0,#8] SRAM (1 + 1); ART off: the flash reads miss the data cache, wait states each -
        # the two through r3 here; the literal's read is charged when its translation block starts, and that block
        # starts before the first timebase read (cycles.c: literal loads are charged at the block's start)
        "load_blocks": {"art_on": FRAME + 12, "art_off": FRAME + 12 + 2 * ws},  # 16; F405 26, F205 22
        # ldr r1,[r0],#4 (2) ; ldr r2,[r0],#4 (the base the first wrote back: not pipelined, 2) ; ldr r3,[r4],#4
        # (another base: 1 on the M4; the M3 chains no indexed load: 2)
        "indexed_loads": {"art_on": FRAME + 2 + 2 + (1 if core == "cortex-m4" else 2)},  # M4 9, M3 10
        # str r1,[r0],#4 (1) ; str r2,[r0],#4 (the same written-back base: 1 + 1)
        "indexed_stores": {"art_on": FRAME + 1 + 2},  # 7
        # add.w x3 at halfword addresses: 1 + 1 + (1 + 1), the group's one cycle
        "unaligned_group": {"art_on": FRAME + 1 + 1 + 2},  # 8
        # movs (1) cmp (1) beq not taken (1) cmp (1) beq taken (1 + P) adds (1) b to a 32-bit insn at a halfword
        # address (1 + 3) add.w (1) cbz not taken (1) cbnz taken (1 + P) adds (1)
        "branches": {"art_on": FRAME + 1 + 1 + 1 + 1 + (1 + P) + 1 + (1 + 3) + 1 + 1 + (1 + P) + 1},  # 22
        # udiv 100 / 7: silicon 2..12 (few: a small quotient), the model's stated 7
        "divide_small": {"art_on": FRAME + DIVIDE},  # 11
        # udiv 0xFFFFFFFF / 1: silicon up to 12, the model the same 7
        "divide_large": {"art_on": FRAME + DIVIDE},  # 11
        "multiplies": {"art_on": multiplies(core)},  # M4 8, M3 19
        # ldmia r0!,{r1-r4} (1 + 4) ; stmia r0!,{r1-r4} (1 + 4)
        "ldm_stm": {"art_on": FRAME + 5 + 5},  # 14
        "loop_flash": {"art_on": LOOP_BASE, "art_off": LOOP_BASE + loop_flash_art_off_stall(ws)},  # F405 278, F205 240
        # the same loop in RAM (.data, copied by the start-up): no flash, no wait states either way
        "loop_ram": {"art_on": LOOP_BASE, "art_off": LOOP_BASE},  # 183, 183
    }
