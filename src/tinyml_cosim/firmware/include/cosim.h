/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the tinyml-cosim authors
 *
 * cosim.h — the firmware side of the tinyml-cosim host<->firmware protocol v1 (docs/protocol.md).
 *
 * Header-only and independent of this project's startup code, so any bare-metal firmware (TFLM-based, CubeMX-
 * generated, hand-written) can include it: mark named spans (nestable), report decisions, read sensor data
 * delivered in simulated time, and exit with a code. Define COSIM_IMPLEMENTATION in exactly one C file before
 * including it. Register access goes through the port layer (cosim_port.h): the default port fits STM32F2/F4
 * (USART1 console, USART2 data fallback, TIM2 instruction counter, TIM5 service alarm); define COSIM_PORT_STM32L4 for
 * the ISR/TDR USART families, or COSIM_PORT_HEADER for your own port, and override the COSIM_* base addresses.
 *
 * Linkage: every API function is declared and defined with COSIMDEF (default: empty, external linkage); define
 * COSIMDEF as `static` (before every include) to keep the API private to one translation unit. The interrupt
 * handlers are weak, so vendor code may define TIM2_IRQHandler/TIM5_IRQHandler itself (and then call
 * cosim_timebase_irq()/cosim_service_irq from there, see below).
 *
 * Harness footprint: everything cosim.h puts in the image is named cosim_* (sections .text.cosim_*, .bss.cosim_*,
 * .rodata.cosim_*, .cosim_config with -ffunction-sections -fdata-sections), so memory accounting can tell the
 * harness from the product. The Renode data-channel mailbox (2 x COSIM_MAILBOX_CAPACITY bytes of RAM) is only
 * linked in when COSIM_WITH_MAILBOX is 1 (`cosim build` sets it for engines that use that transport).
 *
 * Time: TIM2 counts one tick per retired instruction (QEMU -icount shift=0; Renode with TIM2 at f_clk and
 * PerformanceInMips = f_clk/1e6). cosim_instructions() extends it to 64 bits; simulated time is
 * instructions / COSIM_CLOCK_HZ, the same time model the host uses for every timestamp.
 */
#ifndef COSIM_H
#define COSIM_H

#include <stddef.h>
#include <stdint.h>

#include "cosim_time.h"

