/* A vendor-style firmware that never exits: it prints a heartbeat forever. Runs to an instruction budget, and
 * `--measure heartbeat_delay` counts each call of its delay function without any help from the firmware. */
#include "../../common/vendor.h"

__attribute__((noinline)) void heartbeat_delay(void)
{
    for (volatile uint32_t i = 0; i < 100000u; i++) {
    }
}

void reset_handler(void)
{
    vendor_uart_init();
    vendor_put("vendor firmware up\r\n");
    for (;;) {
        heartbeat_delay();
        vendor_put("heartbeat\r\n");
    }
}
