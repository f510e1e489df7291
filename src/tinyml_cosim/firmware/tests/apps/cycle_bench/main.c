/* Cycle micro-benchmarks (issue 15): each cb_<name> in bench.S reads TIM2->CNT at its start (cb_<name>_a) and end
 * (cb_<name>_b), which the cycles plugin snapshots; every benchmark runs twice so that the second run finds its code
 * in the ART instruction cache. The cycles between the two reads of the second run, worked out by hand from the
 * TRM tables and the board's flash parameters, are in tests/cycle_bench_expected.py. */
#include "cosim.h"

typedef void (*bench_fn)(void);

extern void cb_load_chain(void);
extern void cb_dependent_loads(void);
extern void cb_address_dependency(void);
extern void cb_load_store(void);
extern void cb_load_blocks(void);
extern void cb_indexed_loads(void);
extern void cb_indexed_stores(void);
extern void cb_unaligned_group(void);
extern void cb_branches(void);
extern void cb_divide_small(void);
extern void cb_divide_large(void);
extern void cb_multiplies(void);
extern void cb_ldm_stm(void);
extern void cb_loop_flash(void);
extern void cb_loop_ram(void);
extern void cb_semihost_exit(void) __attribute__((noreturn));

static const bench_fn benches[] = {
    cb_load_chain,     cb_dependent_loads, cb_address_dependency, cb_load_store,   cb_load_blocks,  cb_indexed_loads,
    cb_indexed_stores, cb_unaligned_group, cb_branches,           cb_divide_small, cb_divide_large, cb_multiplies,
    cb_ldm_stm,        cb_loop_flash,      cb_loop_ram,
};

int main(void)
{
    for (unsigned i = 0; i < sizeof benches / sizeof benches[0]; i++) {
        benches[i](); /* warm-up: fills the ART instruction cache */
        benches[i]();
    }
    cosim_puts("cycle_bench: done\n");
    /* Run bare, without an engine's host block (the live test starts QEMU itself): nothing else ends the run. */
    if (cosim_host_config.magic != COSIM_HOST_CONFIG_MAGIC) cb_semihost_exit();
    return 0;
}
