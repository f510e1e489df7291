/* activity_tracker configuration. The model-side numbers (window, hop, feature shift, classes) must match
 * models/motion/train_config.yaml; everything here can be overridden with -D at build time. */
#ifndef APP_CONFIG_H
#define APP_CONFIG_H

#ifndef STREAM_ID
#define STREAM_ID 0u
#endif
#ifndef ODR_HZ
#define ODR_HZ 52u /* LSM6DSO output data rate */
#endif
#ifndef ONE_G_CODES
#define ONE_G_CODES 8192 /* codes per g at +-4 g (8191.75 in the part file, which follows Renode) */
#endif
#ifndef OUT_SHIFT
#define OUT_SHIFT 8u /* model input unit: 2^8 codes = 1/32 g */
#endif
#define WINDOW 104u /* samples per decision: 2 s */
#define HOP 26u     /* samples between decisions: 0.5 s; also the FIFO watermark */
#ifndef FAULT_SPAN
#define FAULT_SPAN 52u /* the newest samples the plausibility checks look at: 1 s, so a fault clears soon after */
#endif
#ifndef FAULT_CLEAR_HOPS
#define FAULT_CLEAR_HOPS 2u /* clean hops before sensor_fault is lifted (hysteresis) */
#endif
#ifndef MISSING_MIN
#define MISSING_MIN (HOP * 3u / 4u) /* fewer samples than this by the hop's timeout: data missing */
#endif
#ifndef CONF_ENTER_PERMILLE
#define CONF_ENTER_PERMILLE 600 /* a class must reach this confidence to take over */
#endif
#ifndef DEBOUNCE
#define DEBOUNCE 2u /* ... in this many consecutive windows */
#endif

#define AXES 3u
#define SAMPLE_BYTES (AXES * 2u)
/* Sample k exists at instruction ceil(k * f_clk / ODR): a period rounded up never wakes the driver early. */
#define PERIOD_INSTRUCTIONS (((uint64_t)COSIM_CLOCK_HZ + ODR_HZ - 1u) / ODR_HZ)
#define HOP_INSTRUCTIONS ((uint64_t)COSIM_CLOCK_HZ * HOP / ODR_HZ)
/* No watermark 1.5 hops after the previous one: the sensor is not delivering (the driver's timeout). */
#define HOP_TIMEOUT_INSTRUCTIONS (HOP_INSTRUCTIONS * 3u / 2u)

#endif
