/* A slice of ST's HAL: the tick the application reads. Vendor HAL code, whatever directory the project keeps. */
#include <stdint.h>

static volatile uint32_t uwTick;

void HAL_IncTick(void)
{
    uwTick++;
}

uint32_t HAL_GetTick(void)
{
    return uwTick;
}
