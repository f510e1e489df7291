/* Reads stream 0 to its end through the data channel and reports the byte count and a checksum (FNV-1a), so the
 * host can check that every byte arrived in order. Paced by next_due like a real acquisition loop. */
#include <stdint.h>

#include "cosim.h"

static uint8_t buf[2048];

int main(void)
{
    uint32_t hash = 2166136261u, total = 0;
    cosim_read_info_t info = {0, 0, 0};
    while (!(info.flags & COSIM_READ_END_OF_STREAM)) {
        /* wait (in simulated time) until the next sample exists, as a timer-paced loop would */
        while (info.next_due != UINT64_MAX && cosim_instructions() < info.next_due) {
        }
        int32_t n = cosim_read(0, buf, sizeof buf, &info);
        if (n < 0) {
            cosim_puts("data_sum: no data channel\n");
            return 2;
        }
        for (int32_t i = 0; i < n; i++) hash = (hash ^ buf[i]) * 16777619u;
        total += (uint32_t)n;
    }
    cosim_mark("bytes", (int32_t)total);
    cosim_mark("fnv1a", (int32_t)hash);
    return 0;
}
