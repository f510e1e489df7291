/* A vendor-style firmware that never exits: it prints a heartbeat forever. Runs to an instruction budget. */
#include "../../common/vendor.h"

void reset_handler(void)
{
    vendor_uart_init();
    vendor_put("vendor firmware up\r\n");
    for (;;) {
        for (volatile uint32_t i = 0; i < 100000u; i++) {
        }
        vendor_put("heartbeat\r\n");
    }
}
