/* Host test of cosim_time_extend under both engines' TIM2 semantics (built and run by tests/test_time_extension.py).
 *
 * Model: the true instruction count t advances; the raw counter reads t mod 2^32. Samples happen
 *  - at TIM2 update interrupts: QEMU 7.2 raises one at CNT == ARR (one tick before the first wrap) and no more
 *    (its model re-arms only on a CNT/ARR write); Renode and silicon raise one at every wrap (period 2^32);
 *  - at the service alarm, every `service` ticks;
 *  - at pseudo-random application reads.
 * Every sample must return exactly t. Exit status 0 on success; prints the first failure. */
#include <stdint.h>
#include <stdio.h>

#include "cosim_time.h"

static int run(const char *name, int renode, uint64_t service, uint64_t end, uint32_t seed)
{
    cosim_time_state_t st = {0};
    uint64_t t = 0, next_service = service, next_update = renode ? (1ull << 32) : 0xFFFFFFFFull;
    uint32_t x = seed;
    uint64_t samples = 0;
    while (t < end) {
        /* next event: update IRQ, service alarm, or an application read at a random distance */
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        uint64_t next_app = t + 1 + (x % (service * 3 / 2));
        uint64_t next = next_app;
        if (next_service < next) next = next_service;
        if (next_update < next) next = next_update;
        t = next;
        if (t == next_service) next_service += service;
        if (t == next_update) next_update = renode ? next_update + (1ull << 32) : UINT64_MAX;
        uint64_t got = cosim_time_extend(&st, (uint32_t)t);
        samples++;
        if (got != t) {
            printf("%s: at t=%llu got %llu\n", name, (unsigned long long)t, (unsigned long long)got);
            return 1;
        }
    }
    printf("%s: %llu samples over %llu wraps exact\n", name, (unsigned long long)samples,
           (unsigned long long)(end >> 32));
    return 0;
}

int main(void)
{
    int failures = 0;
    const uint64_t end = 5ull << 32; /* five wraps */
    failures += run("qemu, service 2^24", 0, 1ull << 24, end, 1);
    failures += run("renode, service 2^24", 1, 1ull << 24, end, 2);
    /* the service alarm alone, at the longest period the extension tolerates */
    failures += run("qemu, service 2^31", 0, 1ull << 31, end, 3);
    failures += run("renode, service 2^31", 1, 1ull << 31, end, 4);
    return failures ? 1 : 0;
}
