/* A HAL-shaped clock set-up, as STM32CubeMX generates it: HAL_Init starts a 1 ms SysTick, SystemClock_Config
 * turns on HSE and waits for HSERDY with HAL's own 100 ms timeout (HSE_STARTUP_TIMEOUT). QEMU does not model RCC:
 * HSERDY never comes, the timeout fires and the firmware ends in Error_Handler, as a CubeMX project does. */
#include <stdint.h>

#define RCC_CR (*(volatile uint32_t *)0x40023800u)
#define RCC_CR_HSEON (1u << 16)
#define RCC_CR_HSERDY (1u << 17)
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define HSE_STARTUP_TIMEOUT 100u
#define HSI_VALUE 16000000u

typedef enum { HAL_OK = 0, HAL_ERROR = 1, HAL_BUSY = 2, HAL_TIMEOUT = 3 } HAL_StatusTypeDef;

static volatile uint32_t uwTick;
uint32_t SystemCoreClock = HSI_VALUE;

void SysTick_Handler(void) { uwTick++; }

__attribute__((noinline)) uint32_t HAL_GetTick(void) { return uwTick; }

__attribute__((noinline)) HAL_StatusTypeDef HAL_Init(void)
{
    SYST_RVR = SystemCoreClock / 1000u - 1u;
    SYST_CVR = 0;
    SYST_CSR = 7u; /* processor clock, interrupt, enable */
    return HAL_OK;
}

__attribute__((noinline)) HAL_StatusTypeDef HAL_RCC_OscConfig(void)
{
    RCC_CR |= RCC_CR_HSEON;
    uint32_t tickstart = HAL_GetTick();
    while ((RCC_CR & RCC_CR_HSERDY) == 0u) {
        if (HAL_GetTick() - tickstart > HSE_STARTUP_TIMEOUT) {
            return HAL_TIMEOUT;
        }
    }
    return HAL_OK;
}

__attribute__((noinline)) void Error_Handler(void)
{
    __asm volatile("cpsid i" ::: "memory");
    for (;;) {
    }
}

__attribute__((noinline)) void SystemClock_Config(void)
{
    if (HAL_RCC_OscConfig() != HAL_OK) {
        Error_Handler();
    }
}

int main(void)
{
    HAL_Init();
    SystemClock_Config();
    for (;;) {
    }
}
