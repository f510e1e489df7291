"""Sensors on Renode (issue 13, item 4): board-file wiring, the generated .repl entry and monitor commands, the RESD a
scenario writes for a wired sensor (exact to Renode's own conversion), and a live run in which ST's unmodified
lis2dw12-pid driver reads Renode's LIS2DW12 fed from a scenario.

The live test needs `renode` on PATH, arm-none-eabi-gcc and ST_SENSOR_DRIVER_DIR (a checkout of
github.com/STMicroelectronics/lis2dw12-pid); it skips with the reason otherwise.
"""

from __future__ import annotations

import os
import re
import shlex
from decimal import Decimal, localcontext
from pathlib import Path

import numpy as np
import pytest
from foreign import build_foreign

from tinyml_cosim.core.boards import board_path, load_board
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.elf.image import load_image
from tinyml_cosim.engines.base import EndKind, RunLimits
from tinyml_cosim.engines.registry import create_engine
from tinyml_cosim.engines.renode import engine as renode_engine_mod
from tinyml_cosim.engines.renode import sensors
from tinyml_cosim.engines.renode.facts import MONITOR_MEMBERS, TOP_LEVEL_COMMANDS
from tinyml_cosim.engines.renode.platform import setup_commands
from tinyml_cosim.scenario.load import load_scenario
from tinyml_cosim.sensors import resd

F405 = load_board("stm32f405")
BOARD_YAML = board_path("stm32f405")
RENODE_SRC = Path("/opt/renode-src")

# The still/shake scenario the live firmware is verified against: 100 Hz, +/-2 g, high performance (what the
# firmware configures), shaken along x from 0.8 s to 1.4 s.
SCENARIO = """\
version: 1
name: lis2dw12-shake
board: stm32f405
firmware: lis2dw12_shake.elf
seed: {seed}
duration_s: 2.0
sensors:
  - id: accel
    part: lis2dw12
    odr_hz: 100
    range_g: {range_g}
    mode: {mode}
    signal:
      - {{type: gravity}}
      - {{type: sine, axis: x, amplitude: 0.6, freq_hz: 8, start_s: 0.8, duration_s: 0.6}}
    impairments:
      - {{type: white_noise, sigma: 0.01}}
timeline:
  - {{start_s: 0.0, end_s: 0.8, label: still}}
  - {{start_s: 0.8, end_s: 1.4, label: shake}}
  - {{start_s: 1.4, end_s: 2.0, label: still}}
"""


def scenario_file(tmp_path: Path, seed: int = 7, range_g: int = 2, mode: str = "high_performance") -> Path:
    path = tmp_path / "shake.yaml"
    path.write_text(SCENARIO.format(seed=seed, range_g=range_g, mode=mode))
    return path


def board_with(tmp_path: Path, wiring: str) -> Path:
    """stm32f405.yaml with its `sensors` list replaced (a board file of another id, as load_board requires)."""
    text = BOARD_YAML.read_text()
    text, n = re.subn(r"(?m)^  - \{id: accel, .*\}$", "  - " + wiring, text)
    assert n == 1
    path = tmp_path / "f405_wired.yaml"
    path.write_text(text.replace("id: stm32f405", "id: f405_wired", 1))
    return path


# --- board-file wiring ------------------------------------------------------------------------------------------
def test_the_board_file_wires_a_lis2dw12_on_i2c1() -> None:
    (wiring,) = F405.sensors
    assert (wiring.id, wiring.part, wiring.bus, wiring.address, wiring.interrupts) == (
        "accel", "lis2dw12", "i2c1", 0x19, {"INT1": "PA0"}
    )  # fmt: skip
    assert sensors.repl_entry(F405, 0) == "accel: Sensors.LIS2DW12 @ i2c1 0x19 { Interrupt1 -> gpioPortA@0 }"


def test_the_wiring_does_not_change_the_build_key() -> None:
    # Off-chip wiring changes no binary: it stays out of the dump that tinyml_cosim.build hashes.
    assert "sensors" not in F405.model_dump() and "lis2dw12" not in F405.model_dump_json()


