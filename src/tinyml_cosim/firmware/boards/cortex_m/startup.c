/* SPDX-License-Identifier: MIT
 * Startup for the project's firmware on Cortex-M3/M4 STM32 parts: vector table at the start of flash, .data/.bss
 * initialisation, stack painting (for the high-water mark), FPU enable where present, configurable fault traps.
 */
#include <stdint.h>

#include "cosim.h"

extern uint32_t _sidata[], _sdata[], _edata[], _sbss[], _ebss[];
extern uint32_t __cosim_stack_bottom[], __cosim_stack_top[];
extern int main(void);

void Reset_Handler(void);
void Default_Handler(void);
void HardFault_Handler(void);
void MemManage_Handler(void);
void BusFault_Handler(void);
void UsageFault_Handler(void);
#define WEAK_DEFAULT __attribute__((weak, alias("Default_Handler")))
void NMI_Handler(void) WEAK_DEFAULT;
void SVC_Handler(void) WEAK_DEFAULT;
void DebugMon_Handler(void) WEAK_DEFAULT;
void PendSV_Handler(void) WEAK_DEFAULT;
void SysTick_Handler(void) WEAK_DEFAULT;
void TIM3_IRQHandler(void) WEAK_DEFAULT; /* used by firmware/tests/apps/alarm_probe */

#ifndef COSIM_IRQ_COUNT
#define COSIM_IRQ_COUNT 82 /* STM32F405: 82 maskable interrupts */
#endif

/* Specific handlers override the range default below, on purpose. */
#pragma GCC diagnostic ignored "-Woverride-init"
typedef void (*vector_t)(void);
__attribute__((section(".isr_vector"), used)) const vector_t cosim_vectors[16 + COSIM_IRQ_COUNT] = {
    [0] = (vector_t)(uintptr_t)__cosim_stack_top,
    [1] = Reset_Handler,
    [2] = NMI_Handler,
    [3] = HardFault_Handler,
    [4] = MemManage_Handler,
    [5] = BusFault_Handler,
    [6] = UsageFault_Handler,
    [11] = SVC_Handler,
    [12] = DebugMon_Handler,
    [14] = PendSV_Handler,
    [15] = SysTick_Handler,
    [16 ... 16 + COSIM_IRQ_COUNT - 1] = Default_Handler,
    [16 + COSIM_TIMEBASE_IRQ] = COSIM_TIMEBASE_HANDLER,
    [16 + COSIM_SERVICE_IRQ] = COSIM_SERVICE_HANDLER,
    [16 + 29] = TIM3_IRQHandler,
};

/* An interrupt nobody handles is a bug: report it like a fault instead of spinning silently. */
__attribute__((naked)) void Default_Handler(void)
{
    __asm__ volatile(
        "tst lr, #4\n"
        "ite eq\n"
        "mrseq r0, msp\n"
        "mrsne r0, psp\n"
        "mov r1, lr\n"
        "b cosim_fault_report\n");
}
__attribute__((naked)) void HardFault_Handler(void) { __asm__ volatile("b Default_Handler\n"); }
__attribute__((naked)) void MemManage_Handler(void) { __asm__ volatile("b Default_Handler\n"); }
__attribute__((naked)) void BusFault_Handler(void) { __asm__ volatile("b Default_Handler\n"); }
__attribute__((naked)) void UsageFault_Handler(void) { __asm__ volatile("b Default_Handler\n"); }

#define SCB_CCR (*(volatile uint32_t *)0xE000ED14u)
#define SCB_SHCSR (*(volatile uint32_t *)0xE000ED24u)
#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define COSIM_STACK_PAINT_WORD 0xC0511A7Eu

__attribute__((noreturn, used)) void Reset_Handler(void)
{
#if defined(__ARM_FP)
    /* First: with -mfloat-abi=hard the compiler may use FP registers for any 64-bit copy, even in startup code. */
    SCB_CPACR |= (0xFu << 20); /* CP10, CP11 full access */
    __asm__ volatile("dsb\n isb" ::: "memory");
#endif
    cosim_timebase_start(); /* firmware time starts with the CPU (a handful of instructions after reset) */
    for (uint32_t *src = _sidata, *dst = _sdata; dst < _edata;) *dst++ = *src++;
    for (uint32_t *dst = _sbss; dst < _ebss;) *dst++ = 0;
    /* Paint the stack below the current frame so cosim_exit can report the high-water mark. */
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (uint32_t *p = __cosim_stack_bottom; p < sp - 16; p++) *p = COSIM_STACK_PAINT_WORD;
    SCB_SHCSR |= (1u << 16) | (1u << 17) | (1u << 18); /* MemManage, BusFault, UsageFault as their own handlers */
    SCB_CCR |= (1u << 4);                              /* DIV_0_TRP: integer division by zero traps */
    cosim_init();
    cosim_exit(main());
}
