"""Static stack worst case (elf/stack_static.py) from -fstack-usage / -fcallgraph-info, and the painted-stack check
catching a deliberately deep recursion (firmware/tests/apps/deep_recursion)."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.elf.stack_static import analyse, scan_thumb
from tinyml_cosim.elf.thumb import code_at, read_linked_code

pytestmark = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs arm-none-eabi-gcc")

F405, F205 = load_board("stm32f405"), load_board("stm32f205")

# A small firmware with one of each thing the analysis must handle: a known call chain, a libgcc helper (no .su:
# read from the linked code), a naked handler whose assembly branches to C, a call through a function pointer, a
# variable-length array, and (with -DSET_PRIORITY) a write to an NVIC priority register.
_SOURCE = r"""
#include <stdint.h>
extern uint32_t _stack_top[];
typedef int (*op_t)(int);
static int twice(int x) { return 2 * x; }
op_t volatile op = twice;
volatile uint64_t num = 7, den = 3;
__attribute__((noinline)) int leaf(int x) { volatile int a[8]; a[0] = x; return a[0]; }
__attribute__((noinline)) int middle(int x) { volatile int b[16]; b[0] = leaf(x); return b[0] + leaf(b[0]); }
__attribute__((noinline)) int divide(void) { volatile int c[64]; c[0] = (int)(num / den); return c[0]; }
__attribute__((noinline)) int via_pointer(int x) { return op(x) + 1; }
__attribute__((noinline)) int dynamic(int n) { volatile char buf[n]; buf[0] = 1; return buf[n - 1]; }
__attribute__((noinline, used)) void report(void) { volatile int d[32]; d[0] = 1; for (;;) {} }
int main(void) { return divide() + middle(1); }
void Reset_Handler(void) {
#ifdef SET_PRIORITY
    *(volatile uint8_t *)0xE000E400u = 0x40u;
#endif
    main(); for (;;) {}
}
__attribute__((naked)) void Fault_Handler(void) { __asm__ volatile("b report\n"); }
void Tick_Handler(void) { via_pointer(3); }
void Irq_Handler(void) { dynamic(5); }
__attribute__((section(".isr_vector"), used)) const void *vectors[17] = {
    _stack_top, Reset_Handler, Fault_Handler, Fault_Handler, [15] = Tick_Handler, [16] = Irq_Handler,
};
"""
_LDSCRIPT = """
MEMORY { FLASH (rx) : ORIGIN = 0x08000000, LENGTH = 1M
         RAM (rwx) : ORIGIN = 0x20000000, LENGTH = 128K }
