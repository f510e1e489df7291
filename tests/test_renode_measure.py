"""`--measure SYMBOL` on Renode (engines/renode/measure.py): CPU hooks at the functions' entries and return sites give
the same per-call counts as QEMU's breakpoints for the same ELF.

The matching of entries to returns and the hook file's return-site hook run here without Renode (stand-ins for the
CPU and the bus); the live tests need Renode on PATH (`make test-renode`) and are skipped otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest
from cosim_testing import needs_qemu, needs_toolchain
from foreign import build_foreign
from typer.testing import CliRunner

from tinyml_cosim.build.firmware import build
from tinyml_cosim.cli.app import app
from tinyml_cosim.core.boards import load_board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.elf.image import load_image
from tinyml_cosim.elf.thumb import code_at, read_linked_code
from tinyml_cosim.engines.base import CallMeasurement
from tinyml_cosim.engines.renode import engine as renode_engine
from tinyml_cosim.engines.renode.hooks import DONE_HOOK_RETURN, HookStop, hook_one_liner
from tinyml_cosim.engines.renode.measure import CallTracker, MeasureHooks, direct_return_sites
from tinyml_cosim.run.record import RunRecord, Status
from tinyml_cosim.run.session import RunRequest, run_firmware

F405 = load_board("stm32f405")


def needs_renode(test):
    """A live test: marked `renode`, skipped with the reason when Renode is not on PATH."""
    skip = pytest.mark.skipif(renode_engine.renode_binary() is None, reason="renode not on PATH (make test-renode)")
    return pytest.mark.renode(skip(test))


# cpp_virtual's two overrides, reached only through Dispatch's `bx r3` (a tail call): no BL names their return site.
AREAS = ("_ZNK12_GLOBAL__N_16Square4AreaEi", "_ZNK12_GLOBAL__N_16Circle4AreaEi")
F, G = 0x0800_1000, 0x0800_2000  # two functions' entries
SP = 0x2000_1000


# --- host-side matching, without Renode ----------------------------------------------------------------------------
def test_a_call_is_its_entry_count_to_its_return_site_count() -> None:
    t = CallTracker({F | 1: "f"}, hooked_returns={0x0800_0102})
    assert t.stop(F, SP, 0x0800_0103, 100) is None  # the return site has a static hook: nothing to add
    assert t.stop(0x0800_0102, SP, 0, 160) is None
    assert t.calls == [CallMeasurement("f", 100, 60)]
    assert t.stop(0x0800_0102, SP, 0, 500) is None and len(t.calls) == 1  # passed with no call pending: ignored


def test_recursive_calls_are_matched_by_their_stack_pointer() -> None:
    t = CallTracker({F: "f"}, hooked_returns={0x0800_0102, F + 0x20})
    t.stop(F, SP, 0x0800_0103, 10)  # main calls f
    t.stop(F, SP - 16, F + 0x21, 20)  # f calls itself
    t.stop(F, SP - 32, F + 0x21, 30)  # and again
    t.stop(F + 0x20, SP - 32, 0, 40)  # the innermost returns into the middle one (SP as at the innermost's entry)
    t.stop(F + 0x20, SP - 16, 0, 55)  # the middle one returns into the outer one: the same site, a higher SP
    assert [(c.begin, c.instructions) for c in t.calls] == [(30, 10), (20, 35)]
    t.stop(0x0800_0102, SP, 0, 70)
    assert [(c.begin, c.instructions) for c in t.calls] == [(30, 10), (20, 35), (10, 60)]


def test_a_return_address_no_call_site_names_is_hooked_once() -> None:
    t = CallTracker({F: "f", G: "g"})
    assert t.stop(F, SP, 0x0800_0301, 0) == 0x0800_0300  # called through a pointer: hook its LR now
    assert t.stop(0x0800_0300, SP, 0, 7) is None
    assert t.stop(F, SP, 0x0800_0301, 20) is None  # the same return address again: already hooked
    assert t.stop(G, SP - 8, F + 1, 21) is None  # g returns to f's first instruction: f's entry hook serves
    assert t.stop(F, SP - 8, 0x0800_0301, 30) is None  # g returns there; f is entered again, its site is hooked
    assert t.stop(0x0800_0300, SP - 8, 0, 40) is None  # the inner f returns (the outer one's entry SP is higher)
    assert t.stop(0x0800_0300, SP, 0, 45) is None
    assert [(c.function, c.begin, c.instructions) for c in t.calls] == [
        ("f", 0, 7),
        ("g", 21, 9),
        ("f", 30, 10),
        ("f", 20, 25),
    ]


def test_an_exception_handler_is_never_given_a_return_hook() -> None:
    t = CallTracker({F: "handler"})
    assert t.stop(F, SP, 0xFFFF_FFF9, 0) is None  # EXC_RETURN: no instruction there (QEMU never ends it either)
    assert t.calls == []


class FakeRegister:
    def __init__(self, value: int) -> None:
        self.RawValue = value


class FakeCpu:
    """The hook's view of a CortexM: registers, the count, and AddHook with delegates."""

    def __init__(self) -> None:
        self.regs = [0] * 16
        self.ExecutedInstructions = 0
        self.XProgramStatusRegister = 0x0100_0000
        self.added: dict[int, object] = {}
        self.activated = 0

    def GetRegister(self, i: int) -> FakeRegister:
        return FakeRegister(self.regs[i])

    def AddHook(self, address: int, hook: object) -> None:
        self.added[address] = hook

    def ActivateNewHooks(self) -> None:
        self.activated += 1


