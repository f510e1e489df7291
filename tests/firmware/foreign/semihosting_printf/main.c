/* Prints through newlib's semihosting printf (rdimon) and returns EXIT_CODE (make EXIT_CODE=n; default 0), which
 * exit() hands to the debugger with semihosting SYS_EXIT. */
#include <stdio.h>

extern void initialise_monitor_handles(void);

int main(void)
{
    initialise_monitor_handles();
    printf("semihosting_printf: hello from newlib\n");
    for (int i = 1; i <= 3; i++) {
        printf("semihosting_printf: line %d of 3\n", i);
    }
    fprintf(stderr, "semihosting_printf: to stderr\n");
    printf("semihosting_printf: exiting with %d\n", EXIT_CODE);
    return EXIT_CODE;
}
