/* The pacing test firmwares' sleep: cosim_sleep.h under the short names they were written with (same code, so the
 * same instruction counts). */
#ifndef SYSTICK_SLEEP_H
#define SYSTICK_SLEEP_H
#include "cosim_sleep.h"

#define calibrate cosim_sleep_calibrate
#define wait_until cosim_wait_until
#define late_max cosim_wait_late_max
#define cal_instructions cosim__sleep_cal
#define CAL_TICKS COSIM__CAL_TICKS

#endif
