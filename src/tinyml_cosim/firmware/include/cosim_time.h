/* SPDX-License-Identifier: MIT
 * cosim_time.h — extending a free-running 32-bit instruction counter to 64 bits.
 *
 * Pure arithmetic with no hardware access, so the host test suite compiles it with the system compiler and checks
 * it against both engines' timer semantics (QEMU raises TIM2's update interrupt once, one tick before the first
 * wrap, and never again unless CNT is written; Renode and silicon raise it at every wrap, exactly 2^32 ticks apart).
 * Neither interrupt pattern alone is enough, so the extension does not count interrupts: every sample adds the
 * 32-bit distance travelled since the previous one. That is exact as long as two samples are less than 2^32 ticks
 * apart, which the service timer (sampling at least every COSIM_SERVICE_PERIOD ticks) guarantees.
 */
#ifndef COSIM_TIME_H
#define COSIM_TIME_H
#include <stdint.h>

typedef struct {
    uint64_t last; /* the 64-bit count at the previous sample */
} cosim_time_state_t;

/* Account for a new raw counter value and return the extended 64-bit count. Call with interrupts masked. */
static inline uint64_t cosim_time_extend(cosim_time_state_t *st, uint32_t raw)
{
    st->last += (uint32_t)(raw - (uint32_t)st->last);
    return st->last;
}

#endif