#ifdef __cplusplus
extern "C" {
#endif

#define COSIM_PROTOCOL_VERSION 1u

#ifndef COSIM_CLOCK_HZ
#define COSIM_CLOCK_HZ 168000000u
#endif
#ifndef COSIM_APP_NAME
#define COSIM_APP_NAME "app"
#endif
#ifndef COSIMDEF
#define COSIMDEF
#endif
/* Peripheral base addresses (COSIM_CONSOLE_USART, COSIM_DATA_USART, COSIM_TIMEBASE_TIM, COSIM_SERVICE_TIM,
 * COSIM_RCC_BASE) default in the port header (cosim_port.h). */
#ifndef COSIM_TIMEBASE_IRQ
#define COSIM_TIMEBASE_IRQ 28
#endif
#ifndef COSIM_SERVICE_IRQ
#define COSIM_SERVICE_IRQ 50
#endif
/* The service alarm samples the counter at least this often (must stay below 2^32 for cosim_time_extend). */
#ifndef COSIM_SERVICE_PERIOD
#define COSIM_SERVICE_PERIOD (1u << 24)
#endif
#ifndef COSIM_TIMEBASE_HANDLER
#define COSIM_TIMEBASE_HANDLER TIM2_IRQHandler
#endif
#ifndef COSIM_SERVICE_HANDLER
#define COSIM_SERVICE_HANDLER TIM5_IRQHandler
#endif
#ifndef COSIM_MAILBOX_CAPACITY
#define COSIM_MAILBOX_CAPACITY 4096u
#endif
/* 1: link the RAM mailbox (the Renode data channel, 16 + 2 x COSIM_MAILBOX_CAPACITY bytes of RAM). 0: only its
 * 16-byte header and no doorbell, so an engine that needs the mailbox sees it is absent (Renode then offers no data
 * channel). The code is the same either way: instruction counts do not depend on this switch. */
#ifndef COSIM_WITH_MAILBOX
#define COSIM_WITH_MAILBOX 0
#endif
/* cosim_write sends at most this many payload bytes per frame (whatever the transport; the mailbox bounds it). */
#define COSIM_WRITE_CHUNK (COSIM_MAILBOX_CAPACITY - 64u)

/* Written by the engine before the first instruction runs (section .cosim_config is never zeroed by startup). */
typedef struct {
    uint32_t magic; /* COSIM_HOST_CONFIG_MAGIC when a host wrote it */
    uint32_t version;
    uint32_t transport;             /* cosim_transport_t */
    uint32_t flags;                 /* COSIM_FLAG_* */
    uint64_t watchdog_instructions; /* no progress for this long -> WATCHDOG; 0 = off */
    uint64_t budget_instructions;   /* stop with BUDGET at this count; 0 = unlimited */
} cosim_host_config_t;

#define COSIM_HOST_CONFIG_MAGIC 0x31485343u /* "CSH1" */
#define COSIM_FLAG_SEMIHOSTING_EXIT (1u << 0)
#define COSIM_FLAG_DEBUG_SESSION (1u << 1)
/* QEMU 7.2's STM32 timer model schedules the update event at ARR + t(last CNT write) + t(ARR write) instead of
 * when CNT reaches ARR (measured by firmware/tests/apps/alarm_probe); the engine sets this so the alarm is armed
 * the way that model needs. */
#define COSIM_FLAG_QEMU_TIMER_ALARM (1u << 2)

typedef enum {
    COSIM_TRANSPORT_NONE = 0,
    COSIM_TRANSPORT_SEMIHOSTING = 1,
    COSIM_TRANSPORT_MAILBOX = 2,
    COSIM_TRANSPORT_UART = 3
} cosim_transport_t;

typedef struct {
    volatile uint32_t state; /* 0 idle, 1 request posted, 2 reply ready */
    volatile uint32_t request_length;
    volatile uint32_t reply_length;
    uint32_t capacity;
    volatile uint8_t request[COSIM_MAILBOX_CAPACITY];
    volatile uint8_t reply[COSIM_MAILBOX_CAPACITY];
} cosim_mailbox_t;

extern volatile cosim_host_config_t cosim_host_config;
extern cosim_mailbox_t cosim_mailbox;

/* Start the instruction counter; call it first thing in Reset_Handler so firmware time starts with the CPU.
 * cosim_init() calls it too if nobody did. */
COSIMDEF void cosim_timebase_start(void);
/* Start the instruction counter and the service alarm, read the host configuration, print the BOOT event. */
COSIMDEF void cosim_init(void);
/* Retired instructions since cosim_init (64-bit; exact under both engines). */
COSIMDEF uint64_t cosim_instructions(void);
/* Simulated microseconds since cosim_init: instructions * 1e6 / COSIM_CLOCK_HZ. */
COSIMDEF uint64_t cosim_now_us(void);
/* Tell the watchdog the firmware is making progress (every event and data request does this too). */
COSIMDEF void cosim_kick(void);

/* Console: plain text for people; event lines for the host. */
COSIMDEF void cosim_putc(char c);
COSIMDEF void cosim_puts(const char *s);
COSIMDEF void cosim_put_u64(uint64_t v);
COSIMDEF void cosim_put_hex32(uint32_t v);

/* Spans: instructions between begin and end, reported as one SPAN event at the end. Nestable (depth 8).
 * Names must not contain spaces. */
COSIMDEF void cosim_span_begin(const char *name);
COSIMDEF uint64_t cosim_span_end(void);
/* A decision: class label (no spaces) and a score (e.g. int8 output or Q15 confidence). */
COSIMDEF void cosim_decision(const char *label, int32_t score);
/* A named marker with an optional integer value. */
COSIMDEF void cosim_mark(const char *name, int32_t value);
/* End the run: print EXIT (with the stack high-water mark when the startup painted the stack) and stop. */
COSIMDEF void cosim_exit(int code) __attribute__((noreturn));

/* Data channel (whatever transport the engine chose). */
typedef struct {
    uint64_t next_due; /* instruction count at which the next sample exists (UINT64_MAX: no more) */
    uint32_t dropped;  /* samples the source lost since the previous read (a FIFO overrun) */
    uint16_t flags;    /* COSIM_READ_* */
} cosim_read_info_t;
#define COSIM_READ_END_OF_STREAM (1u << 0)
#define COSIM_READ_OVERRUN (1u << 1)
/* Read what the stream holds by now (in simulated time), at most max_bytes. Returns bytes read, -1 when there is
 * no data channel or the host answered with an error. `info` may be NULL. */
COSIMDEF int32_t cosim_read(uint16_t stream, void *dst, uint32_t max_bytes, cosim_read_info_t *info);
COSIMDEF int32_t cosim_write(uint16_t stream, const void *src, uint32_t length);
/* Whether the host gave this firmware a data channel. */
COSIMDEF int cosim_has_data_channel(void);

/* Report a fault in one FAULT event line (stacked PC, LR, xPSR and the SCB fault registers), then stop.
 * `frame` is the exception frame (MSP or PSP per EXC_RETURN); call it from HardFault/MemManage/BusFault/UsageFault. */
COSIMDEF void cosim_fault_report(const uint32_t *frame, uint32_t exc_return) __attribute__((noreturn));

/* Low-level event: `fields` is "key=value key=value" (no spaces inside values), may be NULL. */
COSIMDEF void cosim_event(const char *kind, const char *fields);

/* Interrupt handlers (CMSIS names by default; the vector table must point at them). Weak: a vendor's own
 * TIM2_IRQHandler/TIM5_IRQHandler wins, and must then call cosim_timebase_irq() / branch to COSIM_SERVICE_HANDLER's
 * body (see docs/protocol.md "Port layer"). Always external: the vector table refers to them. */
void COSIM_TIMEBASE_HANDLER(void) __attribute__((weak));
void COSIM_SERVICE_HANDLER(void) __attribute__((weak));
/* The body of the timebase handler, for a vendor handler that serves TIM2 itself. */
COSIMDEF void cosim_timebase_irq(void);

#ifdef __cplusplus
}
#endif

