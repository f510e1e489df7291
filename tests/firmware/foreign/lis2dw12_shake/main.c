/* Reads a LIS2DW12 with ST's lis2dw12-pid driver, unmodified: 100 Hz, +/-2 g, high performance (14 bit), FIFO in
 * stream mode with a watermark of BATCH samples routed to INT1 (PA0, EXTI0). Each FIFO batch is printed sample by
 * sample as the driver returns the registers (OUT_X/Y/Z, 16-bit left-justified), then decided:
 *   sample <n> <x> <y> <z>
 *   decision <batch> <mean squared sample-to-sample change, in 14-bit codes> still|shake
 * A shaken board changes its acceleration from sample to sample far more than a still one, whatever its
 * orientation: the decision needs no calibration of gravity. */
#include <stdint.h>
#include <stdio.h>

#include "i2c_master.h"
#include "lis2dw12_reg.h"

#define REG(addr) (*(volatile uint32_t *)(addr))
#define RCC_AHB1ENR REG(0x40023830u)
#define RCC_APB2ENR REG(0x40023844u)
#define GPIOA_MODER REG(0x40020000u)
#define USART1_CR1 REG(0x4001100Cu)
#define SYSCFG_EXTICR1 REG(0x40013808u)
#define EXTI_IMR REG(0x40013C00u)
#define EXTI_RTSR REG(0x40013C08u)
#define EXTI_PR REG(0x40013C14u)
#define NVIC_ISER0 REG(0xE000E100u)

#define LIS2DW12_ADDR7 (LIS2DW12_I2C_ADD_H >> 1) /* SA0 tied high: 0x19 */
#define BATCH 20u                                /* 200 ms at 100 Hz */
#define SAMPLES 180u
#define SHAKE_THRESHOLD 100000u

static volatile uint32_t fifo_ready;

void EXTI0_IRQHandler(void)
{
    EXTI_PR = 1u; /* write 1 to clear line 0 */
    fifo_ready = 1u;
}

static int32_t platform_write(void *handle, uint8_t reg, const uint8_t *buf, uint16_t len)
{
    (void)handle;
    return i2c1_write(LIS2DW12_ADDR7, reg, buf, len);
}

/* One transaction per register: works on silicon, and on Renode's STM32F4_I2C, which hands the master one byte per
 * read phase (it calls the slave's Read() with its default count of 1). */
static int32_t platform_read(void *handle, uint8_t reg, uint8_t *buf, uint16_t len)
{
    (void)handle;
    for (uint16_t i = 0; i < len; i++) {
        if (i2c1_read_byte(LIS2DW12_ADDR7, (uint8_t)(reg + i), &buf[i])) {
            return -1;
        }
    }
    return 0;
}

static void board_init(void)
{
    RCC_AHB1ENR |= 1u << 0;                /* GPIOA */
    RCC_APB2ENR |= (1u << 4) | (1u << 14); /* USART1, SYSCFG */
    USART1_CR1 = (1u << 13) | (1u << 3);   /* UE, TE */
    GPIOA_MODER &= ~3u;                    /* PA0: input (the sensor's INT1) */
    i2c1_init();
}

static void int1_irq_init(void)
{
    SYSCFG_EXTICR1 &= ~0xFu; /* EXTI0 <- port A */
    EXTI_RTSR |= 1u;         /* INT1 is active high: the watermark is reached on the rising edge */
    EXTI_IMR |= 1u;
    NVIC_ISER0 = 1u << 6; /* EXTI0_IRQn */
}

static void wait_for_fifo(void)
{
    __asm__ volatile("cpsid i" ::: "memory");
    while (!fifo_ready) {
        __asm__ volatile("wfi\n cpsie i\n cpsid i" ::: "memory");
    }
    fifo_ready = 0u;
    __asm__ volatile("cpsie i" ::: "memory");
}