@pytest.mark.parametrize(
    ("wiring", "message"),
    [
        ("{id: accel, part: lis2dw12, bus: usb1, address: 0x19}",
         r"sensors\[0\]\.bus: .*'usb1' is not an I2C or SPI bus; write i2c<n> or spi<n>, e.g. i2c1"),
        ("{id: accel, part: lis2dw12, bus: i2c1, address: 0x80}",
         r"sensors\[0\]\.address: .*0x80 is not a 7-bit I2C device address \(0x08..0x77\)"),
        ("{id: accel, part: lis2dw12, bus: i2c1}",
         r"sensors\[0\]: .*address: an I2C sensor on i2c1 needs its 7-bit address"),
        ("{id: accel, part: lsm6dso, bus: spi1, address: 0x6a}",
         r"sensors\[0\]: .*address: spi1 is an SPI bus; an SPI sensor has no address"),
        ("{id: accel, part: lis2dw12, bus: i2c1, address: 0x19, interrupts: {INT1: PA16}}",
         r"sensors\[0\]\.interrupts: .*INT1: 'PA16' is not a GPIO pin; write it as P<port><0-15>, e.g. PA0"),
        ("{id: accel, part: lis2dw12, bus: i2c1, address: 0x19, interrupts: {INT1: PA0, INT2: PA0}}",
         r"sensors\[0\]\.interrupts: .*two pins of the part are wired to the same GPIO"),
        ("{id: Accel, part: lis2dw12, bus: i2c1, address: 0x19}", r"sensors\[0\]\.id: "),
    ],
)  # fmt: skip
def test_bad_wiring_names_the_field(tmp_path: Path, wiring: str, message: str) -> None:
    with pytest.raises(BadInput, match=r"f405_wired\.yaml:\d+: " + message):
        load_board(board_with(tmp_path, wiring))


def test_two_sensors_at_one_address_are_refused(tmp_path: Path) -> None:
    first = "{id: accel, part: lis2dw12, bus: i2c1, address: 0x19}\n  - "
    two = first + "{id: other, part: lis2dw12, bus: i2c1, address: 0x19}"
    with pytest.raises(BadInput, match="sensors: two sensors share a bus and an address"):
        load_board(board_with(tmp_path, two))
    same_id = first + "{id: accel, part: lis2dw12, bus: i2c2, address: 0x19}"
    with pytest.raises(BadInput, match="sensors: each id must be unique, got accel, accel"):
        load_board(board_with(tmp_path, same_id))


@pytest.mark.parametrize(
    ("wiring", "message"),
    [
        ("{id: mic, part: mp34dt05, bus: i2c1, address: 0x19}",
         r"sensors\[0\]\.part: mp34dt05 has no Renode sensor model on a bus \(parts with one: lis2dw12 "
         r"\(Sensors.LIS2DW12\), lsm6dso \(Sensors.LSM6DSO_IMU\)\)"),
        ("{id: t, part: tmp36_adc12, bus: i2c1, address: 0x48}", r"sensors\[0\]\.part: tmp36_adc12 has no Renode"),
        ("{id: accel, part: nope, bus: i2c1, address: 0x19}", r"sensors\[0\]\.part: unknown part 'nope'"),
        ("{id: accel, part: lis2dw12, bus: i2c4, address: 0x19}",
         r"sensors\[0\]\.bus: platforms/cpus/stm32f4.repl has no bus 'i2c4' \(it has i2c1, i2c2, i2c3, spi1"),
        ("{id: accel, part: lis2dw12, bus: spi1}",
         r"sensors\[0\]\.bus: Sensors.LIS2DW12 is an I2C device, spi1 is not an I2C bus"),
        ("{id: imu, part: lsm6dso, bus: spi1}",
         r"sensors\[0\]\.bus: Renode 1.16.1's SPI.STM32SPI has no chip select and never ends a transaction"),
        ("{id: accel, part: lis2dw12, bus: i2c1, address: 0x19, interrupts: {INT3: PA1}}",
         r"sensors\[0\]\.interrupts: lis2dw12 has no pin 'INT3' in Renode's model \(it has INT1, INT2\)"),
    ],
)  # fmt: skip
def test_wiring_renode_cannot_model_is_refused_with_the_reason(tmp_path: Path, wiring: str, message: str) -> None:
    board = load_board(board_with(tmp_path, wiring))
    with pytest.raises(BadInput, match=r"f405_wired\.yaml: " + message):
        sensors.model_for(board, 0)


# --- overlay text and monitor commands --------------------------------------------------------------------------
def feed(tmp_path: Path) -> sensors.SensorFeed:
    return sensors.SensorFeed(F405.sensors[0], tmp_path / "s.resd", channel=0, sample_rate_hz=100)


