"""The cycle model's static part and arithmetic (tinyml_cosim.cycles), without an emulator: hand-assembled Thumb-2
decoded to the class, cycles, taken extra, flags and band that the TRM tables give; the cost table of a tiny ELF;
the estimate on a synthetic profile; the boards' cycle_model blocks."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from cosim_testing import needs_toolchain
from cycle_bench_expected import expected
from elftools.elf.elffile import ELFFile

from tinyml_cosim.build.firmware import build
from tinyml_cosim.core.boards import PLATFORMS_DIR, available_boards, load_board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.cycles.classes import FLAG_LOAD, FLAG_PIPELINED, FLAG_STORE, FLAG_TRANSFER, FLAG_WIDE, InsnClass
from tinyml_cosim.cycles.costtable import cost_table_text
from tinyml_cosim.cycles.decode import StaticInsn, decode_elf, decode_region, to_arrays
from tinyml_cosim.cycles.estimate import estimate
from tinyml_cosim.cycles.memory_system import memory_system, timebase_address
from tinyml_cosim.elf.image import elf_symbols
from tinyml_cosim.engines.qemu.cycleplugin import INSN_DTYPE, SNAPSHOT_DTYPE, Counters, RawProfile

C = InsnClass
M4, M3 = "cortex-m4", "cortex-m3"
ORIGIN = 0x08000000


def decode(*code: bytes, core: str = M4) -> list[StaticInsn]:
    return decode_region(b"".join(code), ORIGIN, core)


def cycles(insns: list[StaticInsn]) -> list[int]:
    return [i.base for i in insns]


# --- decoding: the TRM tables, instruction by instruction ----------------------------------------------------------


def test_neighbouring_loads_pipeline_unless_the_address_is_the_loaded_register() -> None:
    chain = decode(
        b"\x08\x68",  # 6808  ldr r0, [r1]
        b"\x11\x68",  # 6811  ldr r1, [r2]      address r2: pipelined with the first, 1
    )
    assert cycles(chain) == [2, 1] and sum(cycles(chain)) == 3  # TRM: "LDR R0,[R1]; LDR R1,[R2] - three cycles"
    assert [i.klass for i in chain] == [C.LOAD, C.LOAD]
    assert [i.flags for i in chain] == [FLAG_LOAD, FLAG_LOAD | FLAG_PIPELINED]  # the plugin checks its memory block
    assert chain[1].band == (1, 2)  # reached by a branch it would not pipeline
    dependent = decode(
        b"\x08\x68",  # 6808  ldr r0, [r1]
        b"\x02\x68",  # 6802  ldr r2, [r0]      address = the loaded r0: not pipelined
    )
    assert cycles(dependent) == [2, 2] and dependent[1].band == (2, 2)


def test_pre_and_post_indexed_loads_on_one_base_do_not_pipeline() -> None:
    """Measured on silicon (timings.WRITEBACK_CHAIN_SOURCE): the Cortex-M4 chains indexed loads on two bases, not on
    one (the written-back base is a destination of the first load); the Cortex-M3 chains none."""
    same = decode(bytes.fromhex("51f8042b"), bytes.fromhex("51f8043b"))  # ldr r2, [r1], #4 ; ldr r3, [r1], #4
    assert cycles(same) == [2, 2] and not same[1].flags & FLAG_PIPELINED
    two = decode(bytes.fromhex("51f8042b"), bytes.fromhex("50f8043b"))  # ldr r2, [r1], #4 ; ldr r3, [r0], #4
    assert cycles(two) == [2, 1] and two[1].flags & FLAG_PIPELINED
    assert cycles(decode(bytes.fromhex("51f8042b"), bytes.fromhex("50f8043b"), core=M3)) == [2, 2]
    assert cycles(decode(bytes.fromhex("51f8042b"), b"\x03\x68", core=M3)) == [2, 1]  # ldr r3, [r0]: no writeback


def test_a_load_after_a_store_and_indexed_stores_on_one_base_cost_one_more() -> None:
    """Measured on silicon (timings.STORE_THEN_LOAD_SOURCE, WRITEBACK_CHAIN_SOURCE); the band's low end is the TRM."""
    pair = decode(b"\x48\x60", b"\x08\x68")  # str r0, [r1, #4] ; ldr r0, [r1]
    assert cycles(pair) == [1, 3] and pair[1].band == (2, 3)
    ldm = decode(b"\x48\x60", b"\x1e\xc8")  # str r0, [r1, #4] ; ldmia r0!, {r1-r4}
    assert cycles(ldm) == [1, 1 + 4 + 1]
    stores = decode(bytes.fromhex("41f8042b"), bytes.fromhex("41f8043b"))  # str r2, [r1], #4 ; str r3, [r1], #4
    assert cycles(stores) == [1, 2] and stores[1].band == (1, 3)
    assert cycles(decode(bytes.fromhex("41f8042b"), bytes.fromhex("40f8043b"))) == [1, 1]  # two bases
    assert cycles(decode(b"\x48\x60", b"\x04\x31")) == [1, 1]  # str ; adds: nothing to wait for


