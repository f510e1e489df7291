"""The cycle-profile QEMU plugin (engines/qemu/plugin/cycles.c, issue 15): run on firmwares beside the exact-count
plugin, with cost tables written here (every instruction base 1, taken transfers 2 more, exception entry 12; wait
states only where a test says so), and checked against the exact count, against a recomputation from the table,
and, on tests/firmware/foreign/cycle_loop, against numbers worked out by hand from its layout."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from cosim_testing import needs_qemu
from elftools.elf.elffile import ELFFile
from foreign import build_foreign
from synthetic_costs import EXCEPTION_ENTRY, F_BRANCH, TAKEN_EXTRA, code_of, cost_table, handlers

from tinyml_cosim.build.firmware import build
from tinyml_cosim.core.boards import load_board
from tinyml_cosim.core.errors import EngineError
from tinyml_cosim.engines.qemu import cycleplugin, plugin
from tinyml_cosim.engines.qemu.cycleplugin import RawProfile

MISSING = cycleplugin.unavailable_reason()
pytestmark = [needs_qemu, pytest.mark.skipif(MISSING is not None, reason=f"cycle plugin: {MISSING}")]

LOOPS, POLLS = 1000, 10


def symbol(elf: Path, name: str) -> int:
    with open(elf, "rb") as fh:
        sym = ELFFile(fh).get_section_by_name(".symtab").get_symbol_by_name(name)
        assert sym, f"{name} not in {elf}"
        return sym[0]["st_value"] & ~1


def vector(elf: Path, number: int) -> int:
    """The handler address in entry `number` of the vector table at the start of flash."""
    with open(elf, "rb") as fh:
        for seg in ELFFile(fh).iter_segments(type="PT_LOAD"):
            if seg["p_paddr"] == 0x08000000:
                return int.from_bytes(seg.data()[4 * number : 4 * number + 4], "little") & ~1
    raise AssertionError(f"no vector table at 0x08000000 in {elf}")


@dataclass(frozen=True)
class Run:
    exact: int  # the exact-count plugin's instructions
    profile: RawProfile


def run_qemu(
    elf: Path, costs: str, tmp: Path, budget: int | None = None, decode_loads: bool = True, **capacity: int
) -> Run:
    """Both plugins on QEMU's command line; with `budget`, the icount plugin holds the vCPU there and the profile
    is read from the live QEMU before it is killed."""
    (tmp / "costs.txt").write_text(costs)
    state, profile = tmp / "icount.state", tmp / "cycles.profile"
    argv = ["qemu-system-arm", "-M", "netduinoplus2", "-kernel", str(elf), "-display", "none", "-monitor", "none",
            "-serial", "null", "-icount", "shift=0,sleep=off", "-semihosting-config", "enable=on,target=native",
            *plugin.qemu_args(state, budget),
            *cycleplugin.qemu_args(tmp / "costs.txt", profile, decode_loads=decode_loads, **capacity)]  # fmt: skip
    if budget is None:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        snap = plugin.PluginCounter(state).snapshot()
        assert snap is not None and snap.state is plugin.PluginState.EXITED
        return Run(snap.count, cycleplugin.read_profile(profile))
    qemu = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        counter = plugin.PluginCounter(state)
        deadline = time.monotonic() + 120
        while (snap := counter.snapshot()) is None or snap.state is not plugin.PluginState.HELD:
            assert qemu.poll() is None and time.monotonic() < deadline, "QEMU ended before the budget hold"
            time.sleep(0.02)
        live = cycleplugin.read_profile(profile)  # QEMU alive: the vCPU waits in the hold
    finally:
        qemu.kill()
        qemu.wait()
    dead = cycleplugin.read_profile(profile)  # and after QEMU was killed: the same numbers
    assert dead.counters == live.counters and np.array_equal(dead.insns, live.insns)
    return Run(snap.count, live)


def recomputed_cycles(p: RawProfile, base: dict[int, int], taken_extra: dict[int, int]) -> int:
    """The total from the insn table and the cost table, as the model recomputes it."""
    b = np.array([base.get(int(a), 1) for a in p.insns["addr"]], dtype=np.uint64)
    t = np.array([taken_extra.get(int(a), 0) for a in p.insns["addr"]], dtype=np.uint64)
    c = p.counters
    return (
        int((p.insns["exec"] * b).sum() + (p.insns["taken"] * t).sum())
        + c.fetch_stall
        + c.data_stall
        + (c.exception_cycles)
    )


F405 = load_board("stm32f405")


def firmware(name: str) -> tuple[Path, int | None]:
    if name == "busy_loop":
        return build_foreign(name, ITERATIONS="2000"), None
    if name == "foreign_hello":  # the project's app, a heartbeat that never ends: a budget hold
        return build(F405, name).elf, 3_000_000
    if name == "hal_clock_timeout":  # SysTick interrupts; waits for a clock QEMU never readies: a budget hold
        return build_foreign(name), 2_000_000
    return build_foreign(name), None


@pytest.mark.parametrize(
    "name", ["semihosting_printf", "busy_loop", "cpp_virtual", "foreign_hello", "hal_clock_timeout"]
)
def test_counts_agree_with_the_exact_count_and_the_table(tmp_path: Path, name: str) -> None:
    elf, budget = firmware(name)
    code = code_of(elf)
    run = run_qemu(elf, cost_table(code, elf=elf), tmp_path, budget)
    p, c = run.profile, run.profile.counters
    assert c.instructions == run.exact > 5_000
    if budget is not None:
        assert c.instructions == budget  # the icount plugin's hold comes before this plugin's count of the next
    assert int(p.insns["exec"].sum()) == c.instructions
    assert p.flags == 0 and c.unknown_instructions == 0 and len(np.unique(p.insns["addr"])) == len(p.insns)
    assert set(p.insns["addr"].tolist()) <= set(code)
    taken = int(p.insns["taken"].sum())
    assert taken > 0 and c.taken_cycles == TAKEN_EXTRA * taken
    assert not p.insns["taken"][(p.insns["flags"] & F_BRANCH) == 0].any()  # only what may transfer control
    assert c.exception_cycles == EXCEPTION_ENTRY * c.exception_entries
    assert c.fetch_stall == c.data_stall == 0  # no wait states in this table
    # base 1, no stalls: every instruction one cycle, plus transfers and exception entries
    assert c.cycles == c.instructions + c.taken_cycles + c.exception_cycles
    assert c.cycles == recomputed_cycles(p, {}, {a: TAKEN_EXTRA for a in code})
    assert int(p.class_cycles.sum()) == c.instructions
    assert int(p.class_cycles[1]) == int(p.insns["exec"][p.insns["cls"] == 1].sum())
    # sizes from the encoding (QEMU reports 4 for a 16-bit instruction it peeks at twice before a page boundary)
    assert all(int(size) == code[int(addr)].size for addr, size in zip(p.insns["addr"], p.insns["size"], strict=True))
    # every exception entry is a handler's first instruction running (no firmware here calls a handler)
    at_handlers = sum(int(e["exec"]) for a in handlers(elf) for e in p.insns[p.insns["addr"] == a])
    assert c.exception_entries == at_handlers
    if name == "hal_clock_timeout":  # SysTick interrupts, most of them right after a loop's branch
        assert c.exception_entries == entry(p, vector(elf, 15))["exec"] > 10


@pytest.fixture(scope="module")
def loop_elf() -> Path:
    return build_foreign("cycle_loop", LOOPS=str(LOOPS), POLLS=str(POLLS))


def entry(p: RawProfile, addr: int) -> np.void:
    rows = p.insns[p.insns["addr"] == addr]
    assert len(rows) == 1, f"0x{addr:08x}"
    return rows[0]


def test_known_loop_taken_count_and_snapshots(tmp_path: Path, loop_elf: Path) -> None:
    run = run_qemu(loop_elf, cost_table(code_of(loop_elf)), tmp_path)
    p, c = run.profile, run.profile.counters
    loop, poll, last = (symbol(loop_elf, s) for s in ("loop", "poll", "last_read"))
    bne = entry(p, loop + 2)
    assert entry(p, loop)["exec"] == bne["exec"] == LOOPS
    assert bne["taken"] == LOOPS - 1  # the last round falls through
    assert entry(p, poll + 4)["taken"] == POLLS - 1
    assert entry(p, symbol(loop_elf, "Reset_Handler") + 2)["taken"] == 1  # b.n loop
    assert c.taken_cycles == TAKEN_EXTRA * (LOOPS - 1 + POLLS - 1 + 1)
    assert c.exception_entries == 0 and c.instructions == run.exact
    assert c.flash_loads == 3  # the three literals; TIM2 is no flash
    # snapshots: one read, a polling loop of POLLS reads at one pc (one snapshot, the last read's), one more read
    s = p.snapshots
    assert s["pc"].tolist() == [symbol(loop_elf, "after") + 2, poll, last]
    first = int(s["instructions"][0])
    assert s["instructions"].tolist() == [first, first + 1 + 3 * (POLLS - 1) + 1, first + 1 + 3 * POLLS + 1]
    assert (s["cycles"] == s["instructions"] + s["taken"] + s["exception_cycles"]).all()
    assert (s["class_cycles"].sum(axis=1) == s["instructions"]).all()
    assert s["taken"][0] == TAKEN_EXTRA * LOOPS  # b.n + LOOPS - 1 back edges before the first read


@pytest.mark.parametrize(
    ("items", "loop_stall", "hidden"),
    [
        (["wait_states 5"], 5 * LOOPS, 0),  # no cache: every round re-reads the line after the taken branch
        (["wait_states 5", "icache 64 16"], 5, 0),  # one miss, then LOOPS - 1 hits
        # prefetch: the first read of the loop line follows Reset_Handler's line, whose two instructions took 2
        # cycles of the 5 + 1 the read takes; every round after that reads the same line after a taken branch
        (["wait_states 5", "prefetch 1"], (5 + 1 - 2) + 5 * (LOOPS - 1), 1),
    ],
)
def test_flash_wait_states_and_art_cache_on_the_loop(tmp_path: Path, loop_elf: Path, items, loop_stall, hidden) -> None:
    code = code_of(loop_elf)
    p = run_qemu(loop_elf, cost_table(code, "fetch_bytes 16", *items), tmp_path).profile
    c, loop = p.counters, symbol(loop_elf, "loop")
    assert entry(p, loop)["fetch_stall"] == loop_stall
    assert entry(p, loop + 2)["fetch_stall"] == 0  # a line's stall goes to its first instruction
    assert c.fetch_stall == int(p.insns["fetch_stall"].sum()) and c.data_stall == int(p.insns["data_stall"].sum())
    if "icache 64 16" in items:
        assert c.icache_misses == 4  # Reset_Handler, loop, `after`, `last_read` lines: each read once
        assert c.icache_hits >= LOOPS - 1 + POLLS - 1
        assert c.fetch_stall == 5 * c.icache_misses
    if "prefetch 1" in items:
        assert c.prefetch_hidden >= hidden
    else:
        assert c.prefetch_hidden == 0
    assert c.data_stall == 5 * 3 and entry(p, symbol(loop_elf, "Reset_Handler"))["data_stall"] == 5
    assert c.cycles == recomputed_cycles(p, {}, {a: TAKEN_EXTRA for a in code})
    assert c.cycles == c.instructions + c.taken_cycles + c.fetch_stall + c.data_stall


def test_art_data_cache_on_flash_literals(tmp_path: Path, loop_elf: Path) -> None:
    """The three literals: the loop count and TIM2's address share a 16-byte line, SYS_EXIT's reason is in the
    next: miss, hit, miss."""
    p = run_qemu(loop_elf, cost_table(code_of(loop_elf), "wait_states 5", "dcache 8 16"), tmp_path).profile
    c = p.counters
    assert (c.dcache_misses, c.dcache_hits, c.flash_loads) == (2, 1, 3)
    assert c.data_stall == 10


@pytest.mark.parametrize("name", ["busy_loop", "hal_clock_timeout"])
def test_profile_is_deterministic(tmp_path: Path, name: str) -> None:
    elf, budget = firmware(name)
    costs = cost_table(code_of(elf), "wait_states 5", "icache 64 16", "dcache 8 16", "prefetch 1", elf=elf)
    a, b = (run_qemu(elf, costs, tmp_path / d, budget).profile for d in ("a", "b") if (tmp_path / d).mkdir() is None)
    assert a.counters == b.counters and a.counters.fetch_stall > 0 and a.counters.dcache_hits > 0
    assert np.array_equal(a.insns, b.insns) and np.array_equal(a.snapshots, b.snapshots)
    assert np.array_equal(a.class_cycles, b.class_cycles)


@pytest.mark.parametrize("name", ["semihosting_printf", "cpp_virtual", "hal_clock_timeout"])
def test_decoded_literal_and_stack_loads_count_as_through_callbacks(tmp_path: Path, name: str) -> None:
    """The plugin charges PC-relative literal loads without a memory callback and skips SP-addressed ones: the
    same flash loads, data cache hits and stalls, per instruction, as with a callback for every load (a data cache
    large enough that the order of a block's loads does not matter: the addresses do)."""
    elf, budget = firmware(name)
    costs = cost_table(code_of(elf), "wait_states 3", "dcache 256 16", elf=elf)
    decoded, called = (
        run_qemu(elf, costs, tmp_path / d, budget, decode_loads=(d == "decoded")).profile
        for d in ("decoded", "called")
        if (tmp_path / d).mkdir() is None
    )
    assert decoded.counters == called.counters and decoded.counters.flash_loads > 10
    assert np.array_equal(decoded.insns, called.insns)


def test_full_tables_are_flagged_and_the_totals_still_count(tmp_path: Path, loop_elf: Path) -> None:
    run = run_qemu(loop_elf, cost_table(code_of(loop_elf)), tmp_path, insns=8, snapshots=2)
    p, c = run.profile, run.profile.counters
    assert p.flags == cycleplugin.FLAG_INSNS_FULL | cycleplugin.FLAG_SNAPSHOTS_FULL
    assert (p.insn_capacity, len(p.insns), p.snapshot_capacity, len(p.snapshots)) == (8, 8, 2, 2)
    assert c.instructions == run.exact and int(p.insns["exec"].sum()) < c.instructions
    assert c.cycles == c.instructions + c.taken_cycles  # the instructions past the table still cost their cycles
    assert p.snapshots["pc"].tolist() == [symbol(loop_elf, "after") + 2, symbol(loop_elf, "poll")]


def test_a_bad_cost_table_stops_qemu_with_the_line(tmp_path: Path, loop_elf: Path) -> None:
    costs = cost_table(code_of(loop_elf)).replace("exception_entry 12", "exception_entry twelve")
    with pytest.raises(AssertionError, match=r"costs.txt:5: expected one decimal number"):
        run_qemu(loop_elf, costs, tmp_path)


def test_reader_refuses_what_is_not_a_profile(tmp_path: Path) -> None:
    (tmp_path / "p").write_bytes(b"\0" * 8192)
    with pytest.raises(EngineError, match="not a cycle profile"):
        cycleplugin.read_profile(tmp_path / "p")
    with pytest.raises(EngineError, match="cannot read"):
        cycleplugin.read_profile(tmp_path / "missing")
