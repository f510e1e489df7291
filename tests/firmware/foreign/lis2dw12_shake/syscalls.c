/* newlib's _write retargeted to USART1 (polled), as CubeMX's syscalls.c does; _exit sleeps, as there is no host
 * to tell (Renode 1.16 has no semihosting exit). */
#include <stdint.h>

#define USART1_SR (*(volatile uint32_t *)0x40011000u)
#define USART1_DR (*(volatile uint32_t *)0x40011004u)
#define USART_SR_TXE (1u << 7)

int _write(int file, const char *ptr, int len)
{
    (void)file;
    for (int i = 0; i < len; i++) {
        while (!(USART1_SR & USART_SR_TXE)) {
        }
        USART1_DR = (uint8_t)ptr[i];
    }
    return len;
}

void _exit(int status)
{
    (void)status;
    for (;;) {
        __asm__ volatile("wfi");
    }
}
