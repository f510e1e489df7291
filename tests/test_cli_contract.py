"""The CLI contract: bad input is one clear line naming the file and what would be right, exit code 2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cosim_testing import needs_qemu, needs_toolchain
from typer.testing import CliRunner

from tinyml_cosim.cli.app import app

runner = CliRunner()


def cosim(*args: str, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tinyml_cosim.cli.app", *args], capture_output=True, text=True, timeout=120, **kw
    )


def one_error_line(result) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_missing_file(tmp_path: Path) -> None:
    r = cosim("run", "--board", "stm32f405", str(tmp_path / "nope.elf"))
    assert r.returncode == 2
    assert (
        one_error_line(r)
        == f"error: {tmp_path / 'nope.elf'}: no such file (give the path of a firmware ELF, e.g. from `cosim build`)"
    )


def test_not_an_elf(tmp_path: Path) -> None:
    bad = tmp_path / "firmware.bin"
    bad.write_bytes(b"\x00\x10\x02\x20" * 16)
    r = cosim("run", "--board", "stm32f405", str(bad))
    assert r.returncode == 2 and "firmware.bin: not an ELF file" in one_error_line(r)
    assert "give the linked .elf" in r.stderr


def test_elf_for_another_architecture() -> None:
    host_elf = Path(sys.executable).resolve()
    r = cosim("run", "--board", "stm32f405", str(host_elf))
    assert r.returncode == 2
    line = one_error_line(r)
    assert "ELF for EM_X86_64" in line or "ELF for EM_AARCH64" in line
    assert "needs a 32-bit ARM (cortex-m4) ELF" in line


@needs_toolchain
def test_elf_that_does_not_fit_the_board(tmp_path: Path) -> None:
    # Linked for a make-believe part with 512 KiB of RAM at 0x20000000: 200 KiB of .bss cannot fit the F405's 128.
    src, ld, elf = tmp_path / "big.c", tmp_path / "big.ld", tmp_path / "big.elf"
    src.write_text("char big[200 * 1024];\nvoid reset(void) { big[0] = 1; for (;;) {} }\n")
    ld.write_text(
        "MEMORY { FLASH (rx) : ORIGIN = 0x08000000, LENGTH = 1M\n RAM (rwx) : ORIGIN = 0x20000000, LENGTH = 512K }\n"
        "ENTRY(reset)\nSECTIONS { .text : { *(.text*) } > FLASH\n .bss (NOLOAD) : { *(.bss*) *(COMMON) } > RAM }\n"
    )
    subprocess.run(
        ["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-nostdlib", "-T", str(ld), str(src), "-o", str(elf)],
        check=True,
    )
    r = cosim("run", "--board", "stm32f405", str(elf))
    assert r.returncode == 2
    line = one_error_line(r)
    assert "section .bss" in line and "lies outside stm32f405's RAM 0x20000000..0x20020000 (128 KiB usable)" in line


def test_unknown_board(tmp_path: Path) -> None:
    r = cosim("run", "--board", "stm32h999", str(tmp_path / "x.elf"))
    assert r.returncode == 2
    assert "unknown board 'stm32h999': known boards are stm32f205, stm32f405" in one_error_line(r)


def test_malformed_board_yaml(tmp_path: Path) -> None:
    board = tmp_path / "myboard.yaml"
    board.write_text("id: myboard\nmcu: X\ncore: cortex-m4\n")
    r = cosim("run", "--board", str(board), str(tmp_path / "x.elf"))
    assert r.returncode == 2
    assert "myboard.yaml" in r.stderr and "required field is missing" in r.stderr and "Traceback" not in r.stderr


def test_unknown_engine_and_renode_refusal_for_f205(tmp_path: Path, firmware) -> None:
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("needs arm-none-eabi-gcc (run `make setup`)")
    elf = firmware("demo", board="stm32f205")
    r = cosim("run", "--board", "stm32f205", "--engine", "bochs", str(elf))
    assert r.returncode == 2 and "unknown engine 'bochs': choose one of qemu, renode" in one_error_line(r)
    r = cosim("run", "--board", "stm32f205", "--engine", "renode", str(elf))
    assert r.returncode == 2
    assert "board stm32f205 cannot run on renode: Renode 1.16 ships no STM32F2 platform" in one_error_line(r)


def test_engine_comes_from_environment_and_config_file(tmp_path: Path) -> None:
    from tinyml_cosim.engines.registry import resolve_engine_name

    cfg = tmp_path / "cosim.yaml"
    cfg.write_text("engine: renode\n")
    env = {k: v for k, v in os.environ.items() if k != "COSIM_ENGINE"}
    old = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(env | {"COSIM_CONFIG": str(cfg)})
        assert resolve_engine_name(None) == "renode"
        os.environ["COSIM_ENGINE"] = "qemu"
        assert resolve_engine_name(None) == "qemu"
        assert resolve_engine_name("renode") == "renode"
        cfg.write_text("engine: spike\n")
        del os.environ["COSIM_ENGINE"]
        from tinyml_cosim.core.errors import BadInput

        with pytest.raises(BadInput, match=r"cosim.yaml:1: engine: 'spike' is not one of qemu, renode"):
            resolve_engine_name(None)
    finally:
        os.environ.clear()
        os.environ.update(old)


def test_usage_errors_exit_2() -> None:
    assert runner.invoke(app, ["run"]).exit_code == 2
    assert runner.invoke(app, ["run", "--board", "stm32f405", "--max-instructions", "many", "x.elf"]).exit_code == 2


@needs_qemu
def test_run_writes_the_record_atomically_to_out(tmp_path: Path, firmware) -> None:
    out = tmp_path / "out"
    r = cosim("run", "--board", "stm32f405", "--out", str(out), str(firmware("demo")))
    assert r.returncode == 0, r.stderr
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "exited" and record["exit_code"] == 0
    # no temporary file left behind; the manifest marks the directory as ours (core.report_dir: the --out contract)
    assert sorted(p.name for p in out.iterdir()) == [".cosim-report.json", "run.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert "demo: 8 inferences" in r.stdout  # the console streams without --json


@needs_qemu
def test_build_prints_a_configuration_keyed_path(firmware) -> None:
    r = cosim("build", "--board", "stm32f405", "--app", "demo")
    assert r.returncode == 0
    path = Path(r.stdout.strip())
    assert path.name == "app.elf" and path.parent.name.startswith("demo-") and path.parent.parent.name == "stm32f405"
    r2 = cosim("build", "--board", "stm32f205", "--app", "demo")
    assert Path(r2.stdout.strip()).parent.parent.name == "stm32f205"
    r3 = cosim("build", "--board", "stm32f405", "--app", "no_such_app")
    assert r3.returncode == 2 and "unknown app 'no_such_app'" in one_error_line(r3)
    r4 = cosim("build", "--board", "stm32f405", "--kernels", "cmsis-nn", env={**os.environ, "CMSIS_NN_DIR": ""})
    assert r4.returncode == 2 and "CMSIS_NN_DIR" in one_error_line(r4)
