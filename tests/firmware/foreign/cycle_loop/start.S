/* Every block of this firmware has a known shape, so the tests can work the cycle profile out by hand:
 *   0x08000010 Reset_Handler: load the loop count (a literal in flash), branch to the loop (2 instructions);
 *   0x08000020 loop: `subs; bne` — one 16-byte flash line, LOOPS rounds (LOOPS - 1 taken branches);
 *   then: one read of TIM2 CNT (0x40000024), a polling loop of POLLS reads of it at one pc, one more read at
 *   another pc, and a semihosting SYS_EXIT (ADP_Stopped_ApplicationExit). */
    .syntax unified
    .thumb

    .section .isr_vector, "a"
    .word _estack
    .word Reset_Handler + 1
    .word Default_Handler + 1 /* NMI */
    .word Default_Handler + 1 /* HardFault */

    .text
    .balign 16
    .global Reset_Handler
    .type Reset_Handler, %function
Reset_Handler:
    ldr r0, loops_word /* a literal load from flash */
    b.n loop

    .balign 16
    .global loop
    .type loop, %function
loop:
    subs r0, r0, #1
    bne.n loop

    .balign 16
    .global after
after:
    ldr r2, =0x40000024
    ldr r3, [r2]
    movs r4, #POLLS
    .global poll
poll:
    ldr r3, [r2]
    subs r4, r4, #1
    bne.n poll
    .global last_read
last_read:
    ldr r3, [r2]
    movs r0, #0x18
    ldr r1, =0x20026
    bkpt 0xab
    .global Default_Handler
    .type Default_Handler, %function
Default_Handler:
    b.n Default_Handler
    .balign 4
loops_word:
    .word LOOPS
    .ltorg
