/* Deliberately deep recursion, for the stack verdicts: the static analysis (-fstack-usage call graph) must report
 * the worst case as unknown (a cycle), and the painted-stack high-water mark must show how deep it really went.
 *
 * The depth comes from a volatile, so the compiler can neither bound the recursion nor turn it into a loop, and
 * each level keeps a 160-byte buffer live across the recursive call (so it is no tail call). At the default depth
 * the high-water mark is about 90 % of the 8 KiB stack reservation: above the default fail level, without running
 * off the end of RAM. */
#include <stdint.h>

#include "cosim.h"

#define FRAME_BYTES 160u

static volatile uint32_t depth = 43;

__attribute__((noinline)) static uint32_t descend(uint32_t n)
{
    volatile uint8_t frame[FRAME_BYTES];
    for (uint32_t i = 0; i < FRAME_BYTES; i++) frame[i] = (uint8_t)(n + i);
    if (n == 0) return frame[0];
    return descend(n - 1) + frame[n % FRAME_BYTES];
}

int main(void)
{
    uint32_t n = depth;
    uint32_t sum = descend(n);
    /* sum over levels k = 0..n of (k + k % 160) as uint8: checked so the result is used */
    uint32_t want = 0;
    for (uint32_t k = 0; k <= n; k++) want += (uint8_t)(k + (k == 0 ? 0 : k % FRAME_BYTES));
    cosim_puts(sum == want ? "deep_recursion: ok\n" : "deep_recursion: wrong sum\n");
    return sum == want ? 0 : 1;
}
