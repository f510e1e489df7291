/* Measures how the engine's STM32 timer model schedules the update interrupt (TIM3, not used by the runtime):
 * CNT is written once, then ARR is re-armed from the interrupt for chosen targets. On QEMU 7.2 the update event
 * comes at ARR + t(CNT write) + t(ARR write), so ARR = target - t_cnt - t_now lands on the target; on silicon
 * it would come when CNT reaches ARR. tests/test_qemu_runs.py checks the measured arrival against the targets,
 * so an engine upgrade that changes the model is noticed. */
#include "cosim.h"

#define R(a) (*(volatile uint32_t *)(a))
#define TIM3 0x40000400u

static volatile uint64_t fired[6], target[6];
static volatile int n;
static uint64_t t_cnt;

static void arm(uint64_t f) { R(TIM3 + 0x2C) = (uint32_t)(f - t_cnt - cosim_instructions()); }

void TIM3_IRQHandler(void)
{
    R(TIM3 + 0x10) = 0;
    uint64_t now = cosim_instructions();
    if (n < 6) {
        fired[n++] = now;
        if (n < 6) {
            target[n] = now + 3000000u + (uint64_t)n * 777777u;
            arm(target[n]);
        }
    }
}

int main(void)
{
    R(TIM3 + 0x28) = 0;
    R(TIM3 + 0x0C) = 1;
    R(0xE000E100) = 1u << 29; /* TIM3 is IRQ 29 */
    t_cnt = cosim_instructions();
    R(TIM3 + 0x24) = 0;
    target[0] = 2000000;
    arm(target[0]);
    R(TIM3) = 1;
    while (n < 6) {
    }
    for (int i = 0; i < 6; i++) cosim_mark("late", (int32_t)(fired[i] - target[i]));
    return 0;
}
