/* Benchmark: the smallest firmware that boots the runtime (BOOT event) and exits with 0 (EXIT event), for start-up
 * cost. bench/bench_spine.py times process start -> first console line and process start -> exit. */
#include "cosim.h"

int main(void) { return 0; }
