"""Memory per component: one rule table for the linker map's object files and the DWARF units' source files, and
from the ELF alone (no linker map) the DWARF attribution agrees with the map's."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cosim_testing import needs_toolchain

from tinyml_cosim.core.boards import load_board
from tinyml_cosim.elf.components import DWARF, MAP, RULES, component_of_input, component_of_source
from tinyml_cosim.elf.image import load_image
from tinyml_cosim.elf.linkmap import InputSection
from tinyml_cosim.verdicts.memory import evaluate_memory

FW = "/src/tinyml_cosim/firmware"
BUILD = "/cache/build/stm32f405/app-0123/obj"

# (object file as the map names it, source file as DWARF names it, code?, component): the project's own files
SAME_FILE = [
    (f"{BUILD}/nn/ref/conv.o", f"{FW}/nn/ref/conv.c", True, "kernels"),
    (f"{BUILD}/boards/cortex_m/startup.o", f"{FW}/boards/cortex_m/startup.c", True, "runtime"),
    (f"{BUILD}/hal/cosim_runtime.o", f"{FW}/hal/cosim_runtime.c", False, "runtime"),
    (f"{BUILD}/{FW}/apps/demo/main.o", f"{FW}/apps/demo/main.c", True, "application"),
    (f"{BUILD}/dsp/fft.o", f"{FW}/dsp/fft.c", True, "application"),
    (f"{BUILD}//cache/models/m/model.o", "/cache/models/m/model.c", True, "kernels"),
    (f"{BUILD}//cache/models/m/model.o", "/cache/models/m/model.c", False, "model weights"),
    (f"{BUILD}//cache/CMSIS-NN/Source/arm_convolve_s8.o", "/cache/CMSIS-NN/Source/arm_convolve_s8.c", True, "kernels"),
]


@pytest.mark.parametrize(("obj", "src", "code", "component"), SAME_FILE)
def test_the_map_and_dwarf_put_the_same_file_in_the_same_component(
    obj: str, src: str, code: bool, component: str
) -> None:
    section = InputSection(".text" if code else ".data", ".text.f" if code else ".data.v", 0, 4, obj)
    assert component_of_input(section) == component_of_source(src, code) == component


def test_where_the_rules_differ_each_kind_of_path_keeps_its_own() -> None:
    assert {r.only for r in RULES} == {None, MAP, DWARF}
    # the map anchors the project's directories at the build's obj/: an app under some .../nn/ stays application
    assert component_of_input(InputSection(".text", ".text.f", 0, 4, f"{BUILD}//home/nn/app/main.o")) == "application"
    assert component_of_source("/home/me/tflm/nn/conv.c", True) == "kernels"
    # a vendor ELF's CMSIS device start-up is runtime; in the project's builds CMSIS code is CMSIS-NN
    assert component_of_source("/v/Drivers/CMSIS/Device/ST/STM32F4xx/system_stm32f4xx.c", True) == "runtime"
    assert component_of_input(InputSection(".text", ".text.f", 0, 4, f"{BUILD}//opt/CMSIS/NN/x.o")) == "kernels"
    # vendor start-up by name counts as runtime from DWARF only
    assert component_of_source("/v/Core/Startup/startup_stm32f405xx.s", True) == "runtime"
    assert component_of_input(InputSection(".text", ".text.f", 0, 4, f"{BUILD}//v/startup_x.o")) == "application"
    # what is not an object file of the build is "other" in the map; DWARF units are the application's
    assert component_of_input(InputSection(".text", ".text.f", 0, 4, "linker stubs")) == "other"
    assert component_of_input(InputSection(".text", ".text.f", 0, 4, "/usr/lib/libfoo.a(x.o)")) == "other"
    assert component_of_input(InputSection(".text", ".text.f", 0, 4, "/usr/lib/libc_nano.a(x.o)")) == "libc"


@needs_toolchain
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


@needs_toolchain
def test_an_elf_without_dwarf_is_not_itemised(firmware, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    board = load_board("stm32f405")
    stripped = tmp_path / "app.elf"
    subprocess.run(["arm-none-eabi-strip", "--strip-debug", "-o", str(stripped), str(firmware("demo"))], check=True)
    res = evaluate_memory(load_image(stripped, board), board)
    assert res.components_flash == {"other": res.flash_used}
    assert any("no DWARF" in n for n in res.notes)