/* ======================================================================================================== */
#ifdef COSIM_IMPLEMENTATION

/* USART, timer and clock-gate registers: the port (cosim_port.h). */
#include "cosim_port.h"

/* System control (the Cortex-M core's, the same on every part; overridable for host tests) */
#ifndef COSIM_NVIC_ISER
#define COSIM_NVIC_ISER 0xE000E100u
#endif
#ifndef COSIM_SCB_BASE
#define COSIM_SCB_BASE 0xE000ED00u
#endif

/* Cortex-M instructions; a host build (tests/test_ports.py compiles this file with gcc for x86) gets stand-ins. */
#if defined(__arm__)
#define COSIM__ARM 1
#else
#define COSIM__ARM 0
#endif

__attribute__((section(".cosim_config"), used)) volatile cosim_host_config_t cosim_host_config;
#if COSIM_WITH_MAILBOX
__attribute__((used)) cosim_mailbox_t cosim_mailbox;
#define COSIM__DOORBELL cosim_mailbox_doorbell
#else
/* Header only: `cosim_mailbox` names these 16 bytes (the code that would touch the buffers runs only when the host
 * chose the mailbox transport, and an engine offers it only with the doorbell symbol present). */
__attribute__((used, aligned(4))) uint32_t cosim_mailbox_header[4];
__asm__(".globl cosim_mailbox\n.set cosim_mailbox, cosim_mailbox_header");
#define COSIM__DOORBELL cosim__mailbox_absent
#endif

static cosim_time_state_t cosim__time;
static uint64_t cosim__last_kick;
static uint64_t cosim__watchdog;
static uint64_t cosim__budget;
static uint32_t cosim__flags;
static uint32_t cosim__transport;
static int cosim__channel_open;
static int cosim__semihost_in = -1, cosim__semihost_out = -1;

/* --- interrupt masking --- */
static inline uint32_t cosim__irq_save(void)
{
    uint32_t primask = 0;
#if COSIM__ARM
    __asm__ volatile("mrs %0, primask\n cpsid i" : "=r"(primask)::"memory");
#endif
    return primask;
}
static inline void cosim__irq_restore(uint32_t primask)
{
#if COSIM__ARM
    __asm__ volatile("msr primask, %0" ::"r"(primask) : "memory");
#else
    (void)primask;
#endif
}
static inline void cosim__irq_enable(void)
{
#if COSIM__ARM
    __asm__ volatile("cpsie i" ::: "memory");
#endif
}

COSIMDEF uint64_t cosim_instructions(void)
{
    uint32_t key = cosim__irq_save();
    uint64_t now = cosim_time_extend(&cosim__time, cosim_port_timebase_read());
    cosim__irq_restore(key);
    return now;
}

COSIMDEF uint64_t cosim_now_us(void)
{
    uint64_t n = cosim_instructions();
    /* split to avoid overflowing n * 1e6 after ~5 hours of simulated time */
    return (n / COSIM_CLOCK_HZ) * 1000000u + ((n % COSIM_CLOCK_HZ) * 1000000u) / COSIM_CLOCK_HZ;
}

COSIMDEF void cosim_kick(void) { cosim__last_kick = cosim_instructions(); }

/* --- semihosting (ARM semihosting spec v2; QEMU turns SYS_EXIT_EXTENDED into its exit status) --- */
static inline int32_t cosim__semihost(uint32_t op, const void *arg)
{
#if COSIM__ARM
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return (int32_t)r0;
#else
    (void)op;
    (void)arg;
    return -1; /* no semihosting host */
#endif
}
#define COSIM_SYS_OPEN 0x01u
#define COSIM_SYS_WRITE 0x05u
#define COSIM_SYS_READ 0x06u
#define COSIM_SYS_EXIT_EXTENDED 0x20u

/* --- console --- */
COSIMDEF void cosim_putc(char c) { cosim_port_console_putc((uint8_t)c); }
COSIMDEF void cosim_puts(const char *s)
{
    while (*s) cosim_putc(*s++);
}

