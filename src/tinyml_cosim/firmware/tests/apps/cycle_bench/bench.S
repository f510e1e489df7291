/* Cycle micro-benchmarks in Thumb-2 assembly (issue 15). Each benchmark reads TIM2->CNT (0x40000024, the cycles
 * plugin's timebase) twice, with interrupts masked in between; the plugin snapshots its counters at each read. The
 * measured window is every instruction after the first read up to and including the second:
 *   nop (1) + body + nop (1) + the second read (LDR after a NOP: 2, not pipelined)
 * The bodies' hand counts (TRM tables) are in tests/cycle_bench_expected.py. Layout matters for the "ART off"
 * variant and for branch refills: every benchmark starts on a 16-byte flash line (.balign 16). */
    .syntax unified
    .thumb

    .macro BENCH name, section=.text
    .section \section\().cb_\name, "ax", %progbits
    .balign 16
    .global cb_\name
    .type cb_\name, %function
    .thumb_func
cb_\name:
    push {r4-r7, lr}
    ldr r7, =0x40000024
    .endm

    .macro READ_A name
    cpsid i
    .global cb_\name\()_a
cb_\name\()_a:
    ldr r6, [r7]
    nop
    .endm

    .macro READ_B name
    nop
    .global cb_\name\()_b
cb_\name\()_b:
    ldr r6, [r7]
    cpsie i
    pop {r4-r7, pc}
    .ltorg
    .endm

