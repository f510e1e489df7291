"""Sensors on Renode: a board file's sensor wiring becomes Renode's own model of the part on the MCU's bus, fed with
the scenario's samples through a RESD file, so that firmware reads its sensor with the vendor's register-level driver.

    scenario sensor `accel` --(scenario.export, RESD)--> accel.resd
    board file `sensors: [{id: accel, part: lis2dw12, bus: i2c1, address: 0x19, interrupts: {INT1: PA0}}]`
      --> machine LoadPlatformDescriptionFromString "accel: Sensors.LIS2DW12 @ i2c1 0x19 { Interrupt1 -> gpioPortA@0 }"
      --> sysbus.i2c1.accel FeedAccelerationSamplesFromRESD @accel.resd 0

Everything here is text generation checked against the facts below (Renode 1.16.1 names, with where they were read),
except `scenario_feeds`, which writes the RESD file. The RESD bytes themselves come from tinyml_cosim.sensors.resd
through the scenario exporter: the file format has no Renode dependency (`cosim scenario export --format resd` writes
the same file), while which model reads which channel is a question of a Renode run, answered here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tinyml_cosim.core.boards import Board, SensorWiring
from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.engines.renode.facts import INFRA, RENODE, STM32F4_REPL, Fact

if TYPE_CHECKING:
    from tinyml_cosim.scenario.model import Scenario

SENSORS_CS = "src/Emulator/Peripherals/Peripherals/Sensors"


@dataclass(frozen=True)
class SensorModel:
    """What the generator needs to know about one of Renode's sensor models."""

    type: str  # the .repl type name
    interface: str  # "i2c" or "spi": the bus it registers on
    feed: str  # the monitor method that plays a RESD file
    sample_type: str  # the RESD sample type that method reads
    pins: dict[str, str]  # the part's pin name (datasheet) -> the model's GPIO property
    fact: Fact


SENSOR_MODELS: dict[str, SensorModel] = {
    m.type: m
    for m in (
        SensorModel(
            "Sensors.LIS2DW12",
            "i2c",
            "FeedAccelerationSamplesFromRESD",
            "ACCELERATION",
            {"INT1": "Interrupt1", "INT2": "Interrupt2"},
            Fact(
                "Sensors.LIS2DW12",
                INFRA,
                f"{SENSORS_CS}/LIS2DW12.cs",
                "class LIS2DW12 : II2CPeripheral, ..., IUnderstandRESD; public void FeedAccelerationSamplesFromRESD("
                "string path, uint channel = 0, ulong startTime = 0, RESDStreamSampleOffset sampleOffsetType = "
                "Specified, long sampleOffsetTime = 0, RESDType type = Normal); public GPIO Interrupt1, Interrupt2; "
                "the feeder thread runs at SampleRate, which CTRL1.ODR sets (100 Hz -> 100, 12.5 Hz -> 13)",
            ),
        ),
        SensorModel(
            "Sensors.LSM6DSO_IMU",
            "spi",
            "FeedAccelerationSamplesFromRESD",
            "ACCELERATION",
            {"INT1": "Interrupt1"},
            Fact(
                "Sensors.LSM6DSO_IMU",
                INFRA,
                f"{SENSORS_CS}/LSM6DSO_IMU.cs",
                "class LSM6DSO_IMU : BasicBytePeripheral, ISPIPeripheral, ..., IUnderstandRESD; "
                "FeedAccelerationSamplesFromRESD(string path, uint channel = 0, ...); public GPIO Interrupt1; a "
                "transaction ends only on FinishTransmission()",
            ),
        ),
    )
}

