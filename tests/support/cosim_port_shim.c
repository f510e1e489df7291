/* Host harness for tests/test_ports.py: cosim.h compiled for the host with every register access routed through
 * cosim_test_reg(), which logs the address and keeps the values; one address can be a status register that reads 0
 * for the first `status_delay` reads and `status_value` after (more than 1000 reads: runaway, all bits set). */
#include <stddef.h>
#include <stdint.h>

volatile uint32_t *cosim_test_reg(uintptr_t addr);
#define COSIM_REG(addr) (*cosim_test_reg((uintptr_t)(addr)))
#define COSIM_IMPLEMENTATION
#include "cosim.h"

#define NREG 512
static uintptr_t reg_addr[NREG];
static uint32_t reg_val[NREG];
static int nreg;
uintptr_t log_addr[4096];
int log_n;
uintptr_t status_addr;
uint32_t status_value;
int status_delay, status_reads, runaway;
static uint32_t status_word;

volatile uint32_t *cosim_test_reg(uintptr_t addr)
{
    if (log_n < 4096) log_addr[log_n++] = addr;
    if (addr == status_addr) {
        status_reads++;
        status_word = status_reads > 1000 ? (runaway = 1, 0xFFFFFFFFu) : status_reads > status_delay ? status_value : 0;
        return &status_word;
    }
    for (int i = 0; i < nreg; i++)
        if (reg_addr[i] == addr) return &reg_val[i];
    reg_addr[nreg] = addr;
    reg_val[nreg] = 0;
    return &reg_val[nreg++];
}
uint32_t reg_get(uintptr_t addr) { return *cosim_test_reg(addr); }
void reg_set(uintptr_t addr, uint32_t v) { *cosim_test_reg(addr) = v; }
void t_data_putc(uint8_t c) { cosim_port_data_putc(c); }
uint8_t t_data_getc(void) { return cosim_port_data_getc(); }
void t_alarm_arm(uint32_t ticks)
{
    cosim_port_alarm_stop();
    cosim_port_alarm_start(ticks);
}