static char *cosim__fmt_u64(char *p, uint64_t v)
{
    char tmp[21];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v);
    while (n) *p++ = tmp[--n];
    return p;
}
static char *cosim__fmt_hex32(char *p, uint32_t v)
{
    for (int i = 7; i >= 0; i--) *p++ = "0123456789abcdef"[(v >> (4 * i)) & 0xFu];
    return p;
}
static char *cosim__fmt_i32(char *p, int32_t v)
{
    if (v < 0) {
        *p++ = '-';
        return cosim__fmt_u64(p, (uint64_t)(-(int64_t)v));
    }
    return cosim__fmt_u64(p, (uint64_t)v);
}
static char *cosim__fmt_str(char *p, const char *end, const char *s)
{
    while (*s && p < end) *p++ = *s++;
    return p;
}
/* User-supplied names: spaces would break the key=value grammar of event lines. */
static char *cosim__fmt_name(char *p, const char *end, const char *s)
{
    while (*s && p < end) {
        char c = *s++;
        *p++ = (c == ' ' || c == '\n' || c == '\r' || c == '#') ? '_' : c;
    }
    return p;
}
COSIMDEF void cosim_put_u64(uint64_t v)
{
    char buf[21], *e = cosim__fmt_u64(buf, v);
    for (char *p = buf; p < e; p++) cosim_putc(*p);
}
COSIMDEF void cosim_put_hex32(uint32_t v)
{
    char buf[8];
    cosim__fmt_hex32(buf, v);
    for (int i = 0; i < 8; i++) cosim_putc(buf[i]);
}

/* CRC-32 (IEEE 802.3, as zlib.crc32), nibble table: 64 bytes of flash, ~20 instructions per byte. */
static uint32_t cosim__crc32(uint32_t crc, const volatile uint8_t *data, uint32_t n)
{
    __attribute__((section(".rodata.cosim__crc32_table"))) static const uint32_t table[16] = {
        0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u, 0x4DB26158u, 0x5005713Cu,
        0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu, 0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu};
    crc = ~crc;
    while (n--) {
        crc ^= *data++;
        crc = (crc >> 4) ^ table[crc & 0xFu];
        crc = (crc >> 4) ^ table[crc & 0xFu];
    }
    return ~crc;
}

static void cosim__emit(uint64_t stamp, const char *kind, const char *fields)
{
    char line[200];
    char *p = line, *end = line + sizeof line - 12;
    p = cosim__fmt_str(p, end, "@C1 ");
    p = cosim__fmt_u64(p, stamp);
    *p++ = ' ';
    p = cosim__fmt_name(p, end, kind);
    if (fields && *fields) {
        *p++ = ' ';
        while (*fields && p < end) *p++ = *fields++;
    }
    uint32_t crc = cosim__crc32(0, (const uint8_t *)line, (uint32_t)(p - line));
    *p++ = ' ';
    *p++ = '#';
    p = cosim__fmt_hex32(p, crc);
    *p++ = '\n';
    for (char *q = line; q < p; q++) cosim_putc(*q);
}

COSIMDEF void cosim_event(const char *kind, const char *fields)
{
    uint64_t now = cosim_instructions();
    cosim__emit(now, kind, fields);
    cosim__last_kick = now;
}

/* --- spans --- */
#define COSIM_SPAN_DEPTH 8
static const char *cosim__span_name[COSIM_SPAN_DEPTH];
static uint64_t cosim__span_begin[COSIM_SPAN_DEPTH];
static int cosim__span_depth;

COSIMDEF void cosim_span_begin(const char *name)
{
    if (cosim__span_depth < COSIM_SPAN_DEPTH) cosim__span_name[cosim__span_depth] = name;
    cosim__span_depth++;
    /* read the counter last, so the span excludes its own bookkeeping */
    uint64_t t0 = cosim_instructions();
    if (cosim__span_depth <= COSIM_SPAN_DEPTH) cosim__span_begin[cosim__span_depth - 1] = t0;
}

COSIMDEF uint64_t cosim_span_end(void)
{
    uint64_t t1 = cosim_instructions(); /* first thing: the span excludes the reporting below */
    if (cosim__span_depth <= 0) return 0;
    int d = --cosim__span_depth;
    if (d >= COSIM_SPAN_DEPTH) return 0;
    char f[96], *p = f, *end = f + 60;
    p = cosim__fmt_str(p, end, "name=");
    p = cosim__fmt_name(p, end, cosim__span_name[d]);
    p = cosim__fmt_str(p, f + 70, " begin=");
    p = cosim__fmt_u64(p, cosim__span_begin[d]);
    p = cosim__fmt_str(p, f + 90, " depth=");
    *p++ = (char)('0' + d);
    *p = 0;
    cosim__emit(t1, "SPAN", f);
    cosim__last_kick = t1;
    return t1 - cosim__span_begin[d];
}

/* An event with one name and one integer: `<kind> <name_key>=<name> <value_key>=<value>`. */
static void cosim__named_value(const char *kind, const char *name_key, const char *name, const char *value_key,
                               int32_t value)
{
    char f[80], *p = f;
    p = cosim__fmt_str(p, f + 10, name_key);
    p = cosim__fmt_name(p, f + 50, name);
    p = cosim__fmt_str(p, f + 60, value_key);
    p = cosim__fmt_i32(p, value);
    *p = 0;
    cosim_event(kind, f);
}

