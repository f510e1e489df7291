/* Start-up code in the style of a vendor's startup_stm32f405xx.s, in C, shared by the vendor-way test firmwares:
 * the vector table, .data copy, .bss clear, then
 * - STARTUP_NEWLIB=1 (firmwares linked with newlib's rdimon/nosys syscalls): SystemInit (FPU access, as the
 *   vendor's system_stm32f4xx.c), static constructors, exit(main());
 * - STARTUP_NEWLIB=0 (bare, -nostartfiles): main(), then an endless loop.
 * Every unused exception falls into Default_Handler's endless loop, as in the vendor's file. A firmware that needs
 * another vector table (even_vector, lis2dw12_shake) or a CMSIS SystemInit (cpp_virtual) keeps its own start-up. */
#include <stdint.h>
#if STARTUP_NEWLIB
#include <stdlib.h>
#endif

extern uint32_t _estack, _sidata, _sdata, _edata, _sbss, _ebss;
extern int main(void);
#if STARTUP_NEWLIB
extern void __libc_init_array(void);
#endif

void Reset_Handler(void);
void SystemInit(void);
void Default_Handler(void);
void NMI_Handler(void) __attribute__((weak, alias("Default_Handler")));
void HardFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void MemManage_Handler(void) __attribute__((weak, alias("Default_Handler")));
void BusFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void UsageFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SVC_Handler(void) __attribute__((weak, alias("Default_Handler")));
void DebugMon_Handler(void) __attribute__((weak, alias("Default_Handler")));
void PendSV_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SysTick_Handler(void) __attribute__((weak, alias("Default_Handler")));

__attribute__((section(".isr_vector"), used)) void (*const g_pfnVectors[16])(void) = {
    (void (*)(void))&_estack, Reset_Handler,     NMI_Handler,      HardFault_Handler,
    MemManage_Handler,        BusFault_Handler,  UsageFault_Handler, 0,
    0,                        0,                 0,                SVC_Handler,
    DebugMon_Handler,         0,                 PendSV_Handler,   SysTick_Handler,
};

#if STARTUP_NEWLIB
/* As the vendor's system_stm32f4xx.c: without CP10/CP11 access the first FPU instruction (newlib's printf has
 * some) is a UsageFault. */
void SystemInit(void)
{
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20; /* SCB->CPACR: full access to CP10, CP11 */
    __asm__ volatile("dsb\n isb" ::: "memory");
}
#endif

void Reset_Handler(void)
{
#if STARTUP_NEWLIB
    SystemInit();
#endif
    for (uint32_t *src = &_sidata, *dst = &_sdata; dst < &_edata;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &_sbss; dst < &_ebss;) {
        *dst++ = 0;
    }
#if STARTUP_NEWLIB
    __libc_init_array();
    exit(main());
#else
    main();
    for (;;) {
    }
#endif
}

void Default_Handler(void)
{
    for (;;) {
    }
}