def test_three_unaligned_32_bit_instructions_in_a_row_cost_one_more() -> None:
    """compendium.i-0.nl (timings.UNALIGNED_WIDE_SOURCE): one cycle for a group of three or more 32-bit instructions
    at halfword addresses, charged once; a group of stores only from four."""
    nop, add_w, str_w = b"\x00\xbf", bytes.fromhex("01eb0200"), bytes.fromhex("c1f80020")  # add.w r0,r1,r2; str.w
    assert cycles(decode(nop, add_w, add_w, add_w, add_w, nop)) == [1, 1, 1, 2, 1, 1]
    assert cycles(decode(nop, add_w, add_w, nop, add_w, add_w, nop)) == [1, 1, 1, 1, 1, 1, 1]  # groups of two
    assert cycles(decode(add_w, add_w, add_w, nop)) == [1, 1, 1, 1]  # word aligned: no group
    assert cycles(decode(nop, str_w, str_w, str_w, nop)) == [1, 1, 1, 1, 1]
    assert cycles(decode(nop, str_w, str_w, str_w, str_w, nop)) == [1, 1, 1, 1, 2, 1]
    grouped = decode(nop, add_w, add_w, add_w)
    assert grouped[3].band == (1, 2)


def test_an_address_from_the_previous_data_processing_instruction_stalls_one_cycle() -> None:
    dependent = decode(
        b"\x04\x31",  # 3104  adds r1, #4
        b"\x08\x68",  # 6808  ldr r0, [r1]      address just computed: 2 + 1
    )
    assert cycles(dependent) == [1, 3] and dependent[1].band == (2, 3)
    independent = decode(
        b"\x04\x32",  # 3204  adds r2, #4
        b"\x08\x68",  # 6808  ldr r0, [r1]
    )
    assert cycles(independent) == [1, 2]


def test_stores_and_literal_loads() -> None:
    insns = decode(
        b"\x48\x60",  # 6048  str r0, [r1, #4]  "STR Rx,[Ry,#imm] is always one cycle"
        b"\x88\x50",  # 5088  str r0, [r1, r2]  register offset, after a store: 2
        b"\x01\x48",  # 4801  ldr r0, [pc, #4]  literal: 2, "might add a cycle"; after a store +1 (measured)
    )
    assert cycles(insns) == [1, 2, 3]
    assert [i.klass for i in insns] == [C.STORE, C.STORE, C.LOAD]
    assert [i.flags for i in insns] == [FLAG_STORE, FLAG_STORE, FLAG_LOAD]
    assert insns[2].band == (2, 4)


