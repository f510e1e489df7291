/* Unbounded recursion on the main stack: SP runs below the start of RAM (0x20000000) and the next push faults. */
#include <stdint.h>

__attribute__((noinline)) uint32_t descend(uint32_t depth)
{
    volatile uint32_t frame[16];
    frame[depth % 16u] = depth;
    if (depth == 0xFFFFFFFFu) { /* never: keeps the compiler from calling the recursion infinite */
        return 0;
    }
    return descend(depth + 1u) + frame[(depth + 3u) % 16u];
}

int main(void) { return (int)descend(0); }
