/* Vendor-style start-up (as startup_stm32f405xx.s, in C): vector table, .data copy, .bss clear, main().
 * Every exception without its own handler falls into Default_Handler's endless loop, as in the vendor's file. */
#include <stdint.h>

extern uint32_t _estack, _sidata, _sdata, _edata, _sbss, _ebss;
extern int main(void);

void Reset_Handler(void);
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

/* Plain labels, not functions (no .thumb_func): the linker sets no Thumb bit in a vector that names them, which is
 * what a hand-written table with `.word label` in a file lacking `.thumb_func` gets wrong. */
__asm__(
    ".section .text.even_labels,\"ax\",%progbits\n"
    ".thumb\n"
    ".global even_Reset_Handler, even_HardFault_Handler\n"
    "even_Reset_Handler: b Reset_Handler\n"
    ".balign 4\n"
    "even_HardFault_Handler: b Default_Handler\n");
extern char even_Reset_Handler[], even_HardFault_Handler[];
#if defined(VECTOR_even_reset)
#define RESET_VECTOR ((void (*)(void))even_Reset_Handler)
#else
#define RESET_VECTOR Reset_Handler
#endif
#if defined(VECTOR_even_hardfault)
#define HARDFAULT_VECTOR ((void (*)(void))even_HardFault_Handler)
#elif defined(VECTOR_outside_hardfault)
#define HARDFAULT_VECTOR ((void (*)(void))0x30000001u)
#else
#define HARDFAULT_VECTOR HardFault_Handler
#endif
#if defined(VECTOR_bad_sp)
#define SP_VECTOR ((void (*)(void))0x30000000u)
#else
#define SP_VECTOR ((void (*)(void)) & _estack)
#endif

__attribute__((section(".isr_vector"), used)) void (*const g_pfnVectors[16])(void) = {
    SP_VECTOR,
    RESET_VECTOR,
    NMI_Handler,
    HARDFAULT_VECTOR,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    0,
    0,
    0,
    0,
    SVC_Handler,
    DebugMon_Handler,
    0,
    PendSV_Handler,
    SysTick_Handler,
};

void Reset_Handler(void)
{
    for (uint32_t *src = &_sidata, *dst = &_sdata; dst < &_edata;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &_sbss; dst < &_ebss;) {
        *dst++ = 0;
    }
    main();
    for (;;) {
    }
}

void Default_Handler(void)
{
    for (;;) {
    }
}
