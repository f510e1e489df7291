/* A vendor-style console that waits for a key: it prompts over USART1, then polls USART1_SR.RXNE until a byte
 * arrives. QEMU models USART1, so nothing unimplemented is read: only the loop itself says the firmware is stuck. */
#include <stdint.h>

#define USART1_SR (*(volatile uint32_t *)0x40011000u)
#define USART1_DR (*(volatile uint32_t *)0x40011004u)
#define USART1_CR1 (*(volatile uint32_t *)0x4001100Cu)
#define USART_SR_RXNE (1u << 5)
#define USART_SR_TXE (1u << 7)

static void uart_puts(const char *s)
{
    for (; *s; s++) {
        while (!(USART1_SR & USART_SR_TXE)) {
        }
        USART1_DR = (uint8_t)*s;
    }
}

__attribute__((noinline)) char uart_getc(void)
{
    while (!(USART1_SR & USART_SR_RXNE)) {
    }
    return (char)USART1_DR;
}

int main(void)
{
    USART1_CR1 = (1u << 13) | (1u << 3) | (1u << 2); /* UE, TE, RE */
    uart_puts("usart_rx_poll: press a key\r\n");
    char c = uart_getc();
    uart_puts("usart_rx_poll: got ");
    char echo[2] = {c, 0};
    uart_puts(echo);
    uart_puts("\r\n");
    return 0;
}
