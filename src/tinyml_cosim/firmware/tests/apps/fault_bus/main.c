/* A precise data bus error: a load from reserved address space (0x60000000 is FSMC bank 1, not populated on
 * the STM32F405 boards and not mapped by QEMU). CFSR.PRECISERR with BFAR = the address. */
#include <stdint.h>

#include "cosim.h"

__attribute__((noinline)) uint32_t read_unmapped(void) { return *(volatile uint32_t *)0x60000000u; }

int main(void)
{
    cosim_puts("fault_bus: reading 0x60000000\n");
    return (int)read_unmapped();
}
