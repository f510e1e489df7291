/* A polled I2C master for the STM32F4's I2C1 (RM0090 section 27, the "v1" I2C), register level. */
#ifndef I2C_MASTER_H
#define I2C_MASTER_H

#include <stdint.h>

void i2c1_init(void);
/* START, address + W, reg, the bytes, STOP. 0 on success, -1 on a NACK or a flag that never came. */
int32_t i2c1_write(uint8_t addr7, uint8_t reg, const uint8_t *buf, uint16_t len);
/* START, address + W, reg, repeated START, address + R, one byte, STOP. */
int32_t i2c1_read_byte(uint8_t addr7, uint8_t reg, uint8_t *out);

#endif
