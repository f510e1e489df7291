"""Bring your own firmware, part C4: the vendor-way test firmwares and their builder (tests/support/foreign.py), UART
input to a plain ELF (`RunRequest.console_input`, the Robot library's `Write To UART`), the plain-ELF keywords'
fault matching and messages, and `make setup`'s C++ headers for arm-none-eabi."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from cosim_testing import needs_qemu
from foreign import COMMON_DIR, FOREIGN_DIR, build_foreign

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.robot.firmware import fault_kinds, same_function
from tinyml_cosim.robot.messages import measured_message, parse_instructions_or_time
from tinyml_cosim.run.record import RunRecord, Status
from tinyml_cosim.run.session import RunRequest, run_firmware

ROOT = Path(__file__).resolve().parent.parent


# --- the builder ------------------------------------------------------------------------------------------------
def test_build_foreign_is_content_keyed_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSIM_BUILD_DIR", str(tmp_path))
    elf = build_foreign("semihosting_printf")
    assert elf.name == "semihosting_printf.elf" and elf.is_file()
    assert elf.parent.parent == tmp_path / "foreign"
    mtime = elf.stat().st_mtime_ns
    assert build_foreign("semihosting_printf") == elf and elf.stat().st_mtime_ns == mtime  # reused, not rebuilt
    other = build_foreign("semihosting_printf", EXIT_CODE="3")
    assert other != elf and other.parent.name.startswith("semihosting_printf-")
    assert not list((tmp_path / "foreign").glob("*.tmp*"))  # no half-built directory left behind


def test_build_foreign_rebuilds_when_a_source_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src"
    shutil.copytree(FOREIGN_DIR / "semihosting_printf", src / "semihosting_printf")
    monkeypatch.setattr("foreign.FOREIGN_DIR", src)
    monkeypatch.setenv("COSIM_BUILD_DIR", str(tmp_path / "build"))
    first = build_foreign("semihosting_printf")
    main = src / "semihosting_printf" / "main.c"
    main.write_text(main.read_text().replace("hello from newlib", "hello again"))
    assert build_foreign("semihosting_printf") != first


def test_build_foreign_names_the_known_firmwares() -> None:
    with pytest.raises(ValueError, match=r"no foreign firmware 'nope' .* known are .*semihosting_printf"):
        build_foreign("nope")


def test_a_failing_build_fails_with_the_compiler_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src" / "broken"
    shutil.copytree(FOREIGN_DIR / "semihosting_printf", src)
    (src / "main.c").write_text("int main(void) { return undeclared; }\n")
    monkeypatch.setattr("foreign.FOREIGN_DIR", src.parent)
    monkeypatch.setenv("COSIM_BUILD_DIR", str(tmp_path / "build"))
    with pytest.raises(pytest.fail.Exception, match=r"build of foreign firmware broken failed:(.|\n)*undeclared"):
        build_foreign("broken")


def test_every_foreign_firmware_is_vendor_way() -> None:
    """Own start-up (a vector table), own linker script, a Makefile taking OUT=, and nothing of this project's."""
    for d in sorted(p for p in FOREIGN_DIR.iterdir() if p.is_dir() and p != COMMON_DIR):
        make = (d / "Makefile").read_text()
        if "/rules.mk" in make or "/bare.mk" in make:  # the shared build rules (common/) are its Makefile's too
            make += (COMMON_DIR / "rules.mk").read_text()
        assert "$(OUT)" in make, d
        scripts = list(d.glob("*.ld"))
        assert scripts, f"{d.name}: no linker script of its own"
        assert re.search(r"vector", scripts[0].read_text(), re.I), f"{d.name}: its linker script places no vector table"
        sources = [p for p in d.rglob("*") if p.suffix in (".c", ".cc", ".cpp", ".h", ".s", ".S")]
        text = "\n".join(p.read_text() for p in sources)
        assert "cosim.h" not in text and "cosim_" not in text, d.name


# --- semihosting exit code and UART input, on QEMU --------------------------------------------------------------
@needs_qemu
@pytest.mark.parametrize("code", [0, 3])
def test_semihosting_printf_exits_with_its_code(code: int) -> None:
    elf = build_foreign("semihosting_printf", EXIT_CODE=str(code))
    rec = run_firmware(RunRequest(elf=elf, board="stm32f405", engine="qemu", duration_s=0.1, timeout_s=60))
    assert (rec.status, rec.exit_code) == (Status.EXITED, code)


@needs_qemu
def test_uart_input_follows_the_prompt_and_is_echoed() -> None:
    elf = build_foreign("uart_echo")
    lines: list[str] = []
    request = RunRequest(
        elf=elf, board="stm32f405", engine="qemu", duration_s=0.01, timeout_s=60, echo=lines.append,
        console_input=((1, b"hello\n"), (2, b"exit 7\n")),
    )  # fmt: skip
    rec = run_firmware(request)
    assert lines == ["uart_echo: ready", "echo: hello", "uart_echo: exiting with 7"]
    assert (rec.status, rec.exit_code) == (Status.EXITED, 7)
    # The same input after the same lines gives the same console (not the same instruction count: how long the
    # firmware polled before a byte arrived depends on the host, as with a person typing).
    lines.clear()
    assert (run_firmware(request).exit_code, lines[1]) == (7, "echo: hello")


