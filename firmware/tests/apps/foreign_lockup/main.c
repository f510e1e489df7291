/* A fault inside the HardFault handler: the core cannot escalate and locks up (QEMU aborts with "Lockup"). */
#include <stdint.h>

void reset_handler(void);
void broken_hardfault(void);
__attribute__((naked)) void Default_Handler(void) { __asm__ volatile("b ."); }

__attribute__((section(".vectors"), used)) const void *const vectors[16] = {
    (void *)0x20020000u, (void *)reset_handler, (void *)Default_Handler, (void *)broken_hardfault,
    (void *)Default_Handler, (void *)Default_Handler, (void *)Default_Handler,
};

__attribute__((noinline)) void broken_hardfault(void) { __asm__ volatile("udf #1"); }

__attribute__((noinline)) void trigger(void) { __asm__ volatile("udf #0"); }

void reset_handler(void)
{
    trigger();
    for (;;) {
    }
}