def test_load_and_store_multiple_cost_one_plus_n() -> None:
    (ldm,) = decode(b"\x1e\xc8")  # c81e  ldmia r0!, {r1, r2, r3, r4}
    assert (ldm.klass, ldm.base, ldm.taken_extra, ldm.flags) == (C.LOAD_MULTIPLE, 1 + 4, 0, FLAG_LOAD)
    (push,) = decode(b"\x10\xb5")  # b510  push {r4, lr}
    assert (push.klass, push.base, push.flags) == (C.STORE_MULTIPLE, 1 + 2, FLAG_STORE)
    (pop,) = decode(b"\xf0\xbd")  # bdf0  pop {r4, r5, r6, r7, pc}: 1 + N + P, N = 5 (PC included)
    assert (pop.klass, pop.base, pop.taken_extra) == (C.LOAD_MULTIPLE, 1 + 5, 2)
    assert pop.flags == FLAG_LOAD | FLAG_TRANSFER and pop.band == (6, 6) and pop.taken_band == (1, 3)
    (ldrd,) = decode(b"\xd2\xe9\x00\x01")  # e9d2 0100  ldrd r0, r1, [r2]: 1 + N, N = 2
    assert (ldrd.klass, ldrd.base, ldrd.flags) == (C.LOAD, 3, FLAG_LOAD | FLAG_WIDE)


def test_branches_taken_and_not_taken() -> None:
    (bne,) = decode(b"\xfe\xd1")  # d1fe  bne . : not taken 1, taken 1 + P (P = 2, 1..3)
    assert (bne.klass, bne.base, bne.taken_extra, bne.flags) == (C.BRANCH, 1, 2, FLAG_TRANSFER)
    assert bne.band == (1, 1) and bne.taken_band == (1, 3)
    cbz = decode(
        b"\x00\xb1",  # b100  cbz r0, 0x08000004
        b"\x00\xbf",  # bf00  nop
        b"\x00\xbf",  # bf00  nop               the target
    )
    assert (cbz[0].klass, cbz[0].base, cbz[0].taken_extra, cbz[0].flags) == (C.BRANCH, 1, 2, FLAG_TRANSFER)
    targets = decode(
        b"\x01\xe0",  # e001  b.n 0x08000006   target: a 32-bit instruction at a halfword address, P = 3
        b"\x00\xbf",  # bf00  nop
        b"\x00\xbf",  # bf00  nop
        b"\x01\xf1\x01\x01",  # f101 0101  add.w r1, r1, #1
        b"\x00\xe0",  # e000  b.n 0x0800000e   target: a 16-bit instruction, P = 2
        b"\x00\xbf",  # bf00  nop
        b"\x00\xbf",  # bf00  nop
    )
    assert [(i.base, i.taken_extra) for i in targets if i.klass == C.BRANCH] == [(1, 3), (1, 2)]
    (bl,) = decode(b"\x00\xf0\x00\xf8")  # f000 f800  bl 0x08000004
    assert (bl.klass, bl.base, bl.taken_extra, bl.flags) == (C.CALL, 1, 2, FLAG_TRANSFER | FLAG_WIDE)
    (tbb,) = decode(b"\xdf\xe8\x00\xf0")  # e8df f000  tbb [pc, r0]: 2 + P, the notes' 3 + P in the band
    assert (tbb.klass, tbb.base, tbb.taken_extra, tbb.band) == (C.BRANCH, 2, 2, (2, 3))
    assert tbb.flags == FLAG_LOAD | FLAG_TRANSFER | FLAG_WIDE
    (ret,) = decode(b"\x70\x47")  # 4770  bx lr
    assert (ret.klass, ret.base, ret.taken_extra) == (C.BRANCH, 1, 2)
    (mov_pc,) = decode(b"\xf7\x46")  # 46f7  mov pc, lr: 1 + P
    assert (mov_pc.klass, mov_pc.base, mov_pc.taken_extra, mov_pc.flags) == (C.ALU, 1, 2, FLAG_TRANSFER)


def test_divide_costs_the_midpoint_and_carries_two_to_twelve() -> None:
    (udiv,) = decode(b"\xb1\xfb\xf2\xf0")  # fbb1 f0f2  udiv r0, r1, r2
    assert (udiv.klass, udiv.base, udiv.band, udiv.flags) == (C.DIVIDE, 7, (2, 12), FLAG_WIDE)
    (m3,) = decode(b"\xb1\xfb\xf2\xf0", core=M3)
    assert (m3.base, m3.band) == (7, (2, 12))


