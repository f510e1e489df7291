/* main.h — as STM32CubeMX generates it for an STM32F405RG project. */
#ifndef __MAIN_H
#define __MAIN_H
#include "stm32f4xx_hal.h"
void Error_Handler(void);
#endif
