/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the tinyml-cosim authors
 *
 * cosim_port.h — the few register accesses cosim.h needs, behind one small interface (docs/protocol.md "Port
 * layer"). cosim.h keeps the protocol; a port says how this part's USARTs, timers and clock gates are reached.
 *
 * A port is a header of `static inline` functions (so the generated code is the same as writing the registers in
 * place) that provides:
 *
 *   void     cosim_port_clock_enable_timebase(void)  clock gate of the instruction-counter timer
 *   void     cosim_port_clock_enable(void)           clock gates of the service timer and both USARTs
 *   void     cosim_port_console_init(void)           console USART on (8N1, transmitter and receiver)
 *   void     cosim_port_console_putc(uint8_t c)      wait until the console can take a byte, send it
 *   void     cosim_port_data_init(void)              data USART on
 *   void     cosim_port_data_putc(uint8_t c)         data USART: wait for TXE, send
 *   uint8_t  cosim_port_data_getc(void)              data USART: wait for RXNE, receive
 *   int      cosim_port_timebase_running(void)       whether the instruction counter already runs
 *   void     cosim_port_timebase_start(void)         free-running, prescaler 0, wraps at 2^32, update IRQ on
 *   uint32_t cosim_port_timebase_read(void)          the counter (one tick per retired instruction)
 *   void     cosim_port_timebase_ack(void)           clear the update flag
 *   void     cosim_port_timebase_irq_off(void)       no update interrupt (debug sessions)
 *   void     cosim_port_alarm_init(void)             service timer: prescaler 0, update IRQ on
 *   void     cosim_port_alarm_free_run(void)         ARR = 2^32-1, then (after a counter read) cosim_port_alarm_zero
 *   void     cosim_port_alarm_zero(void)             CNT = 0
 *   void     cosim_port_alarm_enable(void)           CR1 = counter on
 *   void     cosim_port_alarm_stop(void)             counter off, CNT = 0 (start of an arm)
 *   void     cosim_port_alarm_start(uint32_t ticks)  update event after `ticks`; counter on (end of an arm)
 *   void     cosim_port_alarm_reload(uint32_t ticks) ARR only (QEMU's timer model, COSIM_FLAG_QEMU_TIMER_ALARM)
 *   void     cosim_port_alarm_ack(void)              clear the update flag
 *
 * Choose a port with one define (the board file's `port:` field makes `cosim build` pass it):
 *   COSIM_PORT_STM32F4 (default): STM32F2/F4 — USART SR/DR, RCC at 0x40023800
 *   COSIM_PORT_STM32L4: STM32L4/L4+/G4-class — USART ISR/TDR/RDR, RCC at 0x40021000
 *   COSIM_PORT_HEADER "my_port.h": your own port, a header that provides the functions above
 * The base addresses (COSIM_CONSOLE_USART, COSIM_DATA_USART, COSIM_TIMEBASE_TIM, COSIM_SERVICE_TIM, COSIM_RCC_BASE)
 * stay overridable macros, so one port serves every part of its family.
 */
#ifndef COSIM_PORT_H
#define COSIM_PORT_H

#include <stdint.h>

/* One 32-bit register. Overridable so a host test can route every register access through its own accessor. */
#ifndef COSIM_REG
#define COSIM_REG(addr) (*(volatile uint32_t *)(uintptr_t)(addr))
#endif

#if defined(COSIM_PORT_HEADER)
#include COSIM_PORT_HEADER
#elif defined(COSIM_PORT_STM32L4)
#include "../ports/stm32l4/cosim_port_stm32l4.h"
#else
#include "../ports/stm32f4/cosim_port_stm32f4.h"
#endif

#endif /* COSIM_PORT_H */