def test_it_folds_onto_a_preceding_16_bit_instruction() -> None:
    folded = decode(
        b"\x08\x00",  # 0008  movs r0, r1
        b"\x08\xbf",  # bf08  it eq            folded: 0
        b"\x01\x20",  # 2001  moveq r0, #1
    )
    assert [(i.klass, i.base) for i in folded] == [(C.ALU, 1), (C.IT, 0), (C.ALU, 1)]
    assert folded[1].band == (0, 1)
    after_wide = decode(
        b"\xb1\xfb\xf2\xf0",  # fbb1 f0f2  udiv r0, r1, r2
        b"\x08\xbf",  # bf08  it eq            after a 32-bit instruction: 1
        b"\x08\x68",  # 6808  ldreq r0, [r1]   condition failed: a 1-cycle NOP, in the band
    )
    assert after_wide[1].base == 1
    assert (after_wide[2].base, after_wide[2].band) == (2, (1, 2))


def test_multiplies_dsp_and_fpu() -> None:
    mla = b"\x01\xfb\x02\x30"  # fb01 3002  mla r0, r1, r2, r3: M4 1, M3 2
    umull = b"\xa2\xfb\x03\x01"  # fba2 0103  umull r0, r1, r2, r3: M4 1, M3 3..5 (costed 5)
    smlal = b"\xc2\xfb\x03\x01"  # fbc2 0103  smlal r0, r1, r2, r3: M4 1, M3 4..7 (costed 7)
    assert [(i.klass, i.base, i.band) for i in decode(mla, umull, smlal)] == [(C.MUL_MAC, 1, (1, 1))] * 3
    assert [(i.base, i.band) for i in decode(mla, umull, smlal, core=M3)] == [(2, (2, 2)), (5, (3, 5)), (7, (4, 7))]
    smlad = b"\x21\xfb\x02\x30"  # fb21 3002  smlad r0, r1, r2, r3: DSP extension, 1 on the M4
    assert [(i.klass, i.base) for i in decode(smlad)] == [(C.SIMD, 1)]
    assert [(i.klass, i.base) for i in decode(smlad, core=M3)] == [(C.UNKNOWN, 1)]  # no DSP on the M3
    fpu = decode(
        b"\x00\xee\x81\x0a",  # ee00 0a81  vmla.f32 s0, s1, s2: 3
        b"\x80\xee\x81\x0a",  # ee80 0a81  vdiv.f32 s0, s1, s2: 14
        b"\x90\xed\x00\x0a",  # ed90 0a00  vldr s0, [r0]: 2
        b"\xb0\xec\x04\x0a",  # ecb0 0a04  vldmia r0!, {s0-s3}: 1 + 4
        b"\x10\xee\x90\x0a",  # ee10 0a90  vmov r0, s1: 1
        b"\x41\xec\x10\x0a",  # ec41 0a10  vmov s0, s1, r0, r1: 2
    )
    assert [(i.klass, i.base) for i in fpu] == [
        (C.FPU, 3), (C.FPU, 14), (C.FPU_MEM, 2), (C.FPU_MEM, 5), (C.FPU, 1), (C.FPU, 2)
    ]  # fmt: skip
    assert fpu[2].flags == FLAG_LOAD | FLAG_WIDE


def test_an_unknown_encoding_is_class_15_base_1() -> None:
    (junk,) = decode(b"\xff\xff\xff\xff")  # ffff ffff: no Thumb-2 instruction
    assert (junk.klass, junk.base, junk.taken_extra, junk.size) == (C.UNKNOWN, 1, 0, 4)
    static = to_arrays(decode(b"\xff\xff\xff\xff", b"\x00\xbf"))  # + bf00 nop
    assert static.unknown == 1


def test_system_instructions() -> None:
    insns = decode(
        b"\x72\xb6",  # b672  cpsid i: 1 or 2
        b"\x30\xbf",  # bf30  wfi: 1 + W
        b"\x00\xbf",  # bf00  nop: 1
        b"\xbf\xf3\x5f\x8f",  # f3bf 8f5f  dmb sy: 1 + B, B >= 0
        b"\xbf\xf3\x6f\x8f",  # f3bf 8f6f  isb sy: 1 + B, B >= P
        b"\x00\xdf",  # df00  svc 0: 1 (the entry is the plugin's exception_entry)
    )
    assert [(i.klass, i.base, i.band) for i in insns] == [
        (C.SYSTEM, 1, (1, 2)), (C.SYSTEM, 1, (1, 1)), (C.NOP, 1, (1, 1)), (C.SYSTEM, 1, (1, 4)),
        (C.SYSTEM, 3, (2, 4)), (C.SYSTEM, 1, (1, 1)),
    ]  # fmt: skip


