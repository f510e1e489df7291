/* Runs past the 32-bit wrap of TIM2 (2^32 instructions) and checks that the 64-bit time never goes backwards
 * and lands where the instruction count says. */
#include <stdint.h>

#include "cosim.h"

int main(void)
{
    uint64_t prev = cosim_instructions(), target = (1ull << 32) + (1ull << 28);
    uint32_t backwards = 0, marks = 0;
    while (prev < target) {
        uint64_t now = cosim_instructions();
        if (now < prev) backwards++;
        if ((now >> 30) != (prev >> 30)) cosim_mark("gib", (int32_t)(++marks));
        prev = now;
    }
    cosim_mark("backwards", (int32_t)backwards);
    return backwards ? 1 : 0;
}
