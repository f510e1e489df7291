/* Console output through every path a vendor project uses, alternating: USART1 (polled), newlib's rdimon printf
 * (SYS_WRITE to the ":tt" stdout handle), raw SYS_WRITE0 and SYS_WRITEC, and stderr (":tt" opened for append).
 * The host must show the lines in exactly this order. */
#include <stdint.h>
#include <stdio.h>

#define USART1_SR (*(volatile uint32_t *)0x40011000u)
#define USART1_DR (*(volatile uint32_t *)0x40011004u)
#define USART1_CR1 (*(volatile uint32_t *)0x4001100Cu)

extern void initialise_monitor_handles(void);

static void uart_puts(const char *s)
{
    for (; *s; s++) {
        while (!(USART1_SR & (1u << 7))) {
        }
        USART1_DR = (uint8_t)*s;
    }
}

static int semihost(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return (int)r0;
}

int main(void)
{
    USART1_CR1 = (1u << 13) | (1u << 3);
    initialise_monitor_handles();
    setvbuf(stdout, NULL, _IONBF, 0);
    for (int i = 1; i <= 3; i++) {
        uart_puts("usart: line\r\n");
        printf("printf: line %d\n", i);
    }
    semihost(0x04, "write0: line\n"); /* SYS_WRITE0 */
    uart_puts("usart: after write0\r\n");
    for (const char *s = "writec: line\n"; *s; s++) {
        semihost(0x03, s); /* SYS_WRITEC */
    }
    fprintf(stderr, "stderr: line\n");
    uart_puts("usart: last\r\n");
    return 0;
}