@needs_qemu
def test_a_crash_command_is_a_fault_in_crash_now() -> None:
    elf = build_foreign("uart_echo")
    rec = run_firmware(
        RunRequest(elf=elf, board="stm32f405", engine="qemu", duration_s=0.01, timeout_s=60,
                   console_input=((1, b"crash\n"),))
    )  # fmt: skip
    assert rec.status is Status.FAULT
    assert same_function(rec.pc_symbol, "crash_now")
    assert {"HardFault", "UsageFault", "UNDEFINSTR", "fault"} <= set(fault_kinds(rec))
    assert "BusFault" not in fault_kinds(rec)


# --- applications built the way their vendors document (the vendor code from outside the repository) ------------
def _vendor_dir(var: str, what: str) -> Path:
    value = os.environ.get(var)
    if not value or not Path(value).is_dir():
        pytest.skip(f"{var} is not set to {what} (see docs/byof.md)")
    return Path(value)


@needs_qemu
def test_cubemx_hal_app_is_diagnosed_as_polling_rcc() -> None:
    """HSE + PLL to 168 MHz on QEMU, which has no clock tree: HAL's own timeout ends in Error_Handler, and the
    diagnosis names RCC_CR polled before, from SystemClock_Config."""
    cube = _vendor_dir("STM32CUBE_DIR", "an STM32CubeF4 tree (or the split ST/CMSIS repositories)")
    elf = build_foreign("cube_hal_hello", STM32CUBE_DIR=str(cube))
    rec = run_firmware(
        RunRequest(elf=elf, board="stm32f405", engine="qemu", duration_s=10, timeout_s=300, hang_seconds=10)
    )
    assert rec.status is Status.HANG
    assert same_function(rec.pc_symbol, "Error_Handler")
    assert "RCC_CR" in rec.diagnosis and "SystemClock_Config" in rec.diagnosis
    assert rec.instructions_exact


@needs_qemu
def test_tflm_hello_world_runs_and_exits_zero() -> None:
    tflm = _vendor_dir("TFLM_DIR", "a tflite-micro checkout with its third-party downloads")
    # TFLM_PYTHON: a Python with numpy and Pillow for TFLM's generate_cc_arrays.py (its own requirement).
    elf = build_foreign("tflm_hello", TFLM_DIR=str(tflm), PYTHON=os.environ.get("TFLM_PYTHON", "python3"))
    lines: list[str] = []
    rec = run_firmware(
        RunRequest(elf=elf, board="stm32f405", engine="qemu", duration_s=1, timeout_s=300, echo=lines.append,
                   measure=("tflite::MicroInterpreter::Invoke()",))
    )  # fmt: skip
    assert (rec.status, rec.exit_code) == (Status.EXITED, 0), rec.diagnosis
    assert sum("ok" in line for line in lines if line.startswith("tflm_hello: sin(")) == 4
    assert len(rec.measurements) == 4 and rec.instructions_exact


# --- keyword helpers (no emulator) ------------------------------------------------------------------------------
def _record(**fields: object) -> RunRecord:
    base = {"board": "stm32f405", "engine": "qemu", "elf": "x.elf", "elf_sha256": "0", "clock_hz": 168_000_000}
    return RunRecord(**(base | fields))


def test_fault_kinds_name_status_exception_class_and_bits() -> None:
    rec = _record(status=Status.FAULT, diagnosis="firmware stuck in HardFault taken at 0x0800 in f", cfsr=0x200,
                  fault_bits=["PRECISERR", "FORCED"])  # fmt: skip
    assert fault_kinds(rec) == ["fault", "HardFault", "BusFault", "PRECISERR", "FORCED"]
    assert fault_kinds(_record(status=Status.LOCKUP, diagnosis="core lockup")) == ["lockup"]


def test_function_names_match_with_or_without_parameters() -> None:
    assert same_function("tflite::MicroInterpreter::Invoke()", "tflite::MicroInterpreter::Invoke")
    assert same_function("tflite::MicroInterpreter::Invoke()", "tflite::MicroInterpreter::Invoke()")
    assert same_function("crash_now", "crash_now")
    assert not same_function("crash_now_later", "crash_now")
    assert not same_function(None, "crash_now")


def test_limits_in_instructions_or_simulated_time() -> None:
    assert parse_instructions_or_time("12000", 168_000_000) == 12000
    assert parse_instructions_or_time("12,000 instructions", 168_000_000) == 12000
    assert parse_instructions_or_time(500, 168_000_000) == 500
    assert parse_instructions_or_time("1 ms", 168_000_000) == 168_000
    with pytest.raises(BadInput, match="is not a time"):
        parse_instructions_or_time("fast", 168_000_000)


def test_measured_message_states_actual_expected_and_when() -> None:
    text = measured_message("crc32", 12_345, 168_000_000, 10_000, 10, 3, 0.00012)
    assert text == (
        "Measured function crc32: worst call 12,345 instructions (0.0735 ms at 168 MHz; call 3 of 10, entered at "
        "0.000120 s simulated) exceeds 10,000 instructions (0.0595 ms) by 23 %"
    )


# --- set-up ---------------------------------------------------------------------------------------------------
def test_make_setup_installs_the_arm_cpp_headers() -> None:
    """TFLM is C++: `make setup` must install newlib's libstdc++ for arm-none-eabi."""
    makefile = (ROOT / "Makefile").read_text()
    packages = re.search(r"^APT_PACKAGES := ((?:.*\\\n)*.*)$", makefile, re.M)
    assert packages is not None and "libstdc++-arm-none-eabi-newlib" in packages.group(1).split()