def test_sensor_commands(tmp_path: Path) -> None:
    path = (tmp_path / "s.resd").resolve()
    assert sensors.sensor_commands(F405, [feed(tmp_path)]) == [
        'machine LoadPlatformDescriptionFromString "accel: Sensors.LIS2DW12 @ i2c1 0x19 { Interrupt1 -> gpioPortA@0 }"',
        'sysbus SetHookBeforePeripheralWrite sysbus.i2c1 "if offset == 0 and value & 0x100: '
        '[c.Peripheral.FinishTransmission() for c in self.Children]"',
        "allowPrivates true",
        "sysbus.i2c1.accel SampleRate 100",
        "allowPrivates false",
        f"sysbus.i2c1.accel FeedAccelerationSamplesFromRESD @{path} 0",
    ]
    assert sensors.overlay_text(F405, [feed(tmp_path)]).splitlines()[1] == sensors.repl_entry(F405, 0)


def test_sensors_load_after_the_platform_and_change_nothing_without_feeds(tmp_path: Path) -> None:
    common = {"overlay": tmp_path / "o.repl", "elf": tmp_path / "fw.elf", "host_config": None, "console_port": 1234}
    plain = setup_commands(F405, **common)  # type: ignore[arg-type]
    assert setup_commands(F405, **common, sensors=()) == plain  # type: ignore[arg-type]
    assert not [c for c in plain if "accel" in c or "allowPrivates" in c]
    wired = setup_commands(F405, **common, sensors=[feed(tmp_path)])  # type: ignore[arg-type]
    extra = sensors.sensor_commands(F405, [feed(tmp_path)])
    at = wired.index(plain[1]) + 1  # right after `machine LoadPlatformDescription`
    assert plain[1].startswith("machine LoadPlatformDescription @")
    assert wired[at : at + len(extra)] == extra and wired[:at] + wired[at + len(extra) :] == plain


def test_one_start_hook_per_bus(tmp_path: Path) -> None:
    board = load_board(board_with(tmp_path, "{id: a, part: lis2dw12, bus: i2c1, address: 0x18}\n"
                                            "  - {id: b, part: lis2dw12, bus: i2c1, address: 0x19}"))  # fmt: skip
    feeds = [sensors.SensorFeed(w, tmp_path / "s.resd", channel=i) for i, w in enumerate(board.sensors)]
    cmds = sensors.sensor_commands(board, feeds)
    assert sum(c.startswith("sysbus SetHookBeforePeripheralWrite sysbus.i2c1 ") for c in cmds) == 1
    assert cmds[-1].endswith("s.resd 1") and "a: Sensors.LIS2DW12 @ i2c1 0x18" in cmds[0]


def test_every_generated_name_is_a_stated_fact(tmp_path: Path) -> None:
    known = set(sensors.MONITOR_FACTS) | {"allowPrivates"}
    for cmd in sensors.sensor_commands(F405, [feed(tmp_path)]):
        words = shlex.split(cmd, posix=False)
        if words[0].startswith("sysbus.i2c1."):
            model = sensors.SENSOR_MODELS["Sensors.LIS2DW12"]
            assert words[1] in (model.feed, "SampleRate"), cmd
        elif words[0] not in TOP_LEVEL_COMMANDS and words[1] not in MONITOR_MEMBERS.get(words[0], ()):
            assert " ".join(words[:2]) in known or words[0] in known, cmd


@pytest.mark.skipif(not (RENODE_SRC / "src/Infrastructure").is_dir(), reason="no Renode source tree at /opt/renode-src")
def test_the_facts_are_in_renodes_source() -> None:
    """Every model, method and pin name the generator writes is in Renode's own C# (the tree Renode was built from)."""
    infra = RENODE_SRC / "src/Infrastructure"
    for model in sensors.SENSOR_MODELS.values():
        cs = (infra / model.fact.path).read_text()
        assert f"public class {model.type.split('.')[1]} :" in cs
        assert f"public void {model.feed}(string path, uint channel = 0" in cs
        for prop in model.pins.values():
            assert f"public GPIO {prop} {{ get; }}" in cs
    lis = (infra / sensors.SENSOR_MODELS["Sensors.LIS2DW12"].fact.path).read_text()
    assert "public uint SampleRate" in lis and "private set" in lis
    i2c = (infra / sensors.BUS_FACTS["I2C.STM32F4_I2C"].path).read_text()
    assert "FinishTransmission" not in i2c and "selectedSlave.Read()" in i2c  # the gap the START hook closes
    hooks = (infra / sensors.MONITOR_FACTS["sysbus SetHookBeforePeripheralWrite"].path).read_text()
    assert "public static void SetHookBeforePeripheralWrite(this IBusController sysbus, IBusPeripheral" in hooks
    repl = (RENODE_SRC / "platforms/cpus/stm32f4.repl").read_text()
    for bus, (rtype, address) in sensors.STM32F4_BUSES.items():
        assert f"{bus}: {rtype} @ sysbus 0x{address:08X}" in repl
    for port in sensors.STM32F4_GPIO_PORTS:
        assert f"gpioPort{port}: GPIOPort.STM32_GPIOPort" in repl


