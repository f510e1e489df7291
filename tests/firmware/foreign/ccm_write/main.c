/* A buffer placed in CCM RAM (.ccmram, as CubeMX projects do for fast data): the STM32F405 has 64 KiB there, at
 * 0x10000000. Writing it faults on an engine that does not map CCM. */
#include <stdint.h>

__attribute__((section(".ccmram"))) volatile uint32_t ccm_buffer[64];

__attribute__((noinline)) void fill_ccm(void)
{
    for (uint32_t i = 0; i < 64u; i++) {
        ccm_buffer[i] = i;
    }
}

int main(void)
{
    fill_ccm();
    for (;;) {
    }
}
