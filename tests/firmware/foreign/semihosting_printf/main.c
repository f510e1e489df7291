/* Prints through newlib's semihosting printf (rdimon) and returns EXIT_CODE (make EXIT_CODE=n; default 0), which
 * exit() hands to the debugger with semihosting SYS_EXIT. `make STACK_BYTES=n` (default 0: none) also fills and sums
 * an n-byte buffer on the stack, for the stack high-water mark of a firmware that exits through semihosting. */
#include <stdio.h>

extern void initialise_monitor_handles(void);

#if STACK_BYTES > 0
__attribute__((noinline)) static unsigned deep(void)
{
    volatile unsigned char buffer[STACK_BYTES];
    unsigned sum = 0;
    for (unsigned i = 0; i < sizeof buffer; i++) {
        buffer[i] = (unsigned char)i;
    }
    for (unsigned i = 0; i < sizeof buffer; i++) {
        sum += buffer[i];
    }
    return sum;
}
#endif

int main(void)
{
    initialise_monitor_handles();
    printf("semihosting_printf: hello from newlib\n");
    for (int i = 1; i <= 3; i++) {
        printf("semihosting_printf: line %d of 3\n", i);
    }
    fprintf(stderr, "semihosting_printf: to stderr\n");
#if STACK_BYTES > 0
    printf("semihosting_printf: %u bytes on the stack sum to %u\n", (unsigned)STACK_BYTES, deep());
#endif
    printf("semihosting_printf: exiting with %d\n", EXIT_CODE);
    return EXIT_CODE;
}
