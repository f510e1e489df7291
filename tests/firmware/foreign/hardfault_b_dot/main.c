/* A bus fault escalated to HardFault, in firmware whose HardFault_Handler is the vendor's `while (1) {}`: nothing
 * reports anything, the core spins in the handler for ever. The engine must stop it there at once, whatever budget
 * the run has, and say where the fault came from (stacked PC, CFSR, BFAR). */
#include <stdint.h>
#include <stdio.h>

extern void initialise_monitor_handles(void);

void HardFault_Handler(void)
{
    for (;;) {
    }
}

__attribute__((noinline)) uint32_t read_sensor(void) { return *(volatile uint32_t *)0x60000000u; /* FSMC: unmapped */ }

int main(void)
{
    initialise_monitor_handles();
    printf("hardfault_b_dot: reading the sensor\n");
    volatile uint32_t v = read_sensor();
    (void)v;
    printf("hardfault_b_dot: not reached\n");
    return 0;
}
