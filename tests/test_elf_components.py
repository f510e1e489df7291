"""Memory per component from the ELF alone (no linker map): the DWARF attribution agrees with the map's."""

from __future__ import annotations

import shutil
from pathlib import Path

from cosim_testing import needs_toolchain

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.elf.image import load_image
from tinyml_cosim.verdicts.memory import evaluate_memory

pytestmark = needs_toolchain


def test_components_without_a_map_agree_with_the_map(firmware, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    board = load_board("stm32f405")
    elf = firmware("vibration_monitor")  # model weights, kernels, DSP, application, runtime and libc
    alone = tmp_path / "app.elf"
    shutil.copy(elf, alone)  # no app.map beside it
    by_map = evaluate_memory(load_image(elf, board), board)
    by_elf = evaluate_memory(load_image(alone, board), board)
    assert by_map.map_file is not None and by_elf.map_file is None
    assert any("from the ELF's symbols and DWARF units" in n for n in by_elf.notes)
    # every byte is accounted for, as with the map
    assert sum(by_elf.components_flash.values()) == by_elf.flash_used == by_map.flash_used
    assert sum(by_elf.components_ram.values()) == by_elf.ram_used == by_map.ram_used
    # each component within what the map puts into padding and literal pools (no symbol covers those)
    slack = 0.08
    for comp in ("model weights", "kernels", "application", "runtime", "libc"):
        want, got = by_map.components_flash[comp], by_elf.components_flash[comp]
        assert abs(got - want) <= slack * want, (comp, got, want)
    assert by_elf.components_ram["stack (reserved)"] == by_map.components_ram["stack (reserved)"]
    assert by_elf.components_ram["runtime"] == by_map.components_ram["runtime"]


def test_an_elf_without_dwarf_is_not_itemised(firmware, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import subprocess

    board = load_board("stm32f405")
    stripped = tmp_path / "app.elf"
    subprocess.run(["arm-none-eabi-strip", "--strip-debug", "-o", str(stripped), str(firmware("demo"))], check=True)
    res = evaluate_memory(load_image(stripped, board), board)
    assert res.components_flash == {"other": res.flash_used}
    assert any("no DWARF" in n for n in res.notes)
