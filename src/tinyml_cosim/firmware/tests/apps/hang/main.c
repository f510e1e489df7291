/* Spins forever in a known function without console or protocol traffic: the watchdog must catch it there. */
#include <stdint.h>

#include "cosim.h"

volatile uint32_t spin_counter;

__attribute__((noinline)) void spin_forever(void)
{
    for (;;) spin_counter++;
}

int main(void)
{
    cosim_puts("hang: entering spin_forever\n");
    spin_forever();
    return 0;
}