# --- the cost table of a linked ELF ---------------------------------------------------------------------------------

TINY_S = """\
    .syntax unified
    .thumb
    .text
    .global f
    .type f, %function
    .thumb_func
f:
    ldr r0, [r1]
    ldr r1, [r2]
    ldr r2, =0x12345678
    bx lr
    .ltorg
    .section .data.ramfunc, "ax", %progbits
    .global g
    .type g, %function
    .thumb_func
g:
    udiv r0, r0, r1
    bx lr
"""
TINY_LD = """\
MEMORY { FLASH (rx) : ORIGIN = 0x08000000, LENGTH = 64K  RAM (rwx) : ORIGIN = 0x20000000, LENGTH = 16K }
SECTIONS { .text : { *(.text*) } > FLASH  .data : { *(.data*) } > RAM AT > FLASH }
"""


@needs_toolchain
def test_cost_table_of_a_tiny_elf_with_code_in_ram(tmp_path: Path) -> None:
    (tmp_path / "tiny.S").write_text(TINY_S)
    (tmp_path / "tiny.ld").write_text(TINY_LD)
    elf = tmp_path / "tiny.elf"
    subprocess.run(
        ["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-nostdlib", "-T", str(tmp_path / "tiny.ld"),
         str(tmp_path / "tiny.S"), "-o", str(elf)],
        check=True, capture_output=True,
    )  # fmt: skip
    board = load_board("stm32f405")
    text = cost_table_text(decode_elf(elf, board), board)
    lines = [ln for ln in text.splitlines() if not ln.startswith("#")]
    assert lines == [
        "cosim-cycles-costs 1",
        "flash 0x08000000 0x100000",
        "flash 0x00000000 0x100000",
        "wait_states 5",
        "fetch_bytes 16",
        "prefetch 1",
        "icache 64 16",
        "dcache 8 16",
        "exception_entry 12",
        "timebase 0x40000024",
        # the memory blocks loads pipeline within: the flash and its alias, SRAM1, SRAM2, CCM (no vector table here,
        # so no stack_block line)
        "block 0x08000000 0x100000 0",
        "block 0x00000000 0x100000 0",
        "block 0x20000000 0x1c000 1",
        "block 0x2001c000 0x4000 2",
        "block 0x10000000 0x10000 3",
        *[f"class {c.value} {c.name.lower()}" for c in InsnClass],
        "insn 0x08000000 2 3 2 0 1",  # ldr r0, [r1]
        "insn 0x08000002 2 3 1 0 33",  # ldr r1, [r2]: pipelined (flag 32: if both read one memory block)
        "insn 0x08000004 2 3 1 0 33",  # ldr r2, [pc, #0]: a literal load pipelines like any LDR
        "insn 0x08000006 2 7 1 2 4",  # bx lr
        # 0x08000008: the literal pool ($d), not code
        "insn 0x20000000 4 9 7 0 8",  # udiv r0, r0, r1: in RAM (VMA), loaded from flash
        "insn 0x20000004 2 7 1 2 4",  # bx lr
    ]


STRAIGHT = [
    "load_chain",
    "dependent_loads",
    "address_dependency",
    "load_store",
    "divide_small",
    "multiplies",
    "ldm_stm",
    "indexed_loads",
    "indexed_stores",
    "unaligned_group",
]


