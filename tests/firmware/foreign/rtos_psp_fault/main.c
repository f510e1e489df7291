/* An RTOS-style task on the process stack (CONTROL.SPSEL = 1, PSP at the top of its own stack array) that
 * writes to an address with nothing behind it: the BusFault escalates to HardFault, whose handler spins. The
 * exception frame is on the PSP, not on the main stack. */
#include <stdint.h>

#define TASK_STACK_WORDS 256u
static uint32_t task_stack[TASK_STACK_WORDS] __attribute__((aligned(8)));

__attribute__((noinline)) void sensor_write(uint32_t value) { *(volatile uint32_t *)0x60000000u = value; }

__attribute__((noinline)) void vSensorTask(void)
{
    for (uint32_t i = 0;; i++) {
        sensor_write(i);
    }
}

__attribute__((noinline)) void start_first_task(void)
{
    uint32_t top = (uint32_t)&task_stack[TASK_STACK_WORDS];
    __asm volatile(
        "msr psp, %0\n"
        "movs r0, #2\n"
        "msr control, r0\n" /* thread mode now uses PSP */
        "isb\n"
        "bl vSensorTask\n" ::"r"(top)
        : "r0", "lr", "memory");
}

int main(void)
{
    start_first_task();
    return 0;
}
