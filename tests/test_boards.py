"""Board descriptions: validation with file:line errors, the linker script, and `cosim boards`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tinyml_cosim.build.firmware import linker_script
from tinyml_cosim.cli.app import app
from tinyml_cosim.core.boards import PLATFORMS_DIR, available_boards, load_board
from tinyml_cosim.core.errors import BadInput


def test_both_boards_load_with_datasheet_limits() -> None:
    assert {"stm32f405", "stm32f205"} <= set(available_boards())
    f4 = load_board("stm32f405")
    assert (f4.core, f4.fpu, f4.clock_hz) == ("cortex-m4", "fpv4-sp-d16", 168_000_000)
    assert (f4.memory.flash.size, f4.memory.ram.size) == (1024 * 1024, 128 * 1024)
    assert f4.memory.ccm is not None and not f4.memory.ccm.usable and f4.memory.ccm.size == 64 * 1024
    assert f4.engines.qemu.machine == "netduinoplus2" and f4.engines.renode.platform == "platforms/cpus/stm32f4.repl"
    assert "-mfloat-abi=hard" in f4.compiler.cflags
    f2 = load_board("stm32f205")
    assert (f2.core, f2.fpu, f2.dsp, f2.clock_hz) == ("cortex-m3", None, False, 120_000_000)
    assert f2.engines.qemu.machine == "netduino2" and "STM32F2" in f2.engines.renode.unsupported
    assert "-mfloat-abi=soft" in f2.compiler.cflags


@pytest.mark.parametrize("board_id", ["stm32f405", "stm32f205"])
def test_linker_script_carries_the_board_limits(board_id: str) -> None:
    board = load_board(board_id)
    script = linker_script(board)
    flash = re.search(r"FLASH \(rx\)\s*: ORIGIN = 0x([0-9A-F]+), LENGTH = (\d+)", script)
    ram = re.search(r"RAM\s+\(rwx\)\s*: ORIGIN = 0x([0-9A-F]+), LENGTH = (\d+)", script)
    assert flash and ram
    assert (int(flash[1], 16), int(flash[2])) == (board.memory.flash.origin, board.memory.flash.size)
    assert (int(ram[1], 16), int(ram[2])) == (board.memory.ram.origin, board.memory.ram.size)
    assert "0x10000000" not in script  # CCM is never used: QEMU does not map it


def _board_file(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "myboard.yaml"
    p.write_text(text)
    return p


BASE = (PLATFORMS_DIR / "stm32f405.yaml").read_text().replace("id: stm32f405", "id: myboard")


EDITS = [
    (lambda t: t.replace("clock_hz: 168000000", "clock_hz: 168500000"), r"myboard.yaml:\d+: clock_hz: .*whole number"),
    (lambda t: t.replace("core: cortex-m4", "core: cortex-m99"), r"myboard.yaml:\d+: core: 'cortex-m99': Input should"),
    (lambda t: t.replace("  ram: {origin: 0x20000000, size: 0x20000}\n", ""), r"\d+: memory.ram: required field"),
    (lambda t: t.replace("-mfloat-abi=hard, ", ""), r"needs -mfloat-abi=hard"),
    (lambda t: t.replace("dsp: true", "dsp: true\nwait_states: 5"), r"myboard.yaml:\d+: wait_states: unknown field"),
    (lambda t: t.replace("id: myboard", "id: other"), r"myboard.yaml:1: id: 'other' must match the file name"),
    (lambda t: t + "\n  bad: [unclosed\n", r"myboard.yaml:\d+: not valid YAML"),
]


@pytest.mark.parametrize(("edit", "message"), EDITS)
def test_malformed_board_files_name_file_line_and_field(tmp_path: Path, edit, message: str) -> None:
    path = _board_file(tmp_path, edit(BASE))
    with pytest.raises(BadInput, match=message):
        load_board(path)


def test_unknown_board_lists_the_known_ones() -> None:
    with pytest.raises(BadInput, match=r"unknown board 'stm32h999': known boards are .*stm32f205.*stm32f405"):
        load_board("stm32h999")


def test_cli_boards_json_lists_limits() -> None:
    result = CliRunner().invoke(app, ["boards", "--json"])
    assert result.exit_code == 0
    boards = {b["id"]: b for b in json.loads(result.stdout)}
    assert boards["stm32f405"]["memory"]["ram"]["size"] == 131072
    assert boards["stm32f205"]["clock_hz"] == 120_000_000


# --- the port layer (cosim.h's register access, firmware/ports/<port>/) -------------------------------------------


def test_port_defaults_to_stm32f4_and_the_l476_names_stm32l4(tmp_path: Path) -> None:
    assert "port:" not in BASE  # the F4 board file leaves it to the default
    assert load_board(_board_file(tmp_path, BASE)).port == "stm32f4"
    assert load_board("stm32f405").port == load_board("stm32f205").port == "stm32f4"
    assert load_board("stm32l476").port == "stm32l4"


def test_an_unknown_port_is_one_line_naming_file_line_and_the_ports(tmp_path: Path) -> None:
    text = BASE.replace("mcu: STM32F405RG\n", "mcu: STM32F405RG\nport: stm32h7\n")
    line = text.splitlines().index("port: stm32h7") + 1
    with pytest.raises(BadInput) as exc:
        load_board(_board_file(tmp_path, text))
    message = str(exc.value)
    assert "\n" not in message
    assert re.fullmatch(rf".*myboard\.yaml:{line}: port: 'stm32h7': .*'stm32f4' or 'stm32l4'.*", message), message


def test_cli_boards_lists_the_l476_with_both_engines_unsupported() -> None:
    result = CliRunner().invoke(app, ["boards"], env={"COLUMNS": "400"})  # wide enough for rich not to wrap
    assert result.exit_code == 0, result.output
    row = next(ln for ln in result.stdout.splitlines() if "stm32l476" in ln)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells[:3] == ["stm32l476", "STM32L476RG", "cortex-m4F"]
    assert cells[6].startswith("no: QEMU 7.2 has no STM32L4 machine")
    assert cells[7].startswith("no: Renode 1.16 ships no STM32L4 platform")
    boards = {b["id"]: b for b in json.loads(CliRunner().invoke(app, ["boards", "--json"]).stdout)}
    engines = boards["stm32l476"]["engines"]
    assert engines["qemu"]["machine"] is None and "STM32L4" in engines["qemu"]["unsupported"]
    assert engines["renode"]["platform"] is None and "STM32L4" in engines["renode"]["unsupported"]
    assert boards["stm32l476"]["port"] == "stm32l4" and boards["stm32f405"]["port"] == "stm32f4"