@needs_toolchain
@pytest.mark.parametrize("board_id", ["stm32f405", "stm32f205"])
def test_cycle_bench_decodes_to_its_hand_counts_and_layout(board_id: str) -> None:
    """The static half of the live benchmark test (test_cycle_bench.py): the straight-line windows sum to the hand
    counts, and the layout the loop's ART-off count depends on holds."""
    board = load_board(board_id)
    elf = build(board, "cycle_bench").elf
    static = decode_elf(elf, board)
    with elf.open("rb") as fh:
        sym = {s.name: s.address for s in elf_symbols(ELFFile(fh))}
    hand = expected(board_id)
    for name in STRAIGHT:
        window = [i for i in static.insns if sym[f"cb_{name}_a"] < i.addr <= sym[f"cb_{name}_b"]]
        assert sum(i.base for i in window) == hand[name]["art_on"], name
    loop, read_b = sym["cb_loop_flash_loop"], sym["cb_loop_flash_b"]
    assert loop % 16 == 0 and sym["cb_loop_flash_a"] // 16 == loop // 16 - 1  # first read in L0, loop from L1
    assert read_b // 16 == loop // 16 + 2 and (read_b + 6) // 16 == read_b // 16  # second read and the return: L3
    assert sym["cb_loop_ram_loop"] >> 28 == 2  # the RAM copy runs in SRAM
    assert (sym["cb_unaligned_group_a"] + 4) % 4 == 2  # the group's first add.w sits at a halfword address
    assert (sym["cb_indexed_loads_a"] + 4) % 4 == 0  # its 32-bit loads at word addresses: no group
    assert sym["cb_flash_words"] >> 24 == 0x08 and sym["cb_buf"] >> 28 == 2  # load_blocks: flash, then SRAM


# --- the estimate on a synthetic profile ----------------------------------------------------------------------------


def _static():
    def insn(addr, size, klass, base, extra=0, band=None, taken_band=(0, 0)):
        return StaticInsn(addr, size, "", klass, base, extra, 0, band or (base, base), taken_band, "")

    return to_arrays(
        [
            insn(0x08000000, 2, C.LOAD, 2),
            insn(0x08000002, 4, C.DIVIDE, 7, band=(2, 12)),
            insn(0x08000006, 2, C.BRANCH, 1, extra=2, taken_band=(1, 3)),
            insn(0x08000100, 4, C.FPU, 3),
        ],
        [(0x08000000, 8, "f1"), (0x08000100, 4, "f2"), (0x08000100, 4, "f2_alias")],
    )


def _profile(cycles_total: int = 117, flags: int = 0) -> RawProfile:
    insns = np.zeros(5, dtype=INSN_DTYPE)
    insns["addr"] = [0x08000000, 0x08000002, 0x08000006, 0x08000100, 0x08000200]  # the last: not in the table
    insns["exec"] = [10, 3, 10, 4, 2]
    insns["taken"] = [0, 0, 9, 0, 0]  # a count: 9 x taken_extra 2
    insns["fetch_stall"] = [5, 0, 0, 0, 0]
    insns["data_stall"] = [5, 0, 0, 0, 0]
    snaps = np.zeros(3, dtype=SNAPSHOT_DTYPE)
    snaps["instructions"] = [100, 150, 400]
    snaps["cycles"] = [1000, 1100, 1700]
    class_cycles = np.zeros(16, dtype=np.uint64)
    class_cycles[[C.LOAD, C.DIVIDE, C.BRANCH, C.FPU, C.UNKNOWN]] = [20, 21, 10, 12, 2]
    counters = Counters(
        instructions=29, cycles=cycles_total, taken_cycles=18, fetch_stall=5, data_stall=5, exception_entries=2,
        exception_cycles=24, icache_hits=0, icache_misses=0, dcache_hits=0, dcache_misses=0, flash_loads=0,
        unknown_instructions=2, prefetch_hidden=0, pipeline_breaks=0,
    )  # fmt: skip
    return RawProfile(1 << 20, 1 << 18, flags, counters, class_cycles, insns, snaps)


