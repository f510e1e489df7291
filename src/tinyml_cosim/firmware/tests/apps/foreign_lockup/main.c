/* A fault inside the HardFault handler: the core cannot escalate and locks up (QEMU aborts with "Lockup"). */
void broken_hardfault(void);
#define VENDOR_HARDFAULT broken_hardfault
#include "../../common/vendor.h"

__attribute__((noinline)) void broken_hardfault(void) { __asm__ volatile("udf #1"); }

__attribute__((noinline)) void trigger(void) { __asm__ volatile("udf #0"); }

void reset_handler(void)
{
    trigger();
    for (;;) {
    }
}