COSIMDEF void cosim_decision(const char *label, int32_t score)
{
    cosim__named_value("DECISION", "class=", label, " score=", score);
}

COSIMDEF void cosim_mark(const char *name, int32_t value)
{
    cosim__named_value("MARK", "name=", name, " value=", value);
}

/* --- ending --- */
/* The startup code may paint the stack with this pattern between these symbols (weak: absent is fine). */
extern uint32_t __cosim_stack_bottom[] __attribute__((weak));
extern uint32_t __cosim_stack_top[] __attribute__((weak));
#define COSIM_STACK_PAINT 0xC0511A7Eu

static uint32_t cosim__stack_used(void)
{
    if (!__cosim_stack_bottom || !__cosim_stack_top) return 0;
    const uint32_t *p = __cosim_stack_bottom;
    while (p < __cosim_stack_top && *p == COSIM_STACK_PAINT) p++;
    return (uint32_t)((uintptr_t)__cosim_stack_top - (uintptr_t)p);
}

static void cosim__halt(int code) __attribute__((noreturn));
static void cosim__halt(int code)
{
    /* read the block itself too: a fault before cosim_init must still end the run */
    uint32_t flags = cosim__flags;
    if (cosim_host_config.magic == COSIM_HOST_CONFIG_MAGIC) flags |= cosim_host_config.flags;
    if (flags & COSIM_FLAG_SEMIHOSTING_EXIT) {
        uint32_t args[2] = {0x20026u /* ADP_Stopped_ApplicationExit */, (uint32_t)code};
        cosim__semihost(COSIM_SYS_EXIT_EXTENDED, args);
    }
    /* No semihosting (Renode, silicon): the host ends the run when it sees the event. */
    (void)cosim__irq_save();
#if COSIM__ARM
    for (;;) __asm__ volatile("wfi");
#else
    for (;;) {
    }
#endif
}

COSIMDEF void cosim_exit(int code)
{
    char f[64], *p = f;
    p = cosim__fmt_str(p, f + 20, "code=");
    p = cosim__fmt_i32(p, code);
    uint32_t used = cosim__stack_used();
    if (used) {
        p = cosim__fmt_str(p, f + 40, " stack_used=");
        p = cosim__fmt_u64(p, used);
    }
    *p = 0;
    cosim_event("EXIT", f);
    cosim__halt(code);
}

COSIMDEF void cosim_fault_report(const uint32_t *frame, uint32_t exc_return)
{
    uint32_t ipsr = 0;
#if COSIM__ARM
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
#endif
    __attribute__((section(".rodata.cosim__fault_names"))) static const char *const names[] = {
        "Fault", "Fault", "Fault", "HardFault", "MemManage", "BusFault", "UsageFault"};
    char f[190], *p = f, *end = f + sizeof f - 12;
    const struct {
        const char *key;
        uint32_t value;
    } items[] = {{" pc=0x", frame[6]},
                 {" lr=0x", frame[5]},
                 {" xpsr=0x", frame[7]},
                 {" sp=0x", (uint32_t)(uintptr_t)frame},
                 {" exc_return=0x", exc_return},
                 {" cfsr=0x", COSIM_REG(COSIM_SCB_BASE + 0x28u)},
                 {" hfsr=0x", COSIM_REG(COSIM_SCB_BASE + 0x2Cu)},
                 {" mmfar=0x", COSIM_REG(COSIM_SCB_BASE + 0x34u)},
                 {" bfar=0x", COSIM_REG(COSIM_SCB_BASE + 0x38u)}};
    p = cosim__fmt_str(p, end, "type=");
    p = cosim__fmt_str(p, end, names[ipsr < 7 ? ipsr : 0]);
    for (unsigned i = 0; i < sizeof items / sizeof items[0]; i++) {
        p = cosim__fmt_str(p, end, items[i].key);
        if (p + 8 < end) p = cosim__fmt_hex32(p, items[i].value);
    }
    *p = 0;
    cosim__emit(cosim_instructions(), "FAULT", f);
    cosim__halt(0x7F);
}

/* --- service alarm: budget, watchdog, and a sample of the counter at least every COSIM_SERVICE_PERIOD --- */
/* Within this many instructions of the budget the service routine waits for the exact count itself: the main
 * program is frozen meanwhile, so stopping there is the same as stopping at the budget. */
#define COSIM_BUDGET_SPIN 32768u
static uint64_t cosim__alarm_epoch; /* firmware time of the service timer's CNT write (QEMU mode) */