def test_estimate_totals_categories_functions_and_band() -> None:
    est = estimate(_profile(), _static(), 168_000_000)
    # base 20 + 21 + 10 + 12 + 2 (unknown: base 1) = 65; taken 9 x 2 = 18; stalls 5 + 5; exceptions 24
    assert (est.cycles, est.plugin_cycles, est.instructions) == (117, 117, 29)
    assert est.consistent and est.problems == [] and est.unknown_instructions == 2
    assert est.categories == {
        "loads_stores": 20, "alu_mac_simd": 0, "branches": 10 + 18, "divides": 21, "fpu": 12, "system": 0,
        "fetch_wait": 5, "data_wait": 5, "load_pipeline": 0, "exceptions": 24, "unknown": 2,
    }  # fmt: skip
    assert sum(est.categories.values()) == est.cycles
    # low: UDIV at 2, the taken branches at P = 1; high: UDIV at 12, P = 3
    assert est.band == (117 - 3 * 5 - 9 * 1, 117 + 3 * 5 + 9 * 1)
    assert {k: (v.instructions, v.cycles) for k, v in est.functions.items()} == {
        "f1": (23, 30 + 21 + 28), "f2": (4, 12), "(no symbol)": (2, 2)
    }  # fmt: skip
    assert est.seconds == pytest.approx(117 / 168e6)
    assert est.band_seconds == pytest.approx((93 / 168e6, 141 / 168e6))


def test_estimate_disagreeing_with_the_plugin_says_so() -> None:
    est = estimate(_profile(cycles_total=118), _static(), 168_000_000)
    assert est.cycles == 117 and not est.consistent
    full = estimate(_profile(flags=1), _static(), 168_000_000)
    assert not full.consistent and "insn table is full" in full.problems[0]


def test_spans_use_the_nearest_snapshots_and_say_how_far_off() -> None:
    exact, near = estimate(_profile(), _static(), 168_000_000, spans=[(100, 400), (148, 395)]).spans
    assert (exact.cycles, exact.offset_instructions, exact.error_bound_cycles) == (700, 0, 0)
    assert (near.snapshot_begin, near.snapshot_end, near.cycles) == (150, 400, 600)
    # 2 + 5 instructions away; the costliest instruction of the run: the divide, 7 cycles per execution
    assert (near.offset_instructions, near.error_bound_cycles) == (7, 7 * 7)


# --- the boards' cycle_model blocks -----------------------------------------------------------------------------------


def test_every_board_has_a_cycle_model_with_its_reference_manual_numbers() -> None:
    assert "stm32l4r5" in available_boards()
    expected = {  # board: (wait states, fetch bytes, prefetch, icache, dcache)
        "stm32f405": (5, 16, True, (64, 16), (8, 16)),  # RM0090 table 10, ART section 3.5
        "stm32f205": (3, 16, True, (64, 16), (8, 16)),  # RM0033
        "stm32l476": (4, 8, False, (128, 8), (32, 8)),  # RM0351 table 11; 32 lines of 4 x 64-bit reads
        "stm32l4r5": (5, 8, False, (128, 8), (32, 8)),  # RM0432, range 1 boost at 120 MHz
    }
    for board_id, (ws, fetch, prefetch, icache, dcache) in expected.items():
        board = load_board(board_id)
        cm = board.cycle_model
        assert cm is not None and cm.core == board.core
        assert (cm.wait_states, cm.fetch_bytes, cm.prefetch) == (ws, fetch, prefetch), board_id
        assert (cm.icache.lines, cm.icache.line_bytes, cm.dcache.lines, cm.dcache.line_bytes) == (*icache, *dcache)
        assert {a.origin for a in cm.flash} == {0, board.memory.flash.origin}
        assert timebase_address(board) == board.timers.timebase.base + 0x24 == 0x40000024
        assert "cycle_model" not in board.model_dump_json()  # the build key does not change
    l4r5 = load_board("stm32l4r5")
    assert (l4r5.clock_hz, l4r5.memory.flash.size, l4r5.memory.ram.size) == (120_000_000, 2 << 20, 640 << 10)
    assert "netduinoplus2" in l4r5.engines.qemu.unsupported and l4r5.port == "stm32l4"


