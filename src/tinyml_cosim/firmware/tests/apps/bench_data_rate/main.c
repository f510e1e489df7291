/* Benchmark: host->firmware data-channel throughput. Reads stream 0 (int16 samples, all due at once) in batches of
 * BENCH_BATCH_BYTES until the end of the stream and does nothing else with them. MARK "start" (after the channel is
 * open) and MARK "samples" (at the end) bracket the transfer for the host's console timestamps. */
#include <stdint.h>

#include "cosim.h"

#ifndef BENCH_BATCH_BYTES
#define BENCH_BATCH_BYTES 4096u
#endif

static int16_t buf[BENCH_BATCH_BYTES / 2];

int main(void)
{
    if (!cosim_has_data_channel()) {
        cosim_puts("bench_data_rate: no data channel\n");
        return 2;
    }
    cosim_read_info_t info = {0, 0, 0};
    uint32_t bytes = 0, reads = 0;
    cosim_mark("start", 0);
    while (!(info.flags & COSIM_READ_END_OF_STREAM)) {
        int32_t n = cosim_read(0, buf, sizeof buf, &info);
        if (n < 0) {
            cosim_puts("bench_data_rate: read failed\n");
            return 3;
        }
        bytes += (uint32_t)n;
        reads++;
    }
    cosim_mark("samples", (int32_t)(bytes / 2u));
    cosim_mark("reads", (int32_t)reads);
    return 0;
}