static void cosim__service_arm(uint64_t now)
{
    uint64_t period = COSIM_SERVICE_PERIOD;
    if (cosim__watchdog && cosim__watchdog / 8u < period) period = cosim__watchdog / 8u; /* watchdog within 1/8 */
    uint64_t target = now + period;
    if (cosim__budget && cosim__budget < target + COSIM_BUDGET_SPIN) target = cosim__budget - COSIM_BUDGET_SPIN / 2;
    if (target < now + 256u) target = now + 256u;
    if (cosim__flags & COSIM_FLAG_QEMU_TIMER_ALARM) {
        uint64_t t = cosim_instructions();
        cosim_port_alarm_reload((uint32_t)(target - cosim__alarm_epoch - t));
        return;
    }
    /* silicon and Renode: the update event comes when CNT reaches ARR */
    cosim_port_alarm_stop();
    cosim_port_alarm_start((uint32_t)(target - cosim_instructions()));
}

/* Called with the exception frame of whatever the service interrupt interrupted. */
__attribute__((used)) void cosim__service(uint32_t *frame)
{
    cosim_port_alarm_ack();
    uint64_t now = cosim_instructions();
    if (cosim__budget && now + COSIM_BUDGET_SPIN >= cosim__budget) {
        while (now < cosim__budget) now = cosim_instructions();
        cosim__emit(now, "BUDGET", "");
        cosim__halt(0);
    }
    if (cosim__watchdog && now - cosim__last_kick >= cosim__watchdog) {
        char f[96], *p = f;
        p = cosim__fmt_str(p, f + 10, "pc=0x");
        p = cosim__fmt_hex32(p, frame[6]);
        p = cosim__fmt_str(p, f + 30, " lr=0x");
        p = cosim__fmt_hex32(p, frame[5]);
        p = cosim__fmt_str(p, f + 50, " xpsr=0x");
        p = cosim__fmt_hex32(p, frame[7]);
        p = cosim__fmt_str(p, f + 70, " idle=");
        p = cosim__fmt_u64(p, now - cosim__last_kick);
        *p = 0;
        cosim__emit(now, "WATCHDOG", f);
        cosim__halt(0x7E);
    }
    cosim__service_arm(now);
}

#if COSIM__ARM
__attribute__((naked, weak)) void COSIM_SERVICE_HANDLER(void)
{
    __asm__ volatile(
        "tst lr, #4\n"
        "ite eq\n"
        "mrseq r0, msp\n"
        "mrsne r0, psp\n"
        "b cosim__service\n");
}
#endif

COSIMDEF void cosim_timebase_irq(void)
{
    cosim_port_timebase_ack();
    (void)cosim_instructions(); /* a sample near each wrap; the service alarm guarantees the rest */
}

__attribute__((weak)) void COSIM_TIMEBASE_HANDLER(void)
{
    cosim_port_timebase_ack();
    (void)cosim_instructions(); /* as cosim_timebase_irq (written out: a call would add instructions to the IRQ) */
}

static void cosim__nvic_enable(int irq) { COSIM_REG(COSIM_NVIC_ISER + 4u * ((uint32_t)irq / 32u)) = 1u << (irq % 32); }

COSIMDEF void cosim_timebase_start(void)
{
    if (cosim_port_timebase_running()) return;
    cosim_port_clock_enable_timebase(); /* TIM2 clock (ignored by QEMU, needed on silicon and Renode) */
    cosim_port_timebase_start();
    cosim__time.last = 0;
}

COSIMDEF void cosim_init(void)
{
    cosim_timebase_start();
    cosim_port_clock_enable(); /* service timer, both USARTs */

    cosim_port_console_init();

    if (cosim_host_config.magic == COSIM_HOST_CONFIG_MAGIC && cosim_host_config.version == COSIM_PROTOCOL_VERSION) {
        cosim__transport = cosim_host_config.transport;
        cosim__flags = cosim_host_config.flags;
        cosim__watchdog = (cosim__flags & COSIM_FLAG_DEBUG_SESSION) ? 0 : cosim_host_config.watchdog_instructions;
        cosim__budget = cosim_host_config.budget_instructions;
    }
    if (cosim__transport == COSIM_TRANSPORT_UART) cosim_port_data_init();
    cosim_mailbox.capacity = COSIM_MAILBOX_CAPACITY;

    if (cosim__flags & COSIM_FLAG_DEBUG_SESSION) {
        /* A debugger stops the CPU, and QEMU then jumps virtual time to the next timer deadline: any timer
         * interrupt would fire early, inside whatever is being stepped or measured. Time is not valid in a debug
         * session anyway, so the runtime runs no timer interrupts at all (no watchdog, no service alarm). */
        cosim_port_timebase_irq_off();
        goto boot;
    }
    cosim_port_alarm_init();
    if (cosim__flags & COSIM_FLAG_QEMU_TIMER_ALARM) {
        /* QEMU mode: CNT is written once; every later arm writes ARR only (see the flag's comment) */
        cosim_port_alarm_free_run();
        cosim__alarm_epoch = cosim_instructions();
        cosim_port_alarm_zero();
        cosim_port_alarm_enable();
    }
    cosim__nvic_enable(COSIM_TIMEBASE_IRQ);
    cosim__nvic_enable(COSIM_SERVICE_IRQ);
    cosim__service_arm(cosim_instructions());
boot:
    cosim__irq_enable();

    char f[96], *p = f;
    p = cosim__fmt_str(p, f + 40, "app=");
    p = cosim__fmt_name(p, f + 40, COSIM_APP_NAME);
    p = cosim__fmt_str(p, f + 50, " proto=1 transport=");
    p = cosim__fmt_u64(p, cosim__transport);
    p = cosim__fmt_str(p, f + 75, " clock_hz=");
    p = cosim__fmt_u64(p, COSIM_CLOCK_HZ);
    *p = 0;
    cosim_event("BOOT", f);
}