# --- RESD for a wired sensor, exact to Renode's conversion ------------------------------------------------------
def renode_lis2dw12_register(micro_g: np.ndarray, range_g: int, low_power_1: bool) -> np.ndarray:
    """Renode 1.16.1's LIS2DW12.Convert(), transcribed: the RESD value / 1e6 in C# decimal, (int)(g * 1000 /
    sensitivity) (truncation toward zero), clamped to 14 (12) bits, shifted left 2 (4), as a 16-bit register."""
    scale_divider = {2: 4, 4: 8, 8: 16, 16: 32}[range_g]
    sensitivity = Decimal("0.244") * (scale_divider // 4)  # C# int division, then decimal multiply
    lo, hi, shift = (-0x800, 0x7FF, 4) if low_power_1 else (-0x2000, 0x1FFF, 2)
    if low_power_1:
        sensitivity *= 4
    out = np.empty(micro_g.shape, dtype=np.int16)
    with localcontext() as ctx:
        ctx.prec = 28  # C# decimal: 96-bit mantissa, 28 significant digits
        for idx, v in np.ndenumerate(micro_g):
            g = Decimal(int(v)) / Decimal(1_000_000)
            code = min(max(int(g * 1000 / sensitivity), lo), hi)  # int() truncates toward zero, as the C# cast
            out[idx] = np.array((code << shift) & 0xFFFF, dtype=np.uint16).view(np.int16)
    return out


@pytest.mark.parametrize(("range_g", "mode"), [(2, "high_performance"), (4, "high_performance"),
                                               (16, "high_performance"), (2, "low_power_1")])  # fmt: skip
def test_resd_values_become_the_qemu_paths_registers_in_renode(tmp_path: Path, range_g: int, mode: str) -> None:
    """What Renode's LIS2DW12 makes of the RESD file equals, sample for sample, the register values the QEMU path's
    virtual sensor delivers for the same seed."""
    scn = load_scenario(scenario_file(tmp_path, seed=3, range_g=range_g, mode=mode))
    (fd,) = sensors.scenario_feeds(F405, scn, 3, tmp_path / "out")
    assert (fd.wiring.id, fd.channel, fd.sample_rate_hz) == ("accel", 0, 100)
    (block,) = resd.read(fd.resd)
    assert block.sample_type == resd.SampleType.ACCELERATION and block.period_ns == 10_000_000
    assert block.metadata["sensor"] == (resd.META_STRING, "accel")
    raw = scn.generate(3)["accel"].raw
    assert len(block.samples) == len(raw) == 200
    assert np.array_equal(renode_lis2dw12_register(block.samples, range_g, mode == "low_power_1"), raw)


def test_the_conversion_check_sees_a_one_microg_error(tmp_path: Path) -> None:
    """The transcription is sharp: one µg below a code boundary truncates to the code below."""
    scn = load_scenario(scenario_file(tmp_path))
    (fd,) = sensors.scenario_feeds(F405, scn, 7, tmp_path / "out")
    (block,) = resd.read(fd.resd)
    raw = scn.generate(7)["accel"].raw
    nudged = block.samples.astype(np.int64) - np.sign(block.samples)
    assert not np.array_equal(renode_lis2dw12_register(nudged, 2, False), raw)


def test_the_resd_file_round_trips_through_the_parser(tmp_path: Path) -> None:
    scn = load_scenario(scenario_file(tmp_path))
    (fd,) = sensors.scenario_feeds(F405, scn, 7, tmp_path / "out")
    data = fd.resd.read_bytes()
    assert resd.encode(resd.decode(data)) == data
    assert data[:8] == b"RESD\x01\x00\x00\x00"


def test_a_scenario_part_other_than_the_wired_one_is_refused(tmp_path: Path) -> None:
    path = scenario_file(tmp_path)
    path.write_text(path.read_text().replace("part: lis2dw12", "part: lsm6dso").replace("odr_hz: 100", "odr_hz: 104"))
    with pytest.raises(
        BadInput, match=r"scenario sensor 'accel' is part lsm6dso, but platforms/stm32f405\.yaml wires lis2dw12"
    ):
        sensors.scenario_feeds(F405, load_scenario(path), 7, tmp_path / "out")


# --- live: the vendor driver reads Renode's LIS2DW12 --------------------------------------------------------------
BATCH = 20  # the firmware's FIFO watermark: one decision per batch
SAMPLES = 180
SHAKE_THRESHOLD = 100_000


def decisions(raw: np.ndarray) -> list[tuple[int, str]]:
    """The firmware's decision, in Python: mean over a batch of the squared sample-to-sample change (14-bit codes)."""
    codes = raw.astype(np.int64) >> 2
    change = np.vstack([np.zeros((1, 3), dtype=np.int64), np.diff(codes, axis=0)])
    per_sample = (change**2).sum(axis=1)
    out = []
    for b in range(len(raw) // BATCH):
        mean = int(per_sample[b * BATCH : (b + 1) * BATCH].sum()) // BATCH
        out.append((mean, "shake" if mean > SHAKE_THRESHOLD else "still"))
    return out


def driver_dir() -> Path:
    value = os.environ.get("ST_SENSOR_DRIVER_DIR")
    if not value or not (Path(value) / "lis2dw12_reg.c").is_file():
        pytest.skip("ST_SENSOR_DRIVER_DIR is not set to a checkout of STMicroelectronics/lis2dw12-pid (docs/renode.md)")
    return Path(value)


@pytest.mark.renode
@pytest.mark.skipif(renode_engine_mod.renode_binary() is None, reason="renode not on PATH")
def test_vendor_driver_reads_the_scenarios_accelerometer_on_renode(tmp_path: Path) -> None:
    elf = build_foreign("lis2dw12_shake", ST_SENSOR_DRIVER_DIR=str(driver_dir()))
    scn = load_scenario(scenario_file(tmp_path))
    stream = scn.generate(7)["accel"]
    with create_engine("renode", F405, tmp_path / "renode") as eng:
        eng.sensor_feeds = sensors.scenario_feeds(F405, scn, 7, tmp_path / "resd")
        eng.start(load_image(elf, F405), eng.transport())
        # The firmware has read its 180 samples by t = 1.81 s; it then sleeps.
        limits = RunLimits(
            max_instructions=F405.instructions(1.9),
            timeout_s=900,
            hang_instructions=F405.instructions(0.5),  # it sleeps 200 ms between batches
            hang_wall_s=300,  # Renode advances a sleeping CPU at about 15 wall seconds per second
        )
        ending = eng.run(limits)
        lines = eng.console.lines()
    # It sleeps in WFI after its last sample, as on a board: the run ends on the budget or as a stall, not a fault.
    assert ending.kind in (EndKind.BUDGET, EndKind.STALLED), (ending, lines[-3:])
    assert lines[:2] == ["lis2dw12_shake: start", "lis2dw12_shake: WHO_AM_I 0x44"], lines[:5]
    assert lines[-1] == f"lis2dw12_shake: done {SAMPLES} samples", lines[-5:]
    got = np.array([[int(v) for v in ln.split()[2:]] for ln in lines if ln.startswith("sample ")])
    # Renode plays RESD sample k at t = k * 10 ms; the firmware's configuration ends before t = 10 ms, so its FIFO
    # (stream mode) begins with sample 1. Every value equals the QEMU path's register value for the same seed.
    assert got.shape == (SAMPLES, 3)
    assert np.array_equal(got, stream.raw[1 : 1 + SAMPLES])
    said = [(int(ln.split()[2]), ln.split()[3]) for ln in lines if ln.startswith("decision ")]
    assert said == decisions(stream.raw[1 : 1 + SAMPLES])
    labels = [stream.label_at(i) for i in range(1, 1 + SAMPLES)]
    for b, (_, verdict) in enumerate(said):
        batch = set(labels[b * BATCH : (b + 1) * BATCH])
        if batch == {"shake"}:
            assert verdict == "shake", (b, said)
        if batch == {"still"}:
            assert verdict == "still", (b, said)
    assert [v for _, v in said].count("shake") >= 2
