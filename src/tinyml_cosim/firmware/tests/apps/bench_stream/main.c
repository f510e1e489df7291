/* Benchmark: a real-time sensor stream with a light workload. Stream 0 holds int16 samples at BENCH_RATE_HZ; the
 * firmware handles them in batches of BENCH_BATCH samples, as it would at a FIFO/DMA watermark interrupt: wait until
 * the batch's last sample exists (in simulated time), read the batch, compute its sum of squares.
 *
 * BENCH_WFI=1 waits the way real firmware does, asleep in WFI until a SysTick alarm (QEMU's -icount sleep=off then
 * skips the idle time); BENCH_WFI=0 polls the instruction counter, as firmware/tests/apps/data_sum does, so every
 * simulated nanosecond costs an emulated instruction. BENCH_SYSTICK_NUM/DEN is SysTick ticks per instruction
 * (QEMU: systick_hz / 1e9); an alarm that fires early only costs another round of the loop. */
#include <stdint.h>

#include "cosim.h"

#ifndef BENCH_RATE_HZ
#define BENCH_RATE_HZ 16000u
#endif
#ifndef BENCH_BATCH
#define BENCH_BATCH 256u
#endif
#ifndef BENCH_WFI
#define BENCH_WFI 1
#endif
#ifndef BENCH_SYSTICK_NUM
#define BENCH_SYSTICK_NUM 168u
#endif
#ifndef BENCH_SYSTICK_DEN
#define BENCH_SYSTICK_DEN 1000u
#endif

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)

static int16_t batch[BENCH_BATCH];
static volatile uint32_t alarms;

void SysTick_Handler(void) { alarms++; }

/* Instruction count at which sample k exists (the host's RateStream.due). */
static uint64_t due(uint64_t k) { return (k * COSIM_CLOCK_HZ + BENCH_RATE_HZ - 1u) / BENCH_RATE_HZ; }

static void wait_until(uint64_t t)
{
#if BENCH_WFI
    for (;;) {
        uint64_t now = cosim_instructions();
        if (now >= t) break;
        uint64_t ticks = (t - now) * BENCH_SYSTICK_NUM / BENCH_SYSTICK_DEN + 1u;
        if (ticks > 0xFFFFFFu) ticks = 0xFFFFFFu;
        if (ticks < 2u) ticks = 2u;
        SYST_CSR = 0;
        SYST_RVR = (uint32_t)ticks - 1u;
        SYST_CVR = 0;
        SYST_CSR = 7u; /* processor clock, interrupt, enable; periodic, so a lost race only delays by one period */
        __asm__ volatile("wfi" ::: "memory");
    }
    SYST_CSR = 0;
#else
    while (cosim_instructions() < t) {
    }
#endif
}

int main(void)
{
    if (!cosim_has_data_channel()) {
        cosim_puts("bench_stream: no data channel\n");
        return 2;
    }
    cosim_read_info_t info = {0, 0, 0};
    uint64_t energy = 0;
    uint32_t samples = 0, batches = 0;
    cosim_mark("start", 0);
    while (!(info.flags & COSIM_READ_END_OF_STREAM)) {
        wait_until(due((uint64_t)samples + BENCH_BATCH - 1u));
        int32_t n = cosim_read(0, batch, sizeof batch, &info);
        if (n < 0) {
            cosim_puts("bench_stream: read failed\n");
            return 3;
        }
        for (int32_t i = 0; i < n / 2; i++) energy += (uint64_t)((int32_t)batch[i] * (int32_t)batch[i]);
        samples += (uint32_t)n / 2u;
        batches++;
        if (info.dropped) return 4;
    }
    cosim_mark("samples", (int32_t)samples);
    cosim_mark("batches", (int32_t)batches);
    cosim_mark("energy", (int32_t)(energy >> 16));
    cosim_mark("alarms", (int32_t)alarms);
    return 0;
}