# The buses of platforms/cpus/stm32f4.repl at v1.16.1 (I2C and SPI are not in facts.STM32F4_STOCK, which lists only
# what the overlay touches) and whether their controller model ends a transaction towards its slave.
STM32F4_BUSES: dict[str, tuple[str, int]] = {
    "i2c1": ("I2C.STM32F4_I2C", 0x40005400),
    "i2c2": ("I2C.STM32F4_I2C", 0x40005800),
    "i2c3": ("I2C.STM32F4_I2C", 0x40005C00),
    "spi1": ("SPI.STM32SPI", 0x40013000),
    "spi2": ("SPI.STM32SPI", 0x40003800),
    "spi3": ("SPI.STM32SPI", 0x40003C00),
}
# gpioPortA..gpioPortK: STM32_GPIOPort, each `[0-15] -> exti@[0-15]`, so an input pin also drives its EXTI line.
STM32F4_GPIO_PORTS = "ABCDEFGHIJK"
BUS_FACTS = {
    "I2C.STM32F4_I2C": Fact(
        "I2C.STM32F4_I2C",
        INFRA,
        "src/Emulator/Peripherals/Peripherals/I2C/STM32F4_I2C.cs",
        "SimpleContainer<II2CPeripheral>; CR1 START (bit 8) and STOP (bit 9) hand the collected bytes to "
        "selectedSlave.Write(); the address byte with R/W=1 calls selectedSlave.Read() with its default count 1; "
        "nothing calls FinishTransmission()",
    ),
    "SPI.STM32SPI": Fact(
        "SPI.STM32SPI",
        INFRA,
        "src/Emulator/Peripherals/Peripherals/SPI/STM32SPI.cs",
        "NullRegistrationPointPeripheralContainer<ISPIPeripheral>; DR write -> RegisteredPeripheral.Transmit(byte); "
        "no chip select and nothing calls FinishTransmission()",
    ),
}
MONITOR_FACTS = {
    "machine LoadPlatformDescriptionFromString": Fact(
        "machine LoadPlatformDescriptionFromString",
        RENODE,
        "src/Renode/PlatformDescription/UserInterface/PlatformDescriptionMachineExtensions.cs",
        "public static void LoadPlatformDescriptionFromString(this Machine machine, string platformDescription); "
        "PreLexer.cs accepts `{ ...; ... }` for an indented block",
    ),
    "sysbus SetHookBeforePeripheralWrite": Fact(
        "sysbus SetHookBeforePeripheralWrite",
        INFRA,
        "src/Emulator/Extensions/Hooks/SystemBusHooksExtensions.cs",
        "SetHookBeforePeripheralWrite(this IBusController sysbus, IBusPeripheral peripheral, string pythonScript, "
        "Range? subrange = null); BusPeripheralsHooksPythonEngine sets `self` (the peripheral), `value`, `offset` "
        "and writes back `value`",
    ),
}

# STM32F4_I2C never tells its slave that a transaction ended, so a model such as LIS2DW12 stays in "register address
# received" after the first transfer and takes the next transfer's register address for data. On silicon every
# slave restarts its protocol on a START condition; this hook does that before the controller sees CR1.START.
I2C_START_BIT = 0x100
I2C_START_HOOK = (
    f"if offset == 0 and value & {I2C_START_BIT:#x}: [c.Peripheral.FinishTransmission() for c in self.Children]"
)


@dataclass(frozen=True)
class SensorFeed:
    """One wired sensor in one run: the board's wiring and the RESD file (and channel) its model plays."""

    wiring: SensorWiring
    resd: Path
    channel: int = 0
    # The model's SampleRate at the ODR the scenario generated the samples for: Renode's LIS2DW12 uses whole Hz,
    # rounding 1.6 and 12.5 Hz up (CTRL1 write callback), hence ceil.
    sample_rate_hz: int = 100


def _field(board: Board, index: int, name: str) -> str:
    return f"{board.id}.yaml: sensors[{index}].{name}"