static int configure(const stmdev_ctx_t *ctx)
{
    uint8_t id = 0, rst = 1;
    if (lis2dw12_device_id_get(ctx, &id) || id != LIS2DW12_ID) {
        printf("lis2dw12_shake: no LIS2DW12 at 0x%02x (WHO_AM_I 0x%02x)\r\n", LIS2DW12_ADDR7, id);
        return -1;
    }
    printf("lis2dw12_shake: WHO_AM_I 0x%02x\r\n", id);
    lis2dw12_ctrl4_int1_pad_ctrl_t int1 = {0};
    int1.int1_fth = PROPERTY_ENABLE;
    int32_t err = lis2dw12_reset_set(ctx);
    for (uint32_t tries = 0; !err && rst && tries < 1000u; tries++) {
        err = lis2dw12_reset_get(ctx, &rst);
    }
    err = err || rst;
    err = err || lis2dw12_auto_increment_set(ctx, PROPERTY_ENABLE);
    err = err || lis2dw12_block_data_update_set(ctx, PROPERTY_ENABLE);
    /* The data rate before anything else that writes CTRL1: Renode 1.16.1's LIS2DW12, fed from RESD, dies on a CTRL1
     * write that leaves ODR at power-down (its feeder's frequency becomes 0: DivideByZeroException). On silicon the
     * order does not matter; the FIFO stays in bypass until stream mode is set below. */
    err = err || lis2dw12_data_rate_set(ctx, LIS2DW12_XL_ODR_100Hz);
    err = err || lis2dw12_full_scale_set(ctx, LIS2DW12_2g);
    err = err || lis2dw12_power_mode_set(ctx, LIS2DW12_HIGH_PERFORMANCE);
    err = err || lis2dw12_fifo_watermark_set(ctx, BATCH);
    err = err || lis2dw12_fifo_mode_set(ctx, LIS2DW12_STREAM_MODE);
    err = err || lis2dw12_pin_int1_route_set(ctx, &int1);
    if (err) {
        printf("lis2dw12_shake: configuration failed\r\n");
        return -1;
    }
    int1_irq_init();
    return 0;
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    board_init();
    printf("lis2dw12_shake: start\r\n");
    stmdev_ctx_t ctx = {.write_reg = platform_write, .read_reg = platform_read, .mdelay = 0, .handle = 0};
    if (configure(&ctx)) {
        return 1;
    }
    uint32_t n = 0, batch = 0, in_batch = 0;
    uint64_t change = 0;
    int32_t prev[3] = {0, 0, 0};
    while (n < SAMPLES) {
        wait_for_fifo();
        uint8_t level = 0;
        if (lis2dw12_fifo_data_level_get(&ctx, &level)) {
            printf("lis2dw12_shake: FIFO level read failed\r\n");
            return 1;
        }
        for (uint8_t i = 0; i < level && n < SAMPLES; i++) {
            int16_t raw[3];
            if (lis2dw12_acceleration_raw_get(&ctx, raw)) {
                printf("lis2dw12_shake: sample read failed\r\n");
                return 1;
            }
            printf("sample %lu %d %d %d\r\n", (unsigned long)n, raw[0], raw[1], raw[2]);
            for (int axis = 0; axis < 3; axis++) {
                int32_t code = raw[axis] >> 2; /* 14-bit code, left-justified in the register */
                int32_t d = n ? code - prev[axis] : 0;
                change += (uint64_t)((int64_t)d * d);
                prev[axis] = code;
            }
            n++;
            if (++in_batch == BATCH) {
                uint32_t mean = (uint32_t)(change / BATCH);
                printf("decision %lu %lu %s\r\n", (unsigned long)batch, (unsigned long)mean,
                       mean > SHAKE_THRESHOLD ? "shake" : "still");
                batch++;
                in_batch = 0;
                change = 0;
            }
        }
    }
    printf("lis2dw12_shake: done %lu samples\r\n", (unsigned long)n);
    return 0;
}