/* --- data channel transports: send in pieces, commit, receive in pieces --- */
static uint32_t cosim__mb_cursor;

static int cosim__semihost_open(const char *name, uint32_t mode)
{
    uint32_t len = 0;
    while (name[len]) len++;
    uint32_t args[3] = {(uint32_t)(uintptr_t)name, mode, len};
    return cosim__semihost(COSIM_SYS_OPEN, args);
}

static int cosim__tx(const void *src, uint32_t n)
{
    const uint8_t *s = (const uint8_t *)src;
    switch (cosim__transport) {
    case COSIM_TRANSPORT_SEMIHOSTING: {
        uint32_t args[3] = {(uint32_t)cosim__semihost_out, (uint32_t)(uintptr_t)src, n};
        return cosim__semihost(COSIM_SYS_WRITE, args) == 0 ? 0 : -1;
    }
    case COSIM_TRANSPORT_MAILBOX:
        if (cosim__mb_cursor + n > COSIM_MAILBOX_CAPACITY) return -1;
        for (uint32_t i = 0; i < n; i++) cosim_mailbox.request[cosim__mb_cursor + i] = s[i];
        cosim__mb_cursor += n;
        return 0;
    case COSIM_TRANSPORT_UART:
        for (uint32_t i = 0; i < n; i++) cosim_port_data_putc(s[i]);
        return 0;
    default: return -1;
    }
}

/* The engine hooks this function's address (Renode) or a debug probe polls `state` (silicon): either way the
 * reply is in place when the loop runs, and no instructions are spent waiting in simulation.
 * Without the mailbox (COSIM_WITH_MAILBOX 0) the same function has another name, so no engine hooks it. */
__attribute__((noinline, used)) void COSIM__DOORBELL(void)
{
    while (cosim_mailbox.state != 2u) {
    }
}

static int cosim__commit(void)
{
    if (cosim__transport == COSIM_TRANSPORT_MAILBOX) {
        cosim_mailbox.request_length = cosim__mb_cursor;
        cosim_mailbox.state = 1u;
        COSIM__DOORBELL();
        cosim__mb_cursor = 0;
    }
    return 0;
}

static int cosim__rx(void *dst, uint32_t n)
{
    uint8_t *d = (uint8_t *)dst;
    switch (cosim__transport) {
    case COSIM_TRANSPORT_SEMIHOSTING:
        while (n) {
            uint32_t args[3] = {(uint32_t)cosim__semihost_in, (uint32_t)(uintptr_t)d, n};
            int32_t left = cosim__semihost(COSIM_SYS_READ, args); /* returns the bytes NOT read */
            if (left < 0 || (uint32_t)left == n) return -1;       /* error or end of file */
            d += n - (uint32_t)left;
            n = (uint32_t)left;
        }
        return 0;
    case COSIM_TRANSPORT_MAILBOX:
        if (cosim__mb_cursor + n > cosim_mailbox.reply_length) return -1;
        for (uint32_t i = 0; i < n; i++) d[i] = cosim_mailbox.reply[cosim__mb_cursor + i];
        cosim__mb_cursor += n;
        return 0;
    case COSIM_TRANSPORT_UART:
        for (uint32_t i = 0; i < n; i++) d[i] = cosim_port_data_getc();
        return 0;
    default: return -1;
    }
}

static void cosim__rx_done(void)
{
    if (cosim__transport == COSIM_TRANSPORT_MAILBOX) {
        cosim_mailbox.state = 0u;
        cosim__mb_cursor = 0;
    }
}

/* Frame: magic c5 31, type, flags, u32 payload length, u64 instructions, payload, u32 CRC-32 of all before. */
typedef struct __attribute__((packed)) {
    uint8_t magic[2];
    uint8_t type;
    uint8_t flags;
    uint32_t length;
    uint64_t instructions;
} cosim_frame_header_t;

