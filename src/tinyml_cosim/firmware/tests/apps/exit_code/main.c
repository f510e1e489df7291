/* Exits with a fixed, non-zero code: the host must report it as the firmware's own exit code. */
#include "cosim.h"

int main(void)
{
    cosim_puts("exit_code: exiting with 3\n");
    return 3;
}
