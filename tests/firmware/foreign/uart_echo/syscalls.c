/* newlib's system calls the way CubeMX's syscalls.c retargets them: _write to USART1 (polled), and _exit — which
 * CubeMX leaves as an endless loop — through semihosting SYS_EXIT_EXTENDED, so that a debugger sees the code. */
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
    /* ADP_Stopped_ApplicationExit (0x20026) and the exit code, for SYS_EXIT_EXTENDED (0x20). */
    volatile uint32_t block[2] = {0x20026u, (uint32_t)status};
    register uint32_t r0 __asm__("r0") = 0x20u;
    register volatile uint32_t *r1 __asm__("r1") = block;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    for (;;) {
    }
}
