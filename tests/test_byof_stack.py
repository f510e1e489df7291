"""Stack of a vendor-way firmware (issue #14 items 5 and 7): the region the engine paints (from CubeMX's symbols, or
--stack-region), the high-water mark read back, counts unchanged by painting; static analysis bounding C++ virtual
calls and a const table of function pointers instead of leaving them unknown."""

from __future__ import annotations

import json

import pytest
from cosim_testing import needs_qemu, needs_toolchain
from foreign import build_foreign
from typer.testing import CliRunner

from tinyml_cosim.cli.app import app
from tinyml_cosim.core.boards import load_board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.elf.image import load_image
from tinyml_cosim.elf.stack_region import StackRegion, high_water, parse_region, stack_region
from tinyml_cosim.elf.stack_static import analyse
from tinyml_cosim.engines.qemu.paint import PAINT_WORD, paint_args

BOARD = load_board("stm32f405")


def test_high_water_is_the_deepest_word_that_lost_the_paint() -> None:
    region = StackRegion(0x20000000, 4096, "test")
    memory = bytearray(PAINT_WORD.to_bytes(4, "little") * 1024)
    memory[4096 - 300 : 4096] = b"\0" * 300  # used from the top down to 300 bytes below it
    memory[4096 - 1500] = 1  # one word deeper, e.g. an uninitialised local that was written
    assert high_water(lambda a, n: bytes(memory[a - region.start : a - region.start + n]), region) == 1500
    assert parse_region("0x2001f000:0x1000") == (0x2001F000, 0x1000)
    for bad in ("0x2001f000", "a:b", "0x2001f001:0x100", "0x2001f000:0"):
        with pytest.raises(BadInput, match="--stack-region"):
            parse_region(bad)


@needs_toolchain
def test_the_region_of_a_cubemx_layout() -> None:
    image = load_image(build_foreign("cpp_virtual"), BOARD)
    region = stack_region(image, BOARD)
    assert region is not None
    # from the end of ._user_heap_stack's heap part (_Min_Heap_Size) up to _estack, the top of RAM
    heap = next(s for s in image.sections if s.name == "._user_heap_stack")
    assert region.start == heap.address + 0x2000 and region.top == image.symbol("_estack") == 0x20020000
    assert "_estack" in region.source and "_Min_Stack_Size" in region.source
    args = paint_args(image, BOARD, region)
    assert args[0] == "-device" and args[1].startswith("loader,file=") and f"addr=0x{region.start:08x}" in args[1]
    with pytest.raises(BadInput, match="not inside the board's RAM"):
        stack_region(image, BOARD, (0x10000000, 0x1000))  # CCM: not modelled by QEMU


@needs_toolchain
@needs_qemu
def test_high_water_mark_of_a_foreign_firmware_and_counts_unchanged() -> None:
    elf = build_foreign("cpp_virtual")
    runner = CliRunner()
    base = ["run", str(elf), "--board", "stm32f405", "--json"]
    # stopped by the budget: the emulator still holds the CPU, the painted stack is read back
    budget = json.loads(runner.invoke(app, [*base, "--max-instructions", "13000"]).stdout)
    assert budget["status"] == "budget_reached"
    used = budget["stack_used"]
    static = analyse(elf, BOARD)
    assert static.thread is not None
    # FillStack's 1 KiB buffer is on the stack; the measured depth never exceeds the static thread path
    assert 1024 < used <= static.thread.bytes and "painted by the engine" in budget["stack_used_source"]
    other = json.loads(runner.invoke(app, [*base, "--max-instructions", "13000", "--stack-region",
                                           "0x2001e000:0x2000"]).stdout)  # fmt: skip
    assert other["stack_used"] == used and "--stack-region" in other["stack_used_source"]
    # painting adds no instruction: whole runs with different painted regions retire the same count
    full = [json.loads(runner.invoke(app, [*base, *extra]).stdout) for extra in ([], ["--stack-region",
                                                                                     "0x2001f000:0x1000"])]  # fmt: skip
    assert full[0]["status"] == "exited" and full[0]["instructions"] == full[1]["instructions"]
    text = runner.invoke(app, ["run", str(elf), "--board", "stm32f405", "--max-instructions", "13000"])
    assert f"[stack] high-water mark {used:,} B (painted by the engine" in text.stderr


@needs_toolchain
def test_virtual_calls_and_registration_tables_are_bounded_not_unknown() -> None:
    elf = build_foreign("cpp_virtual")
    s = analyse(elf, BOARD, elf.parent / "obj")
    assert s.available
    assert not [u for u in s.unknown if u.kind == "function pointer"], s.summary()
    bounded = s.bounded
    assert any("Dispatch" in b for b in bounded)  # the virtual call Shape::Area
    assert any("MicroInterpreter" in b and "Invoke" in b for b in bounded)  # kRegistrations[i].invoke and resolver.Find
    assert s.candidates >= 5  # Square::Area, Circle::Area, OpResolver::Find, AddEval, MulEval (+ init/fini)
    assert "bounded by the deepest of" in s.summary()