SECTIONS {
  .isr_vector : { KEEP(*(.isr_vector)) } > FLASH
  .text : { *(.text*) *(.rodata*) } > FLASH
  .data : { *(.data*) } > RAM AT > FLASH
  .bss : { *(.bss*) *(COMMON) } > RAM
  _stack_top = ORIGIN(RAM) + LENGTH(RAM);
}
"""


def _build(tmp: Path, *defines: str) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "t.c").write_text(_SOURCE)
    (tmp / "t.ld").write_text(_LDSCRIPT)
    flags = [*F405.compiler.cflags, "-O2", "-ffunction-sections", *defines]
    cc = ["arm-none-eabi-gcc", *flags]
    subprocess.run([*cc, "-fstack-usage", "-fcallgraph-info=su", "-c", "t.c", "-o", "t.o"], cwd=tmp, check=True)
    subprocess.run([*cc, "-nostdlib", "-T", "t.ld", "t.o", "-lgcc", "-o", "t.elf"], cwd=tmp, check=True)
    return tmp / "t.elf"


def _frames(tmp: Path) -> dict[str, int]:
    lines = [ln.split("\t") for ln in (tmp / "t.su").read_text().splitlines()]
    return {where.rsplit(":", 1)[1]: int(size) for where, size, _ in lines}


def test_thumb_scanner_reads_stack_adjustments_and_branches() -> None:
    # push {r4, r5, lr}; sub sp, #16; vpush {d8}; bl +0x100; blx r3
    code = bytes.fromhex("30b5") + bytes.fromhex("84b0") + bytes.fromhex("2ded028b")
    code += bytes.fromhex("00f07ef8") + bytes.fromhex("9847")
    down, targets, indirect = scan_thumb(code, 0x1000)
    assert down == 12 + 16 + 8
    assert targets == [0x1000 + 8 + 4 + 0xFC] and indirect == 1


# One instruction each at 0x2000, with what the hand-written decoder capstone replaced gave for it.
_ENCODINGS = {
    "2de9f041": (24, [], 0),  # push.w {r4-r8, lr}
    "4df8044d": (4, [], 0),  # str r4, [sp, #-4]!
    "4df8044b": (0, [], 0),  # str r4, [sp], #4 (post-indexed: SP goes up)
    "6de90223": (8, [], 0),  # strd r2, r3, [sp, #-8]!
    "adf5807d": (256, [], 0),  # sub.w sp, sp, #0x100
    "adf2047d": (1796, [], 0),  # subw sp, sp, #0x704
    "bdf1080d": (8, [], 0),  # subs.w sp, sp, #8
    "adeb000d": (0, [], 0),  # sub.w sp, sp, r0 (not known statically)
    "2ded028a": (8, [], 0),  # vpush {s16, s17}
    "fee7": (0, [0x2000], 0),  # b . (T2)
    "fed0": (0, [0x2000], 0),  # beq . (T1)
    "40f00080": (0, [0x2004], 0),  # bne.w (T3)
    "00f000b8": (0, [0x2004], 0),  # b.w (T4)
    "7047": (0, [], 0),  # bx lr: a return
    "1847": (0, [], 1),  # bx r3
    "08b1": (0, [], 0),  # cbz: a branch within the function
    "80f30888": (0, [], 0),  # msr msp, r0: shares the branch encodings' first halfword
    "00f000e8": (0, [], 0),  # blx #imm: none on the M profile
    "ffffffff30b5": (12, [], 0),  # an undecodable pool word, then push {r4, r5, lr}
}


@pytest.mark.parametrize("code", list(_ENCODINGS))
def test_thumb_scanner_per_encoding(code: str) -> None:
    assert scan_thumb(bytes.fromhex(code), 0x2000) == _ENCODINGS[code]


def test_linked_code_figures_are_the_previous_decoder_s(tmp_path: Path) -> None:
    elf = _build(tmp_path)
    linked = read_linked_code(elf, F405)

    def scan(name: str) -> tuple[int, set[str], int]:
        addr, size = linked.funcs[name]
        down, targets, indirect = scan_thumb(code_at(linked, addr, size), addr)
        return down, {linked.starts[t][0] for t in targets if t in linked.starts and t != addr}, indirect

    # libgcc 12.2's 64-bit division helpers and the naked handler, as the hand-written decoder read them
    assert scan("__aeabi_uldivmod") == (16, {"__aeabi_ldiv0", "__udivmoddi4"}, 0)
    assert scan("__udivmoddi4") == (32, set(), 0)
    assert scan("__aeabi_ldiv0") == (0, set(), 0)
    assert scan("Fault_Handler") == (0, {"report"}, 0)
    s = analyse(elf, F405, tmp_path)
    assert s.thread is not None
    frames = _frames(tmp_path)
    assert s.thread.bytes == sum(frames[f] for f in ("Reset_Handler", "main", "divide")) + 16 + 32
    assert s.lower_bound == s.thread.bytes + 2 * (frames["report"] + 108) + frames["via_pointer"] + 108


def test_call_graph_worst_path_unknowns_and_nesting(tmp_path: Path) -> None:
    elf = _build(tmp_path)
    frames = _frames(tmp_path)
    s = analyse(elf, F405, tmp_path)
    assert s.available and s.thread is not None
    # The deepest thread path goes through the libgcc division, whose frame comes from the linked code.
    assert s.thread.path[:3] == ("Reset_Handler", "main", "divide") and s.thread.known
    assert s.thread.path[-1] == "__udivmoddi4" and "__aeabi_uldivmod" in s.thread.path
    compiled = sum(frames[f] for f in ("Reset_Handler", "main", "divide"))
    assert s.thread.bytes > compiled  # the libgcc helpers add their own pushes
    by_exc = {h.exception: h for h in s.handlers}
    # The naked fault handler's assembly branch to report() is followed in the ELF.
    assert by_exc["NMI"].depth.path == ("Fault_Handler", "report") and by_exc["NMI"].depth.bytes == frames["report"]
    tick, irq = by_exc["SysTick"].depth, by_exc["IRQ0"].depth
    assert [u.kind for u in tick.unknown] == ["function pointer"] and tick.unknown[0].function == "via_pointer"
    assert [u.kind for u in irq.unknown] == ["dynamic frame"] and irq.unknown[0].function == "dynamic"
    # Unknown, never zero: no worst case, a lower bound with every nesting level and its FPU frame.
    assert s.worst_bytes is None and {u.kind for u in s.unknown} == {"function pointer", "dynamic frame"}
    assert [lv.priority for lv in s.levels] == [-2, -1, 0]
    assert all(lv.frame_bytes == 104 + 4 for lv in s.levels)
    assert s.lower_bound == s.thread.bytes + sum(lv.handler.depth.bytes + 108 for lv in s.levels)
    assert "unknown (" in s.summary() and "via_pointer" in s.summary()
    # The Cortex-M3 has no FPU context: 32-byte frames.
    assert all(lv.frame_bytes == 32 + 4 for lv in analyse(elf, F205, tmp_path).levels)


def test_priority_writes_make_every_configurable_handler_its_own_level(tmp_path: Path) -> None:
    s = analyse(_build(tmp_path, "-DSET_PRIORITY"), F405, tmp_path)
    configurable = [lv for lv in s.levels if lv.priority is None]
    assert {lv.handler.exception for lv in configurable} == {"SysTick", "IRQ0"}
    assert "own preemption level" in s.priorities_note


def test_project_firmware_is_bounded_and_covers_the_measured_mark(firmware) -> None:  # type: ignore[no-untyped-def]
    from tinyml_cosim.run.session import RunRequest, run_firmware
    from tinyml_cosim.verdicts.evaluate import stack_used_of

    elf = firmware("demo")
    s = analyse(elf, F405)
    assert s.available and s.worst_bytes is not None, s.summary()
    assert s.thread is not None and s.thread.path[:2] == ("Reset_Handler", "main")
    assert {lv.handler.function for lv in s.levels} >= {"HardFault_Handler"}
    measured = stack_used_of(run_firmware(RunRequest(elf=elf, board="stm32f405")))
    assert measured is not None and s.worst_bytes >= measured


def test_foreign_elf_without_stack_usage_says_unknown(firmware, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tinyml_cosim.cli.app import app, mount_extensions

    lone = tmp_path / "app.elf"
    shutil.copy(firmware("demo"), lone)  # no .su/.ci beside it
    s = analyse(lone, F405)
    assert not s.available and s.worst_bytes is None
    assert s.summary() == "static stack: unknown — no -fstack-usage output beside the ELF"
    mount_extensions()
    res = CliRunner().invoke(app, ["memory", str(lone), "--board", "stm32f405"])
    assert res.exit_code == 0 and "static stack: unknown — no -fstack-usage output beside the ELF" in res.output
    res = CliRunner().invoke(app, ["memory", str(firmware("demo")), "--board", "stm32f405", "--json"])
    st = json.loads(res.output)["stack_static"]
    assert st["available"] and st["worst_bytes"] == st["lower_bound_bytes"] > 0
    assert st["thread"]["path"][:2] == ["Reset_Handler", "main"] and len(st["levels"]) == 3


def test_deep_recursion_unknown_statically_and_caught_by_the_painted_stack(tmp_path: Path) -> None:
    from tinyml_cosim.orchestrate.scenario_runs import ScenarioRunRequest, run_scenario

    scenario = tmp_path / "deep.yaml"
    scenario.write_text(
        "version: 1\nname: deep-recursion\nboard: stm32f405\napp: deep_recursion\nseed: 1\nduration_s: 0.05\n"
        "sensors:\n  - {id: accel, part: lis2dw12, odr_hz: 200, range_g: 4, mode: high_performance,\n"
        "     signal: [{type: gravity}]}\n"
        'expect:\n  memory:\n    stack_bytes: "<= 2048"\n'
    )
    outcome = run_scenario(ScenarioRunRequest(scenario, out=tmp_path / "rep"))
    r = outcome.report
    by_id = {c.id: c for c in r.checks}
    used = r.memory.stack_used
    assert outcome.exit_code == 1 and used is not None and used > 0.9 * r.memory.stack_reserved
    assert [c.id for c in r.checks if c.failed] == ["memory.stack", "memory.stack_bytes"]
    assert by_id["memory.stack_bytes"].message == f"memory.stack_bytes: actual {used} bytes, expected <= 2048 bytes"
    assert f"stack high-water mark {used} of {r.memory.stack_reserved} bytes" in by_id["memory.stack"].message
    # Statically: unknown because of the recursion (a warning with the lower bound), not a number.
    st = r.memory.stack_static
    assert st is not None and st.available and st.worst_bytes is None
    assert [(u.kind, u.function) for u in st.unknown] == [("recursion", "descend")]
    assert by_id["memory.stack_static"].status.value == "warn" and "cycle descend → descend" in st.summary
    suite = ET.parse(tmp_path / "rep" / "junit.xml").getroot()
    fail = next(c for c in suite.iter("testcase") if c.get("name") == "memory.stack_bytes").find("failure")
    assert fail is not None and fail.get("message") == f"actual {used} bytes, expected <= 2048"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["stack_static_worst_bytes"] == "unknown" and props["stack_high_water_mark_bytes"] == str(used)
    page = (tmp_path / "rep" / "report.html").read_text()
    assert "static worst case <b>unknown</b>" in page and "recursion in descend" in page