class FakeMachine:
    SystemBus = None  # measure hooks read no memory


def test_the_entry_hook_adds_a_return_hook_at_lr_that_ends_the_call(tmp_path: Path) -> None:
    measure = MeasureHooks({"f": F | 1}, static_returns=(), skipped=lambda: 2)
    try:
        path = tmp_path / "hooks.py"
        path.write_text(measure.hook_file())
        assert measure.commands(path)[0] == f'cpu AddHook 0x{F:08X} "{hook_one_liner(path, b"E")}"'
        cpu, scope = FakeCpu(), {}
        # Python 2's execfile, as IronPython provides it: run the file in the caller's globals.
        scope["execfile"] = lambda p: exec(compile(Path(p).read_text(), p, "exec"), scope)
        scope["execfile"](str(path))
        cpu.regs[13], cpu.regs[14], cpu.ExecutedInstructions = SP, 0x0800_0401, 1000
        # What the one-liner calls (its kind is a str, which is bytes in IronPython 2.7)
        scope["cosim_hook"](cpu, FakeMachine(), F, b"E")
        assert list(cpu.added) == [0x0800_0400] and cpu.activated == 1  # active before the call runs on
        cpu.ExecutedInstructions = 1234
        cpu.added[0x0800_0400](cpu, 0x0800_0400)  # Renode calls the delegate before the return site's instruction
        assert measure.calls == [CallMeasurement("f", 1002, 234)]  # 2 semihosting calls answered before: retired
        assert measure.error is None and measure._server.stops == 2
    finally:
        measure.close()


def test_the_host_answers_an_entry_with_the_return_hook_flag() -> None:
    measure = MeasureHooks({"f": F}, static_returns=())
    try:
        regs = (0,) * 13 + (SP, 0x0800_0501, F)
        stop = HookStop(b"E", F, 10, regs, 0, lambda a, n: b"", lambda a, n: [], lambda a, d: None)
        assert measure._on_stop(stop) == (0x0800_0500, DONE_HOOK_RETURN)
        assert measure._on_stop(stop) == (0, 0)  # the second call from there: that site already has its hook
    finally:
        measure.close()


@needs_toolchain
def test_return_sites_are_the_instructions_after_each_bl() -> None:
    elf = build(F405, "spans").elf
    work = load_image(elf, F405).symbol("work") & ~1
    sites = direct_return_sites(elf, F405, [work])
    assert len(sites) == 2  # main calls work(1000) and work(5000)
    linked = read_linked_code(elf, F405)
    for site in sites:
        bl = code_at(linked, site - 4, 4)
        first, second = int.from_bytes(bl[:2], "little"), int.from_bytes(bl[2:], "little")
        assert first >> 11 == 0b11110 and second >> 14 == 0b11 and second & 0x1000  # a 32-bit BL just before it
    virtual = build_foreign("cpp_virtual")
    areas = [load_image(virtual, F405).symbol(name) for name in AREAS]
    assert direct_return_sites(virtual, F405, areas) == set()  # only the entry hook's dynamic return hook sees them


