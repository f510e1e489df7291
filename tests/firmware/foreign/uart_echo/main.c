/* Reads lines from USART1 (polling RXNE, as a HAL_UART_Receive loop does) and answers each:
 *   "exit N"  -> exit(N)
 *   "crash"   -> crash_now(): an undefined instruction, a UsageFault escalated to HardFault (Default_Handler loop)
 *   otherwise -> "echo: <line>"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USART1_SR (*(volatile uint32_t *)0x40011000u)
#define USART1_DR (*(volatile uint32_t *)0x40011004u)
#define USART1_CR1 (*(volatile uint32_t *)0x4001100Cu)
#define USART_SR_RXNE (1u << 5)

static void uart_init(void)
{
    USART1_CR1 = (1u << 13) | (1u << 3) | (1u << 2); /* UE, TE, RE */
}

static char uart_getc(void)
{
    while (!(USART1_SR & USART_SR_RXNE)) {
    }
    return (char)USART1_DR;
}

__attribute__((noinline)) void crash_now(void)
{
    __builtin_trap();
}

int main(void)
{
    char line[64];
    size_t n = 0;
    setvbuf(stdout, NULL, _IONBF, 0);
    uart_init();
    printf("uart_echo: ready\r\n");
    for (;;) {
        char c = uart_getc();
        if (c == '\r') {
            continue;
        }
        if (c != '\n' && n < sizeof line - 1) {
            line[n++] = c;
            continue;
        }
        line[n] = '\0';
        n = 0;
        if (strncmp(line, "exit ", 5) == 0) {
            printf("uart_echo: exiting with %d\r\n", atoi(line + 5));
            exit(atoi(line + 5));
        }
        if (strcmp(line, "crash") == 0) {
            printf("uart_echo: crashing\r\n");
            crash_now();
        }
        printf("echo: %s\r\n", line);
    }
}
