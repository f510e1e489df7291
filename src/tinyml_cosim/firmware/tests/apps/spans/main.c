/* Nested spans around fixed work, and an empty span whose count is the spans' own overhead. */
#include <stdint.h>

#include "cosim.h"

volatile uint32_t sink;

__attribute__((noinline)) void work(uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) sink += i;
}

int main(void)
{
    cosim_span_begin("empty");
    cosim_span_end();
    cosim_span_begin("outer");
    work(1000);
    cosim_span_begin("inner");
    work(5000);
    cosim_span_end();
    cosim_span_end();
    cosim_decision("normal", 97);
    return 0;
}