static int cosim__send_frame(uint8_t type, const void *p1, uint32_t n1, const void *p2, uint32_t n2)
{
    cosim_frame_header_t h = {{0xC5u, 0x31u}, type, 0, n1 + n2, cosim_instructions()};
    uint32_t crc = cosim__crc32(0, (const uint8_t *)&h, sizeof h);
    crc = cosim__crc32(crc, (const uint8_t *)p1, n1);
    if (n2) crc = cosim__crc32(crc, (const uint8_t *)p2, n2);
    cosim__last_kick = h.instructions;
    if (cosim__tx(&h, sizeof h) || cosim__tx(p1, n1) || (n2 && cosim__tx(p2, n2)) || cosim__tx(&crc, 4)) return -1;
    return cosim__commit();
}

/* Receive the reply header and the first `fixed` payload bytes; the caller reads the rest with cosim__rx. */
static int cosim__recv_head(uint8_t expect, cosim_frame_header_t *h, void *fixed, uint32_t nfixed, uint32_t *crc)
{
    if (cosim__rx(h, sizeof *h)) return -1;
    if (h->magic[0] != 0xC5u || h->magic[1] != 0x31u || h->type != expect || h->length < nfixed) return -1;
    *crc = cosim__crc32(0, (const uint8_t *)h, sizeof *h);
    if (cosim__rx(fixed, nfixed)) return -1;
    *crc = cosim__crc32(*crc, (const uint8_t *)fixed, nfixed);
    return 0;
}

static int cosim__recv_tail(uint32_t crc)
{
    uint32_t got;
    int bad = cosim__rx(&got, 4) || got != crc;
    cosim__rx_done();
    return bad ? -1 : 0;
}

static int cosim__open_channel(void)
{
    if (cosim__channel_open) return cosim__channel_open > 0 ? 0 : -1;
    cosim__channel_open = -1;
    if (cosim__transport == COSIM_TRANSPORT_SEMIHOSTING) {
        /* relative to the engine's run directory: two FIFOs the host serves */
        cosim__semihost_out = cosim__semihost_open("cosim-f2h", 4 /* "w" */);
        cosim__semihost_in = cosim__semihost_open("cosim-h2f", 0 /* "r" */);
        if (cosim__semihost_out < 0 || cosim__semihost_in < 0) return -1;
    } else if (cosim__transport == COSIM_TRANSPORT_NONE) {
        return -1;
    }
    const char *name = COSIM_APP_NAME;
    uint32_t n = 0;
    while (name[n]) n++;
    uint16_t hello[2] = {COSIM_PROTOCOL_VERSION, 0};
    if (cosim__send_frame(0x01, hello, sizeof hello, name, n)) return -1;
    cosim_frame_header_t h;
    uint16_t ack[2];
    uint32_t crc;
    if (cosim__recv_head(0x81, &h, ack, sizeof ack, &crc) || cosim__recv_tail(crc)) return -1;
    cosim__channel_open = 1;
    return 0;
}

COSIMDEF int cosim_has_data_channel(void) { return cosim__open_channel() == 0; }

COSIMDEF int32_t cosim_read(uint16_t stream, void *dst, uint32_t max_bytes, cosim_read_info_t *info)
{
    if (cosim__open_channel()) return -1;
    struct __attribute__((packed)) {
        uint16_t stream, reserved;
        uint32_t max_bytes;
    } req = {stream, 0, max_bytes};
    if (cosim__send_frame(0x02, &req, sizeof req, 0, 0)) return -1;
    struct __attribute__((packed)) {
        uint16_t stream, flags;
        uint32_t count;
        uint64_t next_due;
        uint32_t dropped;
    } rep;
    cosim_frame_header_t h;
    uint32_t crc;
    if (cosim__recv_head(0x82, &h, &rep, sizeof rep, &crc)) return -1;
    if (rep.count > max_bytes || rep.count != h.length - sizeof rep) return -1;
    if (cosim__rx(dst, rep.count)) return -1;
    crc = cosim__crc32(crc, (const uint8_t *)dst, rep.count);
    if (cosim__recv_tail(crc)) return -1;
    if (info) {
        info->next_due = rep.next_due;
        info->dropped = rep.dropped;
        info->flags = rep.flags;
    }
    return (int32_t)rep.count;
}

COSIMDEF int32_t cosim_write(uint16_t stream, const void *src, uint32_t length)
{
    if (cosim__open_channel()) return -1;
    const uint8_t *s = (const uint8_t *)src;
    /* the mailbox bounds one frame; other transports take any length, in the same chunks for simplicity */
    const uint32_t chunk = COSIM_WRITE_CHUNK;
    uint32_t done = 0;
    do {
        uint32_t n = length - done < chunk ? length - done : chunk;
        uint16_t hdr[2] = {stream, 0};
        if (cosim__send_frame(0x03, hdr, sizeof hdr, s + done, n)) return -1;
        cosim_frame_header_t h;
        uint16_t ack[2];
        uint32_t crc;
        if (cosim__recv_head(0x83, &h, ack, sizeof ack, &crc) || cosim__recv_tail(crc)) return -1;
        done += n;
    } while (done < length);
    return (int32_t)length;
}

#endif /* COSIM_IMPLEMENTATION */
#endif /* COSIM_H */