/* Independent loads: LDR;LDR;LDR;LDR pipeline (2 + 1 + 1 + 1). */
    BENCH load_chain
    ldr r0, =cb_buf
    READ_A load_chain
    ldr r1, [r0]
    ldr r2, [r0, #4]
    ldr r3, [r0, #8]
    ldr r4, [r0, #12]
    READ_B load_chain

/* Loads that alternate between SRAM and flash: pipelining holds only within one memory block, so each load that
 * crosses takes the cycle back: SRAM (2), flash (1 + 1), SRAM (1 + 1), the stack in SRAM1 (1), flash (1 + 1), a
 * literal in flash (1), SRAM (1 + 1). The flash reads miss the ART data cache only with the ART off. */
    BENCH load_blocks
    ldr r0, =cb_buf
    ldr r3, =cb_flash_words
    READ_A load_blocks
    ldr r1, [r0]
    ldr r2, [r3]
    ldr r4, [r0, #4]
    ldr r5, [sp]
    ldr r1, [r3, #4]
    ldr r2, =0x12345678
    ldr r4, [r0, #8]
    READ_B load_blocks

/* Post-indexed loads: two on one base do not pipeline, the next on another base does (2 + 2 + 1). The movs puts
 * the three 32-bit loads at word addresses (no unaligned group). */
    BENCH indexed_loads
    ldr r0, =cb_buf
    ldr r4, =cb_buf + 32
    movs r5, #0
    READ_A indexed_loads
    ldr r1, [r0], #4
    ldr r2, [r0], #4
    ldr r3, [r4], #4
    READ_B indexed_loads

/* Post-indexed stores on one base: the second is not pipelined (1 + 2). */
    BENCH indexed_stores
    ldr r0, =cb_buf
    READ_A indexed_stores
    str r1, [r0], #4
    str r2, [r0], #4
    READ_B indexed_stores

/* Three 32-bit instructions at halfword addresses one after another (the first read sits at a halfword address,
 * so the body starts at one): one cycle for the group (1 + 1 + 2). */
    BENCH unaligned_group
    READ_A unaligned_group
    add.w r1, r1, #1
    add.w r2, r2, #1
    add.w r3, r3, #1
    READ_B unaligned_group

/* A pointer chase: each address is the previous load's result, nothing pipelines (2 + 2 + 2 + 2). */
    BENCH dependent_loads
    ldr r0, =cb_chain
    READ_A dependent_loads
    ldr r1, [r0]
    ldr r2, [r1]
    ldr r3, [r2]
    ldr r4, [r3]
    READ_B dependent_loads

/* An address computed by the instruction just before: one stall cycle each (1 + 3 + 1 + 3). */
    BENCH address_dependency
    ldr r0, =cb_buf
    READ_A address_dependency
    mov r1, r0
    ldr r2, [r1]
    adds r1, #4
    ldr r3, [r1]
    READ_B address_dependency

/* LDR then STR [imm] (pipelined, 1), STR [reg] after a store (2), LDR after a store (not pipelined, 2, and one
 * more: a store does not pipeline with the load after it). */
    BENCH load_store
    ldr r0, =cb_buf
    movs r2, #20
    READ_A load_store
    ldr r1, [r0]
    str r1, [r0, #16]
    str r1, [r0, r2]
    ldr r3, [r0]
    READ_B load_store

/* Conditional branches not taken (1) and taken (1 + P, P = 2), an unconditional branch to a 32-bit instruction at a
 * halfword address (1 + P, P = 3), CBZ not taken (1), CBNZ taken (1 + 2). */
    BENCH branches
    READ_A branches
    movs r1, #0
    cmp r1, #1
    beq 1f
    cmp r1, #0
    beq 1f
    nop
1:  adds r1, #1
    b 2f
    .balign 4
    nop
2:  add.w r1, r1, #1
    cbz r1, 3f
    cbnz r1, 3f
    nop
3:  adds r1, #0
    READ_B branches

/* UDIV with a small quotient (100 / 7): silicon takes few cycles, the model its stated 7 (band 2..12). */
    BENCH divide_small
    movs r0, #100
    movs r1, #7
    READ_A divide_small
    udiv r2, r0, r1
    READ_B divide_small

/* UDIV with a large quotient (0xFFFFFFFF / 1): silicon takes the most, the model the same stated 7. */
    BENCH divide_large
    movs r0, #0
    mvns r0, r0
    movs r1, #1
    READ_A divide_large
    udiv r2, r0, r1
    READ_B divide_large

/* Multiplies: MLA, UMULL, SMLAL: 1 each on the Cortex-M4; on the Cortex-M3 MLA 2, UMULL 3..5 and SMLAL 4..7
 * (early termination; the model costs the top: 5, 7). */
    BENCH multiplies
    ldr r0, =0x12345678
    ldr r1, =0x9abcdef1
    READ_A multiplies
    mla r2, r0, r1, r2
    umull r2, r3, r0, r1
    smlal r2, r3, r0, r1
    READ_B multiplies

/* LDM and STM of four registers: 1 + N each. */
    BENCH ldm_stm
    ldr r0, =cb_buf
    READ_A ldm_stm
    ldmia r0!, {r1-r4}
    stmia r0!, {r1-r4}
    READ_B ldm_stm

/* A loop of 10 rounds over two 16-byte flash lines: 14 ADDs, SUBS, BNE (taken 9 times: 1 + 2, once not: 1). Laid
 * out so that the first read sits in line 0, the loop in lines 1 and 2, the second read in line 3 (the ART-off hand
 * count depends on it). */
    .macro LOOP name, section
    BENCH \name, \section
    movs r1, #10
    movs r2, #0
    cpsid i
    .global cb_\name\()_a
cb_\name\()_a:
    ldr r6, [r7]
    nop
    nop
    .global cb_\name\()_loop
cb_\name\()_loop:
1:  .rept 14
    adds r2, r2, r1
    .endr
    subs r1, #1
    bne 1b  /* a local label: a branch to a global symbol would be assembled 32-bit */
    READ_B \name
    .endm

    LOOP loop_flash, .text
/* The same loop copied to RAM by the start-up (.data is loaded from flash): no flash wait states. */
    LOOP loop_ram, .data

/* SYS_EXIT_EXTENDED (0x20) with ADP_Stopped_ApplicationExit, code 0: QEMU -semihosting ends the run. */
    .text
    .global cb_semihost_exit
    .type cb_semihost_exit, %function
    .thumb_func
cb_semihost_exit:
    movs r0, #0x20
    ldr r1, =cb_exit_args
    bkpt 0xab
    b .
    .ltorg

    .data
    .balign 4
cb_exit_args:
    .word 0x20026, 0
    .global cb_chain
cb_chain:
    .word cb_chain + 4, cb_chain + 8, cb_chain + 12, cb_chain

    .section .rodata.cb_flash_words, "a", %progbits
    .balign 4
    .global cb_flash_words
cb_flash_words:
    .word 1, 2, 3, 4

    .bss
    .balign 4
    .global cb_buf
cb_buf:
    .space 64
