"""The port layer of cosim.h (firmware/include/cosim_port.h, firmware/ports/): each port compiled for the host with
every register access routed through a logging accessor (tests/support/cosim_port_shim.c), at the part's real
addresses. Checks which register each port polls and with which flag bit, where the bytes go (DR vs TDR/RDR), the
clock gates, and the timer reads and alarm arming cosim.h does through the port."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hostc import FIRMWARE, build_shared, host_cc, load_shared

from tinyml_cosim.core.errors import BadInput

SHIM = Path(__file__).parent / "support" / "cosim_port_shim.c"
CDEF = """
extern uintptr_t log_addr[4096];
extern int log_n;
extern uintptr_t status_addr;
extern uint32_t status_value;
extern int status_delay, status_reads, runaway;
uint32_t reg_get(uintptr_t addr);
void reg_set(uintptr_t addr, uint32_t v);
void t_data_putc(uint8_t c);
uint8_t t_data_getc(void);
void t_alarm_arm(uint32_t ticks);
void cosim_init(void);
void cosim_putc(char c);
uint64_t cosim_instructions(void);
"""

TIM2, TIM5 = 0x40000000, 0x40000C00
CR1, DIER, SR, CNT, PSC, ARR = 0x00, 0x0C, 0x10, 0x24, 0x28, 0x2C
NVIC_ISER = 0xE000E100

# Per port, from the reference manuals (RM0090 for F2/F4, RM0351 for L4), with this project's board defaults.
PORTS: dict[str, dict[str, Any]] = {
    "stm32f4": {
        "define": "COSIM_PORT_STM32F4",
        "console": 0x40011000,  # USART1
        "data": 0x40004400,  # USART2
        "status": 0x00,  # SR
        "tx": 0x04,  # DR
        "rx": 0x04,  # DR
        "cr1": 0x0C,
        "cr1_on": (1 << 13) | (1 << 3) | (1 << 2),  # UE TE RE
        "apb1": 0x40023840,  # RCC_APB1ENR
        "apb1_bits": (1 << 0) | (1 << 3) | (1 << 17),  # TIM2 TIM5 USART2
        "apb2": 0x40023844,  # RCC_APB2ENR
        "apb2_bits": 1 << 4,  # USART1
    },
    "stm32l4": {
        "define": "COSIM_PORT_STM32L4",
        "console": 0x40004400,  # USART2 (NUCLEO virtual COM port)
        "data": 0x40013800,  # USART1
        "status": 0x1C,  # ISR
        "tx": 0x28,  # TDR
        "rx": 0x24,  # RDR
        "cr1": 0x00,
        "cr1_on": (1 << 3) | (1 << 2) | (1 << 0),  # TE RE UE
        "apb1": 0x40021058,  # RCC_APB1ENR1
        "apb1_bits": (1 << 0) | (1 << 3) | (1 << 17),
        "apb2": 0x40021060,  # RCC_APB2ENR
        "apb2_bits": 1 << 14,  # USART1
    },
}
TXE, RXNE = 1 << 7, 1 << 5


@pytest.fixture(scope="module", params=sorted(PORTS))
def port(request, tmp_path_factory) -> tuple[dict[str, Any], Any, Any]:  # type: ignore[no-untyped-def]
    try:
        host_cc()
    except BadInput as exc:  # no host compiler: nothing to test here
        pytest.skip(str(exc))
    p = PORTS[request.param]
    out = tmp_path_factory.mktemp(request.param) / "libport.so"
    build_shared(out, [SHIM], include_dirs=[FIRMWARE / "include"], defines=[p["define"]])
    ffi, lib = load_shared(out, CDEF)
    return p, ffi, lib


def _watch(lib: Any, addr: int, value: int, delay: int) -> None:
    lib.status_addr, lib.status_value, lib.status_delay, lib.status_reads, lib.runaway = addr, value, delay, 0, 0
    lib.log_n = 0


def _log(lib: Any) -> list[int]:
    return [lib.log_addr[i] for i in range(lib.log_n)]


def test_console_byte_waits_for_txe_in_the_ports_status_register(port) -> None:  # type: ignore[no-untyped-def]
    p, _, lib = port
    status, tx = p["console"] + p["status"], p["console"] + p["tx"]
    _watch(lib, status, TXE, delay=3)
    lib.cosim_putc(b"Z")
    assert not lib.runaway, "the port polled another bit than TXE (bit 7)"
    assert _log(lib) == [status] * 4 + [tx]  # three reads without TXE, one with, then the data register
    assert lib.reg_get(tx) == ord("Z")


def test_txe_is_bit_7_only(port) -> None:  # type: ignore[no-untyped-def]
    p, _, lib = port
    status = p["console"] + p["status"]
    _watch(lib, status, 0xFFFFFFFF & ~TXE, delay=0)  # every flag but TXE: the port must keep waiting
    lib.cosim_putc(b"x")
    assert lib.runaway  # it only got out through the accessor's runaway value


def test_data_usart_bytes_out_and_in(port) -> None:  # type: ignore[no-untyped-def]
    p, _, lib = port
    status = p["data"] + p["status"]
    _watch(lib, status, TXE, delay=1)
    lib.t_data_putc(0xA5)
    assert not lib.runaway
    assert _log(lib) == [status, status, p["data"] + p["tx"]]
    assert lib.reg_get(p["data"] + p["tx"]) == 0xA5

    lib.reg_set(p["data"] + p["rx"], 0x15C)  # only the low byte is data
    _watch(lib, status, RXNE, delay=2)
    assert lib.t_data_getc() == 0x5C
    assert not lib.runaway, "the port polled another bit than RXNE (bit 5)"
    assert _log(lib) == [status] * 3 + [p["data"] + p["rx"]]


def test_init_clock_gates_usart_timers_and_nvic(port) -> None:  # type: ignore[no-untyped-def]
    p, _, lib = port
    _watch(lib, p["console"] + p["status"], TXE, delay=0)
    lib.cosim_init()  # no host configuration: transport none, alarm armed the silicon/Renode way
    assert not lib.runaway
    log = _log(lib)  # before the checks below, which read registers through the same accessor
    assert lib.reg_get(p["apb1"]) == p["apb1_bits"]
    assert lib.reg_get(p["apb2"]) == p["apb2_bits"]
    assert lib.reg_get(p["console"] + p["cr1"]) == p["cr1_on"]
    assert lib.reg_get(p["data"] + p["cr1"]) == 0  # the data USART stays off without the UART transport
    # the instruction counter: prescaler 0, free-running to 2^32, update interrupt, on
    assert [lib.reg_get(TIM2 + r) for r in (PSC, ARR, DIER, CR1)] == [0, 0xFFFFFFFF, 1, 1]
    # the service alarm: CNT reads 0 here, so the first period (2^24 instructions) is ARR; then SR cleared, on
    assert [lib.reg_get(TIM5 + r) for r in (PSC, DIER, ARR, SR, CR1)] == [0, 1, 1 << 24, 0, 1]
    assert lib.reg_get(NVIC_ISER) == 1 << 28 and lib.reg_get(NVIC_ISER + 4) == 1 << (50 - 32)
    # arming stops the timer and zeroes CNT before ARR, and starts it last
    arm = [a for a in log if TIM5 <= a < TIM5 + 0x400][-5:]
    assert arm == [TIM5 + CR1, TIM5 + CNT, TIM5 + ARR, TIM5 + SR, TIM5 + CR1]


def test_timer_read_and_alarm_arm(port) -> None:  # type: ignore[no-untyped-def]
    _, _, lib = port
    lib.reg_set(TIM2 + CNT, 123456)
    assert lib.cosim_instructions() == 123456
    lib.reg_set(TIM2 + CNT, 5)  # wrapped: the 64-bit count goes on
    assert lib.cosim_instructions() == (1 << 32) + 5
    lib.log_n = 0
    lib.t_alarm_arm(777)
    assert _log(lib) == [TIM5 + CR1, TIM5 + CNT, TIM5 + ARR, TIM5 + SR, TIM5 + CR1]
    assert [lib.reg_get(TIM5 + r) for r in (CNT, ARR, SR, CR1)] == [0, 777, 0, 1]
