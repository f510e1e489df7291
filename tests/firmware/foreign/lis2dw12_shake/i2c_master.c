/* I2C1 on PB6 (SCL) / PB7 (SDA), AF4, open drain; 100 kHz from a 42 MHz APB1 (RM0090 27.6). Every wait is bounded
 * so that a missing device or a stuck bus ends in an error the application prints, not in a silent hang. */
#include "i2c_master.h"

#define REG(addr) (*(volatile uint32_t *)(addr))
#define RCC_AHB1ENR REG(0x40023830u)
#define RCC_APB1ENR REG(0x40023840u)
#define GPIOB_MODER REG(0x40020400u)
#define GPIOB_OTYPER REG(0x40020404u)
#define GPIOB_AFRL REG(0x40020420u)
#define I2C1_CR1 REG(0x40005400u)
#define I2C1_CR2 REG(0x40005404u)
#define I2C1_DR REG(0x40005410u)
#define I2C1_SR1 REG(0x40005414u)
#define I2C1_SR2 REG(0x40005418u)
#define I2C1_CCR REG(0x4000541Cu)
#define I2C1_TRISE REG(0x40005420u)

#define CR1_PE (1u << 0)
#define CR1_START (1u << 8)
#define CR1_STOP (1u << 9)
#define CR1_ACK (1u << 10)
#define SR1_SB (1u << 0)
#define SR1_ADDR (1u << 1)
#define SR1_BTF (1u << 2)
#define SR1_RXNE (1u << 6)
#define SR1_TXE (1u << 7)
#define SR1_AF (1u << 10)
#define WAIT_LOOPS 100000u

void i2c1_init(void)
{
    RCC_AHB1ENR |= 1u << 1;                                     /* GPIOB */
    RCC_APB1ENR |= 1u << 21;                                    /* I2C1 */
    GPIOB_MODER = (GPIOB_MODER & ~(0xFu << 12)) | (0xAu << 12); /* PB6, PB7: alternate function */
    GPIOB_OTYPER |= (1u << 6) | (1u << 7);                      /* open drain */
    GPIOB_AFRL = (GPIOB_AFRL & ~(0xFFu << 24)) | (0x44u << 24); /* AF4 = I2C1 */
    I2C1_CR1 = 0;
    I2C1_CR2 = 42;   /* FREQ: APB1 at 42 MHz */
    I2C1_CCR = 210;  /* standard mode: 42 MHz / (2 * 100 kHz) */
    I2C1_TRISE = 43; /* 1000 ns rise time: 42 + 1 */
    I2C1_CR1 = CR1_PE;
}

static int wait_sr1(uint32_t mask)
{
    for (uint32_t i = 0; i < WAIT_LOOPS; i++) {
        uint32_t sr1 = I2C1_SR1;
        if (sr1 & SR1_AF) {
            I2C1_SR1 = ~SR1_AF;
            return -1;
        }
        if (sr1 & mask) {
            return 0;
        }
    }
    return -1;
}

static int32_t fail(void)
{
    I2C1_CR1 |= CR1_STOP;
    return -1;
}

/* START and the address byte; ADDR is left set for the caller to clear (reading SR1 then SR2). */
static int start_address(uint8_t addr_byte)
{
    I2C1_CR1 |= CR1_START;
    if (wait_sr1(SR1_SB)) {
        return -1;
    }
    I2C1_DR = addr_byte;
    return wait_sr1(SR1_ADDR);
}

int32_t i2c1_write(uint8_t addr7, uint8_t reg, const uint8_t *buf, uint16_t len)
{
    if (start_address((uint8_t)(addr7 << 1))) {
        return fail();
    }
    (void)I2C1_SR1;
    (void)I2C1_SR2;
    if (wait_sr1(SR1_TXE)) {
        return fail();
    }
    I2C1_DR = reg;
    for (uint16_t i = 0; i < len; i++) {
        if (wait_sr1(SR1_TXE)) {
            return fail();
        }
        I2C1_DR = buf[i];
    }
    if (wait_sr1(SR1_BTF)) {
        return fail();
    }
    I2C1_CR1 |= CR1_STOP;
    return 0;
}

int32_t i2c1_read_byte(uint8_t addr7, uint8_t reg, uint8_t *out)
{
    if (start_address((uint8_t)(addr7 << 1))) {
        return fail();
    }
    (void)I2C1_SR1;
    (void)I2C1_SR2;
    if (wait_sr1(SR1_TXE)) {
        return fail();
    }
    I2C1_DR = reg;
    if (wait_sr1(SR1_BTF)) {
        return fail();
    }
    /* Single-byte reception (RM0090 27.3.3, "case of a single byte"): NACK and STOP once ADDR is cleared. */
    if (start_address((uint8_t)((addr7 << 1) | 1u))) {
        return fail();
    }
    I2C1_CR1 &= ~CR1_ACK;
    (void)I2C1_SR1;
    (void)I2C1_SR2;
    I2C1_CR1 |= CR1_STOP;
    if (wait_sr1(SR1_RXNE)) {
        return -1;
    }
    *out = (uint8_t)I2C1_DR;
    return 0;
}
