"""Memory components by what the code is (issue #14 item 6): a vendor-way TFLM-style C++ firmware (libtflm.a, vendor
HAL and CMSIS device files, a model array under another name than g_model, a tensor arena, CubeMX's
._user_heap_stack, the application in a folder named `hal`), with its map found beside it or given, and without;
and the harness of the project's own firmware counted by object file, not by the `cosim_` prefix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cosim_testing import needs_toolchain
from foreign import build_foreign
from typer.testing import CliRunner

from tinyml_cosim.cli.app import app, mount_extensions
from tinyml_cosim.core.boards import load_board
from tinyml_cosim.elf.components import component_of_source, part_of
from tinyml_cosim.elf.image import load_image
from tinyml_cosim.elf.linkmap import parse_map
from tinyml_cosim.verdicts.memory import evaluate_memory, find_map

BOARD = load_board("stm32f405")


def _evaluate(elf: Path, map_file: Path | None = None):  # type: ignore[no-untyped-def]
    return evaluate_memory(load_image(elf, BOARD), BOARD, map_file=map_file)


def test_a_project_folder_named_hal_is_application_code() -> None:
    # DWARF names relative to the compilation directory; the project's own runtime only under its firmware tree
    assert component_of_source("hal/app.cpp", True) == "application"
    assert component_of_source("/home/me/proj/hal/main.c", True) == "application"
    assert component_of_source("/x/src/tinyml_cosim/firmware/hal/cosim_runtime.c", True) == "runtime"
    assert part_of("Drivers/STM32F4xx_HAL_Driver/Src/stm32f4xx_hal_rcc.c", "dwarf") == "vendor HAL/LL"
    assert part_of("/b/libtflm.a(micro_interpreter.o)", "map") == "TFLM runtime"
    assert part_of("tensorflow/lite/micro/kernels/conv.cc", "dwarf") == "TFLM kernels"
    assert part_of("/b/CMSIS-NN/Source/ConvolutionFunctions/arm_convolve_s8.c", "dwarf") == "CMSIS-NN"
    assert part_of("/opt/CMSIS-DSP/Source/TransformFunctions/arm_rfft_q15.c", "dwarf") == "CMSIS-DSP"
    assert part_of("Drivers/CMSIS/Device/ST/STM32F4xx/Source/system_stm32f4xx.c", "dwarf") == "CMSIS device start-up"
    assert part_of("/usr/lib/arm-none-eabi/lib/thumb/v7e-m+fp/hard/libc_nano.a(lib_a-memcpy.o)", "map") == (
        "newlib/libgcc"
    )


@needs_toolchain
def test_tflm_style_firmware_by_what_its_code_is(tmp_path: Path) -> None:
    elf = build_foreign("cpp_virtual")
    assert find_map(elf) == elf.with_suffix(".map")  # <stem>.map, not only app.map
    with_map = _evaluate(elf)
    alone = tmp_path / "fw.elf"
    shutil.copy(elf, alone)
    assert find_map(alone) is None
    by_dwarf = _evaluate(alone)
    for res in (with_map, by_dwarf):
        # the model is found by its bytes ("TFL3" at offset 4), not by the name g_model: kws_weights[256]
        assert res.components_flash["model weights"] == 256
        assert res.components_ram["tensor arena"] == 4096  # tensor_arena[4096] in .bss
        # CubeMX's ._user_heap_stack split by _Min_Stack_Size / _Min_Heap_Size
        assert res.stack_reserved == 4096 == res.components_ram["stack (reserved)"]
        assert res.heap_reserved == 8192 == res.components_ram["heap (reserved)"]
        assert res.static_ram == res.ram_used - 4096 - 8192
        assert sum(res.components_flash.values()) == res.flash_used
        assert sum(res.components_ram.values()) == res.ram_used
        for part in ("TFLM runtime", "TFLM kernels", "vendor HAL/LL", "CMSIS device start-up", "application"):
            assert res.parts_flash.get(part, 0) > 0, (part, res.parts_flash)
        assert res.parts_flash["newlib/libgcc"] > 1000
        assert any("TFL3" in n for n in res.notes) and any("_user_heap_stack" in n for n in res.notes)
        assert res.harness_flash == res.harness_ram == 0  # nothing of cosim.h in it
    assert with_map.map_file == str(elf.with_suffix(".map")) and by_dwarf.map_file is None
    # the application under hal/ is application, not runtime: runtime is TFLM's interpreter, HAL and CMSIS device
    assert with_map.components_flash["runtime"] == sum(
        with_map.parts_flash[p] for p in ("TFLM runtime", "vendor HAL/LL", "CMSIS device start-up")
    )


@needs_toolchain
def test_cosim_memory_map_option_and_json(tmp_path: Path) -> None:
    mount_extensions()
    elf = build_foreign("cpp_virtual")
    alone = tmp_path / "fw.elf"
    shutil.copy(elf, alone)
    given = tmp_path / "linker-output.txt"
    shutil.copy(elf.with_suffix(".map"), given)
    res = CliRunner().invoke(app, ["memory", str(alone), "--board", "stm32f405", "--map", str(given), "--json"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.output)
    assert payload["map_file"] == str(given) and payload["parts_flash"]["TFLM kernels"] > 0
    assert payload["heap_reserved"] == 8192 and "_Min_Stack_Size" in payload["reservation_source"]
    text = CliRunner().invoke(app, ["memory", str(elf), "--board", "stm32f405"])
    assert text.exit_code == 0 and "what the code is:" in text.output and "TFLM runtime" in text.output
    missing = CliRunner().invoke(app, ["memory", str(elf), "--board", "stm32f405", "--map", str(tmp_path / "no.map")])
    assert missing.exit_code == 2 and "no such linker map file" in missing.output


@needs_toolchain
def test_harness_is_cosim_runtime_only_not_the_products_cosim_named_code(firmware, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    elf = firmware("keyword_spotter")
    mapped = _evaluate(elf)
    assert mapped.map_file is not None
    in_flash = {s.name for s in mapped.sections if s.flash}
    inputs = [i for i in parse_map(Path(mapped.map_file).read_text()) if i.output in in_flash]
    runtime = sum(i.size for i in inputs if i.source.endswith("/obj/hal/cosim_runtime.o"))
    # with the map: exactly cosim_runtime.o's flash (its .text/.rodata), nothing of cosim_nn_*, cosim_rfft_*, model
    assert mapped.harness_flash == runtime
    products = sum(
        i.size for i in inputs if i.name.startswith((".text.cosim_nn", ".text.cosim_rfft")) or "model.o" in i.source
    )
    assert products > 0 and mapped.harness_flash + products <= mapped.flash_used
    alone = tmp_path / "app.elf"
    shutil.copy(elf, alone)
    by_dwarf = _evaluate(alone)
    assert by_dwarf.map_file is None
    # from DWARF: the symbols of cosim_runtime.c and those declared in cosim*.h (literal pools are not symbols)
    assert 0.9 * mapped.harness_flash <= by_dwarf.harness_flash <= mapped.harness_flash
    assert by_dwarf.harness_ram == mapped.harness_ram
