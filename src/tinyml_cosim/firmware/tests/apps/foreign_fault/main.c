/* Like vendor start-up code: every exception lands in a `b .` loop, nothing reports anything. The engine itself
 * must find out that the core is stuck in HardFault and where it came from (stacked PC, CFSR, BFAR). */
#include "../../common/vendor.h"

__attribute__((noinline)) uint32_t sensor_read(void) { return *(volatile uint32_t *)0x60000000u; }

void reset_handler(void)
{
    vendor_uart_init();
    vendor_put("vendor firmware up\r\n");
    volatile uint32_t v = sensor_read();
    (void)v;
    for (;;) {
    }
}