@needs_toolchain
def test_the_cost_table_names_the_memory_blocks_and_the_stack_block() -> None:
    """Loads pipeline only within one memory block: the table lists the board's blocks (flash aliases 0, the RAMs by
    name) and the block of the ELF's initial stack pointer (the project's link puts the stack at the bottom of RAM:
    SRAM1 on the F405)."""
    board = load_board("stm32f405")
    elf = build(board, "cycle_bench").elf
    static = decode_elf(elf, board)
    with elf.open("rb") as fh:
        top = {s.name: s.address for s in elf_symbols(ELFFile(fh))}["__cosim_stack_top"]
    assert static.initial_sp == top and 0x20000000 < top <= 0x2001C000
    lines = cost_table_text(static, board).splitlines()
    assert [ln for ln in lines if ln.startswith(("block ", "stack_block "))] == [
        "block 0x08000000 0x100000 0", "block 0x00000000 0x100000 0", "block 0x20000000 0x1c000 1",
        "block 0x2001c000 0x4000 2", "block 0x10000000 0x10000 3", "stack_block 1",
    ]  # fmt: skip
    l476 = memory_system(load_board("stm32l476")).block_ids()
    assert [i for o, _, i in l476 if o in (0x10000000, 0x20018000)] == [2, 2]  # SRAM2 and its alias: one block


def test_an_art_off_variant_and_a_board_without_a_cycle_model(tmp_path: Path) -> None:
    board = load_board("stm32f405")
    off = memory_system(board, icache=False, dcache=False, prefetch=False)
    assert (off.icache.lines, off.dcache.lines, off.prefetch, off.wait_states) == (0, 0, False, 5)
    text = cost_table_text(to_arrays(decode(b"\x00\xbf")), board, off)  # bf00 nop
    assert {"icache 0 0", "dcache 0 0", "prefetch 0", "insn 0x08000000 2 14 1 0 0"} <= set(text.splitlines())
    bare = tmp_path / "myboard.yaml"
    bare.write_text(BASE[: BASE.index("# Cycle model")])
    with pytest.raises(BadInput, match=r"board myboard has no cycle_model block: add one to platforms/myboard.yaml"):
        memory_system(load_board(bare))


BASE = (PLATFORMS_DIR / "stm32f405.yaml").read_text().replace("id: stm32f405", "id: myboard")
BAD = [
    (lambda t: t.replace("  wait_states: 5", "  wait_states: 16"), r"cycle_model\.wait_states: 16: Input should be"),
    (lambda t: t.replace("icache: {lines: 64, line_bytes: 16}", "icache: {lines: 64, line_bytes: 24}"),
     r"cycle_model\.icache: .*line_bytes 24 must be a power of two"),
    (lambda t: t.replace("  fetch_bytes: 16", "  fetch_bytes: 12"), r"cycle_model\.fetch_bytes: 12: Input should be"),
    (lambda t: t.replace("  prefetch: true", "  prefetch: true\n  art: on"), r"cycle_model\.art: unknown field"),
    (lambda t: t.replace("  core: cortex-m4\n  flash:", "  core: cortex-m3\n  flash:"),
     r"cycle_model\.core cortex-m3 differs from the board's core cortex-m4"),
    (lambda t: t.replace("{name: sram2, origin: 0x2001C000", "{name: sram2, origin: 0x2001B000"),
     r"cycle_model: .*blocks sram1 and sram2 overlap"),
    (lambda t: t.replace("{name: ccm, origin: 0x10000000", "{name: ccm, origin: 0x08000000"),
     r"cycle_model: .*a block overlaps the flash"),
    (lambda t: t.replace("    blocks: \"RM0090", "    not_blocks: \"RM0090"),
     r"cycle_model\.sources\.not_blocks: unknown field"),
    (lambda t: t.replace("{name: ccm, origin", "{name: CCM RAM, origin"), r"cycle_model\.blocks\[2\]\.name: .*pattern"),
]  # fmt: skip


@pytest.mark.parametrize(("edit", "message"), BAD)
def test_bad_cycle_model_values_are_one_line_naming_file_and_field(tmp_path: Path, edit, message: str) -> None:
    text = edit(BASE)
    assert text != BASE
    path = tmp_path / "myboard.yaml"
    path.write_text(text)
    with pytest.raises(BadInput) as exc:
        load_board(path)
    assert "\n" not in str(exc.value)
    assert re.match(rf"{re.escape(str(path))}:\d+: .*{message}", str(exc.value)), str(exc.value)