def model_for(board: Board, index: int) -> SensorModel:
    """Renode's model for the part of `board.sensors[index]`, checked against the bus it is wired to."""
    # Deliberately lazy, as every import of the sensors and scenario packages here: the engine imports this module
    # and `cosim run ELF` loads neither package (tests/test_startup.py).
    from tinyml_cosim.sensors.parts import load_part

    wiring = board.sensors[index]
    try:
        part = load_part(wiring.part)
    except BadInput as exc:
        raise BadInput(f"{_field(board, index, 'part')}: {exc}") from None
    if part.renode is None or part.renode.model not in SENSOR_MODELS:
        with_model = sorted(f"{p} ({m})" for p, m in _parts_with_bus_models().items())
        raise BadInput(
            f"{_field(board, index, 'part')}: {wiring.part} has no Renode sensor model on a bus "
            f"(parts with one: {', '.join(with_model)})"
        )
    model = SENSOR_MODELS[part.renode.model]
    desc = board.engines.renode
    if desc is None or desc.platform != STM32F4_REPL:
        raise BadInput(f"{_field(board, index, 'bus')}: sensor wiring is verified for {STM32F4_REPL} boards only")
    bus = STM32F4_BUSES.get(wiring.bus)
    if bus is None:
        raise BadInput(
            f"{_field(board, index, 'bus')}: {STM32F4_REPL} has no bus {wiring.bus!r} "
            f"(it has {', '.join(STM32F4_BUSES)})"
        )
    if not wiring.bus.startswith(model.interface):
        raise BadInput(
            f"{_field(board, index, 'bus')}: {model.type} is an {model.interface.upper()} device, "
            f"{wiring.bus} is not an {model.interface.upper()} bus"
        )
    if model.interface == "spi":
        raise BadInput(
            f"{_field(board, index, 'bus')}: Renode 1.16.1's {bus[0]} has no chip select and never ends a "
            f"transaction (FinishTransmission), so no driver can address {model.type} on {wiring.bus}"
        )
    for pin, gpio in wiring.interrupts.items():
        if gpio[1] not in STM32F4_GPIO_PORTS:
            raise BadInput(
                f"{_field(board, index, 'interrupts')}.{pin}: {STM32F4_REPL} has no GPIO port {gpio[1]} "
                f"(ports {STM32F4_GPIO_PORTS[0]}..{STM32F4_GPIO_PORTS[-1]})"
            )
        if pin not in model.pins:
            raise BadInput(
                f"{_field(board, index, 'interrupts')}: {wiring.part} has no pin {pin!r} in Renode's model "
                f"(it has {', '.join(model.pins)})"
            )
    return model


def _parts_with_bus_models() -> dict[str, str]:
    from tinyml_cosim.sensors.parts import available_parts, load_part

    out = {}
    for name in available_parts():
        part = load_part(name)
        if part.renode is not None and part.renode.model in SENSOR_MODELS:
            out[name] = part.renode.model
    return out


def _gpio(pin: str) -> str:
    # "PA0" -> "gpioPortA@0": the stock file's port names; SensorWiring has checked the pin's form.
    return f"gpioPort{pin[1]}@{int(pin[2:])}"


def repl_entry(board: Board, index: int) -> str:
    """The one-line .repl entry that puts the model on its bus with its interrupt pins wired to GPIO inputs."""
    wiring = board.sensors[index]
    model = model_for(board, index)
    where = f"@ {wiring.bus} 0x{wiring.address:02X}" if wiring.address is not None else f"@ {wiring.bus}"
    pins = "; ".join(f"{model.pins[pin]} -> {_gpio(gpio)}" for pin, gpio in wiring.interrupts.items())
    return f"{wiring.id}: {model.type} {where}" + (f" {{ {pins} }}" if pins else "")


def overlay_text(board: Board, feeds: Sequence[SensorFeed]) -> str:
    """The sensors as .repl text, to append to a hand-made platform; the commands load the same entries one by one."""
    lines = [f"// Sensors wired in platforms/{board.id}.yaml `sensors`, as loaded for this run."]
    lines += [repl_entry(board, _index(board, f.wiring)) for f in feeds]
    return "\n".join(lines) + "\n"


