/* Programs one word of flash the way HAL_FLASH_Program does on the STM32F4 (unlock FLASH_KEYR, PG in FLASH_CR,
 * write, wait for BSY), reads it back and stops in Error_Handler when the word did not change. */
#include <stdint.h>

#define FLASH_KEYR (*(volatile uint32_t *)0x40023C04u)
#define FLASH_SR (*(volatile uint32_t *)0x40023C0Cu)
#define FLASH_CR (*(volatile uint32_t *)0x40023C10u)
#define FLASH_CR_PG (1u << 0)
#define FLASH_CR_PSIZE_WORD (2u << 8)
#define FLASH_SR_BSY (1u << 16)
#define SETTINGS_ADDR 0x080E0000u /* sector 11 */

volatile uint32_t status;

__attribute__((noinline)) void HAL_FLASH_Unlock(void)
{
    FLASH_KEYR = 0x45670123u;
    FLASH_KEYR = 0xCDEF89ABu;
}

__attribute__((noinline)) int HAL_FLASH_Program(uint32_t address, uint32_t data)
{
    FLASH_CR |= FLASH_CR_PSIZE_WORD | FLASH_CR_PG;
    *(volatile uint32_t *)address = data;
    while (FLASH_SR & FLASH_SR_BSY) {
    }
    FLASH_CR &= ~FLASH_CR_PG;
    return *(volatile uint32_t *)address == data ? 0 : 1;
}

__attribute__((noinline)) void Error_Handler(void)
{
    __asm volatile("cpsid i" ::: "memory");
    for (;;) {
    }
}

int main(void)
{
    HAL_FLASH_Unlock();
    status = (uint32_t)HAL_FLASH_Program(SETTINGS_ADDR, 0x12345678u);
    if (status != 0u) {
        Error_Handler();
    }
    for (;;) {
    }
}