# --- live: the same counts as QEMU's -------------------------------------------------------------------------------
def run(elf: Path, engine: str, **kw) -> RunRecord:
    return run_firmware(RunRequest(elf=elf, board="stm32f405", engine=engine, timeout_s=300, **kw))


def per_call(rec: RunRecord) -> list[tuple[str, int, int]]:
    return [(m.function, m.begin, m.instructions) for m in rec.measurements]


@needs_toolchain
@needs_renode
def test_measure_counts_the_project_firmware_as_on_qemu() -> None:
    rec = run(build(F405, "spans").elf, "renode", measure=("work",))
    assert rec.engine == "renode" and rec.status is Status.EXITED and not rec.timing_valid
    # The same numbers as tests/test_qemu_runs.py asserts on QEMU: work(1000), work(5000), and where they begin.
    assert per_call(rec) == [("work", 10_602, 6_004), ("work", 16_642, 30_004)]


@needs_toolchain
@needs_renode
def test_measure_works_on_foreign_firmware_up_to_its_budget() -> None:
    rec = run(build(F405, "foreign_hello").elf, "renode", max_instructions=3_000_000, measure=("heartbeat_delay",))
    assert rec.status is Status.BUDGET_REACHED and not rec.uses_cosim_runtime and rec.instructions == 3_000_000
    assert [m.instructions for m in rec.measurements] == [600_009] * 4  # 100,000 iterations x 6 + 9, every call
    assert [m.begin for m in rec.measurements] == [150, 600_240, 1_200_330, 1_800_420]


@needs_toolchain
@needs_renode
def test_a_budget_ends_a_measured_project_firmware_on_the_instruction() -> None:
    """A measured run starts the project's runtime as a debug session (no service alarm, so no BUDGET event of its
    own): the host stops it at the budget exactly, as QemuEngine.measure does."""
    rec = run(build(F405, "bench_compute").elf, "renode", max_instructions=1_000_000, measure=("matvec",))
    assert rec.status is Status.BUDGET_REACHED and rec.instructions == 1_000_000 and rec.instructions_exact
    assert len(rec.measurements) == 10  # the calls that returned before the budget
    # The first call is QEMU's count too (begin and instructions); later calls differ with the data they multiply.
    assert per_call(rec)[:2] == [("matvec", 106_663, 86_131), ("matvec", 192_819, 85_943)]


@needs_qemu
@needs_renode
def test_virtual_calls_and_tail_calls_count_as_on_qemu() -> None:
    """Invoke is called with BL (a static return site); the Area overrides only through Dispatch's tail call, so
    their return sites are hooked from inside the entry hook (Dispatch is not measured: no static site there)."""
    elf = build_foreign("cpp_virtual")
    names = ("tflite::MicroInterpreter::Invoke(int)", *AREAS)
    q, r = run(elf, "qemu", measure=names), run(elf, "renode", measure=names)
    assert r.status is q.status is Status.EXITED and r.instructions == q.instructions
    assert per_call(r) == per_call(q)
    assert [m.instructions for m in r.measurements if m.function in AREAS] == [58, 114, 58, 114]
    assert len(r.measurements) == 8


@needs_toolchain
@needs_renode
def test_measure_an_unknown_function_is_bad_input_on_renode() -> None:
    with pytest.raises(BadInput, match=r"--measure no_such_function: no function of that name"):
        run(build(F405, "spans").elf, "renode", measure=("no_such_function",))
    res = CliRunner().invoke(
        app, ["run", str(build(F405, "spans").elf), "--board", "stm32f405", "--engine", "renode", "--measure", "nope"]
    )
    assert res.exit_code == 2 and "no function of that name" in res.stderr
