/* Executes a permanently undefined instruction in a known function: UsageFault, CFSR.UNDEFINSTR. */
#include "cosim.h"

__attribute__((noinline)) void execute_undefined(void) { __asm__ volatile("udf #0"); }

int main(void)
{
    cosim_puts("fault_undef: about to execute UDF\n");
    execute_undefined();
    return 0;
}