def _index(board: Board, wiring: SensorWiring) -> int:
    for i, w in enumerate(board.sensors):
        if w == wiring:
            return i
    raise BadInput(f"sensor {wiring.id!r} is not wired in platforms/{board.id}.yaml `sensors`")


def _path(p: Path) -> str:
    # platform._path's rule (platform imports this module, so it cannot be imported from there).
    text = str(Path(p).resolve())
    if any(c in text for c in "\"';\n"):
        raise BadInput(f"{text}: Renode cannot load a path containing quotes, ';' or newlines; use another workdir")
    return "@" + text.replace(" ", "\\ ")


def sensor_commands(board: Board, feeds: Sequence[SensorFeed]) -> list[str]:
    """Monitor commands, after the platform is loaded: the models, the I2C START hooks, the RESD feeds."""
    cmds: list[str] = []
    hooked: set[str] = set()
    for feed in feeds:
        i = _index(board, feed.wiring)
        cmds.append(f'machine LoadPlatformDescriptionFromString "{repl_entry(board, i)}"')
        if feed.wiring.bus not in hooked and STM32F4_BUSES[feed.wiring.bus][0] == "I2C.STM32F4_I2C":
            hooked.add(feed.wiring.bus)
            cmds.append(f'sysbus SetHookBeforePeripheralWrite sysbus.{feed.wiring.bus} "{I2C_START_HOOK}"')
        model = model_for(board, i)
        name = f"sysbus.{feed.wiring.bus}.{feed.wiring.id}"
        # The feeder thread starts at the model's SampleRate, which is 0 until the firmware writes CTRL1.ODR, and
        # Renode 1.16.1 divides by it (DivideByZeroException, Renode dies). Setting it first (a private setter)
        # also starts the ticks at t = 0, so tick k plays RESD sample k whenever the firmware turns the part on.
        cmds += ["allowPrivates true", f"{name} SampleRate {feed.sample_rate_hz}", "allowPrivates false"]
        cmds.append(f"{name} {model.feed} {_path(feed.resd)} {feed.channel}")
    return cmds


def scenario_feeds(board: Board, scenario: Scenario, seed: int, out: Path) -> list[SensorFeed]:
    """Write the scenario's RESD file into `out` and pair each of its blocks with the board's wiring of that sensor.

    A scenario sensor the board wires must be the same part as the wiring; sensors the board does not wire reach no
    model. The range and mode the scenario quantizes for must be what the firmware configures: Renode converts with
    the part's registers as the firmware set them.
    """
    from tinyml_cosim.scenario.export import export
    from tinyml_cosim.scenario.generate import part_model
    from tinyml_cosim.sensors import resd

    wired = {w.id: w for w in board.sensors}
    specs = {s.id: s for s in scenario.sensors}
    for sid in wired.keys() & specs.keys():
        if specs[sid].part != wired[sid].part:
            raise BadInput(
                f"scenario sensor {sid!r} is part {specs[sid].part}, but platforms/{board.id}.yaml wires "
                f"{wired[sid].part} as {sid!r}: use the same part in both"
            )
    result = export(scenario, out, "resd", seed)
    files = [f for f in result.files if f.suffix == ".resd"]
    if not files:
        return []
    feeds = []
    for block in resd.read(files[0]):
        sensor = block.metadata.get("sensor", (0, ""))[1]
        if isinstance(sensor, str) and sensor in wired:
            odr = part_model(scenario, specs[sensor], seed).odr_hz
            feeds.append(SensorFeed(wired[sensor], files[0], block.channel_id, math.ceil(odr)))
    return feeds


__all__ = [
    "BUS_FACTS",
    "I2C_START_HOOK",
    "MONITOR_FACTS",
    "SENSOR_MODELS",
    "STM32F4_BUSES",
    "SensorFeed",
    "SensorModel",
    "model_for",
    "overlay_text",
    "repl_entry",
    "scenario_feeds",
    "sensor_commands",
]
