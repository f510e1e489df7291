"""Every Renode name the Renode backend relies on, with where in Renode 1.16.1's source it was verified.

Renode cannot be installed where this project is developed and tested, so the backend is written against Renode's
source. This module is the single list of the Renode facts it uses; the unit tests check every generated platform
overlay, monitor script and monitor command against it, so a name the backend invents (or mistypes) fails a test
instead of failing on a user's machine.

Sources (all read at these exact revisions):
- renode/renode tag v1.16.1                                        -> `RENODE`
- renode/renode-infrastructure add012af (src/Infrastructure of v1.16.1) -> `INFRA`
- antmicro/tlib d50c868f (src/Emulator/Cores/tlib of that infrastructure) -> `TLIB`
- antmicro/AntShell faa6e88d (lib/AntShell of v1.16.1)              -> `ANTSHELL`
"""

from __future__ import annotations

from dataclasses import dataclass

RENODE_VERSION = "1.16.1"
RENODE = "renode/renode@v1.16.1"
INFRA = "renode/renode-infrastructure@add012af003a0f620d3da52828262676f374d121"
TLIB = "antmicro/tlib@d50c868f33fb42954d85b8d06ce6f7d5bac23dd4"
ANTSHELL = "antmicro/AntShell@faa6e88d9aac26876af7e1f78229d5d2728e792e"


@dataclass(frozen=True)
class Fact:
    name: str
    source: str  # repository@revision
    path: str  # file inside that repository
    quote: str  # what the source says (quoted or closely paraphrased)


def _facts(*items: Fact) -> dict[str, Fact]:
    return {f.name: f for f in items}


# --- command line (src/UI/Options.cs; CommandLineInterface.PrepareShell decides which shell is used) ---
CLI_OPTIONS = _facts(
    Fact(
        "--disable-xwt",
        INFRA,
        "src/UI/Options.cs",
        '[Name("disable-xwt"), Alias("disable-gui")] "Disable XWT GUI support. It automatically sets HideMonitor."',
    ),
    Fact(
        "--plain",
        INFRA,
        "src/UI/Options.cs",
        '[Name(\'p\', "plain")] "Remove steering codes (e.g., colours) from output."',
    ),
    Fact(
        "--port",
        INFRA,
        "src/UI/Options.cs",
        '[Name(\'P\', "port")] "Instead of opening a window, listen for Monitor commands on the specified port." '
        "(PrepareShell uses SocketIOSource(port) when --console is not given)",
    ),
    Fact("--hide-analyzers", INFRA, "src/UI/Options.cs", '[Name("hide-analyzers")] "Do not show analyzers."'),
    Fact("--version", INFRA, "src/UI/Options.cs", '[Name(\'v\', "version")] "Print version and exit."'),
    Fact(
        "--console",
        INFRA,
        "src/UI/CommandLineInterface.cs",
        "PrepareShell: `if(options.Console)` takes the stdin/stdout shell before `else if(options.Port >= 0)`; "
        "so --console would disable --port (not used)",
    ),
)

# --- monitor commands: "<object> <member>" as typed in the monitor or a .resc ---
MONITOR_COMMANDS = _facts(
    Fact(
        "mach create",
        INFRA,
        "src/Emulator/Extensions/UserInterface/Commands/MachCommand.cs",
        'Run(writer, [Values("set", "add", "rem", "create")] LiteralToken action, StringToken name)',
    ),
    Fact(
        "machine LoadPlatformDescription",
        RENODE,
        "src/Renode/PlatformDescription/UserInterface/PlatformDescriptionMachineExtensions.cs",
        "public static void LoadPlatformDescription(this Machine machine, string platformDescriptionFile)",
    ),
    Fact(
        "machine StartGdbServer",
        INFRA,
        "src/Emulator/Main/Core/Machine.cs",
        'public void StartGdbServer(int port, bool autostartEmulation = true, string cpuCluster = "")',
    ),
    Fact(
        "emulation SetGlobalAdvanceImmediately",
        INFRA,
        "src/Emulator/Extensions/UserInterface/MonitorTimeExtensions.cs",
        "SetGlobalAdvanceImmediately(this Emulation, bool val) sets AdvanceImmediately on all time sources; "
        "without it BaseCPU sleeps so virtual time never runs ahead of host time",
    ),
    Fact(
        "emulation SetSeed",
        INFRA,
        "src/Emulator/Main/Core/Emulation.cs",
        "public void SetSeed(int seed) { RandomGenerator.ResetSeed(seed); }",
    ),
    Fact(
        "emulation RunFor",
        INFRA,
        "src/Emulator/Main/Core/Emulation.cs",
        "public void RunFor(TimeInterval period): throws if IsStarted; InnerStartAll(); "
        "MasterTimeSource.RunFor(period) (blocking until the period has passed); PauseAll()",
    ),
    Fact(
        "emulation CreateServerSocketTerminal",
        INFRA,
        "src/Emulator/Main/Backends/Terminals/ServerSocketTerminal.cs",
        "CreateServerSocketTerminal(this Emulation, int port, string name, bool telnetMode = true, "
        "bool flushOnConnect = false)",
    ),
    Fact(
        "connector Connect",
        INFRA,
        "src/Emulator/Main/Core/Connector.cs",
        'Monitor.InitCommands: BindStatic("connector", ...); '
        "Connect(IEmulationElement connectee, IConnectable connector)",
    ),
    Fact(
        "sysbus LoadELF",
        INFRA,
        "src/Emulator/Main/Core/Extensions/FileLoaderExtensions.cs",
        "LoadELF(this IBusController loader, ReadFilePath fileName, bool useVirtualAddress = false, IPeripheral cpu)",
    ),
    Fact(
        "sysbus WriteDoubleWord",
        INFRA,
        "src/Emulator/Main/Peripherals/Bus/SystemBusGenerated.cs",
        "public void WriteDoubleWord(ulong address, uint value, IPeripheral context = null, ulong? cpuState = null)",
    ),
    Fact(
        "sysbus ReadDoubleWord",
        INFRA,
        "src/Emulator/Main/Peripherals/Bus/SystemBusGenerated.cs",
        "public uint ReadDoubleWord(ulong address, IPeripheral context = null, ulong? cpuState = null)",
    ),
    Fact(
        "sysbus UnhandledAccessBehaviour",
        INFRA,
        "src/Emulator/Main/Peripherals/Bus/SystemBus.cs",
        "public UnhandledAccessBehaviour UnhandledAccessBehaviour { get; set; } — enum Report, ReportIfTagged, "
        "ReportIfNotTagged, DoNotReport (UnhandledAccessBehaviour.cs). It only decides whether the access is "
        "logged: ReportNonExistingRead returns 0 (or the tag's value), ReportNonExistingWrite drops the write; "
        "there is no setting that makes an unmapped data access fault",
    ),
    Fact(
        "cpu PerformanceInMips",
        INFRA,
        "src/Emulator/Peripherals/Peripherals/CPU/BaseCPU.cs",
        "public uint PerformanceInMips { get; set; } (integer; instructions per virtual microsecond)",
    ),
    Fact(
        "cpu MaximumBlockSize",
        INFRA,
        "src/Emulator/Peripherals/Peripherals/CPU/TranslationCPU.cs",
        "public int MaximumBlockSize { get => TlibGetMaximumBlockSize(); set => TlibSetMaximumBlockSize(value); } "
        "(DefaultMaximumBlockSize = 0x7FF)",
    ),
    Fact(
        "cpu Step",
        INFRA,
        "src/Emulator/Peripherals/Peripherals/CPU/BaseCPU.cs",
        "public ulong Step(int count = 1): sets ExecutionMode = SingleStep, starts the emulation if needed, "
        "executes `count` instructions and returns the PC",
    ),
    Fact(
        "cpu ExecutionMode",
        INFRA,
        "src/Emulator/Peripherals/Peripherals/CPU/BaseCPU.cs",
        "public ExecutionMode ExecutionMode { get; set; } (enum ExecutionMode { Continuous, SingleStep })",
    ),
    Fact(
        "cpu VectorTableOffset",
        INFRA,
        "src/Emulator/Cores/Arm-M/CortexM.cs",
        "public uint VectorTableOffset { set { vtorInitialized = true; ... } } — otherwise InitPCAndSP guesses "
        "it from the lowest loaded ELF section",
    ),
    Fact(
        "cpu ExecutedInstructions",
        INFRA,
        "src/Emulator/Peripherals/Peripherals/CPU/TranslationCPU.cs",
        "public override ulong ExecutedInstructions { get { return TlibGetTotalExecutedInstructions(); } }",
    ),
    Fact(
        "cpu ElapsedCycles",
        INFRA,
        "src/Emulator/Peripherals/Peripherals/CPU/BaseCPU.cs",
        "public ulong ElapsedCycles { get; private set; } — ReportProgress adds executed instructions and the "
        "instructions skipped while waiting for an interrupt (WFI): virtual time x PerformanceInMips",
    ),
    Fact("cpu PC", INFRA, "src/Emulator/Cores/Arm/ArmRegisters.cs", "[Register] public override RegisterValue PC"),
    Fact("cpu LR", INFRA, "src/Emulator/Cores/Arm/ArmRegisters.cs", "[Register] public RegisterValue LR"),
    Fact("cpu SP", INFRA, "src/Emulator/Cores/Arm/ArmRegisters.cs", "[Register] public RegisterValue SP"),
    Fact(
        "cpu XProgramStatusRegister",
        INFRA,
        "src/Emulator/Cores/Arm-M/CortexM.cs",
        "public uint XProgramStatusRegister { get { return tlibGetXpsr(); } }",
    ),
    Fact(
        "cpu CurrentSP",
        INFRA,
        "src/Emulator/Cores/Arm-M/CortexMRegisters.cs",
        "[Register] RegisterValue CurrentSP (index 21) -> tlib v7m.process_sp: 'Is the currently selected SP "
        "Process or Main SP' (tlib arch/arm/cpu.h)",
    ),
    Fact(
        "cpu OtherSP",
        INFRA,
        "src/Emulator/Cores/Arm-M/CortexMRegisters.cs",
        "[Register] RegisterValue OtherSP (index 22) -> tlib v7m.other_sp; tlib helper.c reads PSP as "
        "`process_sp ? regs[13] : other_sp`",
    ),
    Fact(
        "cpu AddHook",
        INFRA,
        "src/Emulator/Extensions/Hooks/CpuHooksExtensions.cs",
        "AddHook(this ICPUWithHooks cpu, [AutoParameter] Machine m, ulong addr, string pythonScript) -> "
        "BlockPythonEngine; the script runs on the CPU thread with `machine`, `cpu`, `self`, `pc` in scope",
    ),
    Fact(
        "start",
        INFRA,
        "src/Emulator/Extensions/UserInterface/Commands/StartCommand.cs",
        'base(monitor, "start", "starts the emulation.", "s")',
    ),
    Fact(
        "pause",
        INFRA,
        "src/Emulator/Extensions/UserInterface/Commands/PauseCommand.cs",
        'base(monitor, "pause", "pauses the emulation.", "p")',
    ),
    Fact(
        "quit",
        INFRA,
        "src/Emulator/Extensions/UserInterface/Commands/QuitCommand.cs",
        'base(monitor, "quit", "quits the emulator.", "q")',
    ),
    Fact(
        "include",
        INFRA,
        "src/Emulator/Extensions/UserInterface/Commands/IncludeFileCommand.cs",
        'base(monitor, "include", "loads a Monitor script, Python code, platform file or a plugin class.", "i")',
    ),
)

# Member names per monitor object, derived from MONITOR_COMMANDS; the tests check every generated command's
# "<object> <member>" pair against it.
MONITOR_MEMBERS: dict[str, set[str]] = {}
for _key in MONITOR_COMMANDS:
    _obj, _, _member = _key.partition(" ")
    MONITOR_MEMBERS.setdefault(_obj, set()).add(_member)
TOP_LEVEL_COMMANDS = {k for k in MONITOR_COMMANDS if " " not in k}

# Enum values the backend passes on the monitor (converted by MonitorCommands.ConvertValue via Enum.Parse).
UNHANDLED_ACCESS_BEHAVIOURS = ("Report", "ReportIfTagged", "ReportIfNotTagged", "DoNotReport")

# --- platform description (.repl) syntax ---
REPL_SYNTAX = _facts(
    Fact(
        "using",
        RENODE,
        "src/Renode/PlatformDescription/UserInterface/PlatformDescriptionMachineExtensions.cs",
        "UsingResolver.Resolve: a path not starting with . or .. is looked up under the monitor path prefixes "
        '(the Renode root), so `using "platforms/cpus/stm32f4.repl"` needs no absolute path',
    ),
    Fact(
        "updating entry",
        "renode/renode-docs",
        "source/advanced/platform_description_format.md",
        "Entries that do not specify a type update the former ones; the newest value of an attribute wins, across "
        "files chained by `using`. Constructor attributes in an updating entry only warn.",
    ),
    Fact(
        "@none",
        RENODE,
        "src/Renode/PlatformDescription/CreationDriver.cs",
        "TryRegisterFromEntry: `registrationInfo.Register == null` is a 'registration canceling entry (i.e. @none)'",
    ),
    Fact(
        "init",
        RENODE,
        "src/Renode/PlatformDescription/Syntax/InitAttribute.cs",
        "InitAttribute.Merge: `if(other.IsAdd) Lines = Lines.Concat(other.Lines); return other;` — a plain `init:` "
        "in a later entry replaces the earlier init section, `init add:` appends",
    ),
)

# --- types and constructor/property attributes used in the overlay ---
REPL_TYPES = _facts(
    Fact(
        "Memory.MappedMemory",
        INFRA,
        "src/Emulator/Main/Peripherals/Memory/MappedMemory.cs",
        "constructor parameter `size` (the stock stm32f4.repl declares `sram`/`flash` with `size:`)",
    ),
    Fact(
        "IRQControllers.NVIC",
        INFRA,
        "src/Emulator/Cores/Arm-M/NVIC.cs",
        "public NVIC(IMachine machine, ulong systickFrequency = 50 * 0x800000, byte priorityMask = 0xFF, "
        "bool haltSystickOnDeepSleep = true); SYST_CSR.CLKSOURCE reads as 1 ('SysTick uses the processor clock')",
    ),
    Fact(
        "Timers.STM32_Timer",
        INFRA,
        "src/Emulator/Peripherals/Peripherals/Timers/STM32_Timer.cs",
        "public STM32_Timer(IMachine machine, ulong frequency, uint initialLimit); reading CNT calls cpu.SyncTime()",
    ),
    Fact(
        "CPU.CortexM",
        INFRA,
        "src/Emulator/Cores/Arm-M/CortexM.cs",
        "public CortexM(string cpuType, IMachine machine, NVIC nvic, ...)",
    ),
)
REPL_ATTRIBUTES: dict[str, set[str]] = {
    "Memory.MappedMemory": {"size"},
    "IRQControllers.NVIC": {"systickFrequency", "priorityMask"},
    "Timers.STM32_Timer": {"frequency", "initialLimit"},
    "CPU.CortexM": {"cpuType", "nvic"},
}

# tlib's CPU model table (arch/arm/helper.c arm_cpu_names). Note: "cortex-m4f" is mapped to the Cortex-M7 CPUID
# (and VFP5 = FPv5 with double precision), while "cortex-m4" already has VFP4 ("TODO: Remove FPU from non-f
# variant CPUs"). For an STM32F4 (FPv4-SP) "cortex-m4" is the closer model.
TLIB_CPU_TYPES: dict[str, str] = {
    "cortex-m0": "ARM_CPUID_CORTEXM0",
    "cortex-m0+": "ARM_CPUID_CORTEXM3",
    "cortex-m3": "ARM_CPUID_CORTEXM3",
    "cortex-m33": "ARM_CPUID_CORTEXM33",
    "cortex-m4": "ARM_CPUID_CORTEXM4",
    "cortex-m4f": "ARM_CPUID_CORTEXM7",
    "cortex-m7": "ARM_CPUID_CORTEXM7",
}
TLIB_CPU_TYPES_SOURCE = (TLIB, "arch/arm/helper.c", "static const struct arm_cpu_t arm_cpu_names[]")


@dataclass(frozen=True)
class StockPeripheral:
    name: str
    type: str
    address: int
    # constructor attributes exactly as the stock file sets them
    attributes: dict[str, int | str]
    irq: int | None = None


# platforms/cpus/stm32f4.repl at v1.16.1 — only the entries the overlay touches or the engine names in messages.
STM32F4_REPL = "platforms/cpus/stm32f4.repl"
STM32F4_STOCK: dict[str, StockPeripheral] = {
    p.name: p
    for p in (
        StockPeripheral("fsmcBank1", "Memory.MappedMemory", 0x60000000, {"size": 0x10000000}),
        StockPeripheral("sram", "Memory.MappedMemory", 0x20000000, {"size": 0x00040000}),
        StockPeripheral("flash", "Memory.MappedMemory", 0x08000000, {"size": 0x200000}),
        StockPeripheral("rom1", "Memory.MappedMemory", 0x1FFF0000, {"size": 0xC000}),
        StockPeripheral("rom2", "Memory.MappedMemory", 0x1FFFC400, {"size": 0x3C00}),
        StockPeripheral(
            "nvic", "IRQControllers.NVIC", 0xE000E000, {"priorityMask": 0xF0, "systickFrequency": 72000000}
        ),
        StockPeripheral("cpu", "CPU.CortexM", 0, {"cpuType": "cortex-m4"}),
        StockPeripheral("usart1", "UART.STM32_UART", 0x40011000, {}, irq=37),
        StockPeripheral("usart2", "UART.STM32_UART", 0x40004400, {}, irq=38),
        StockPeripheral("usart3", "UART.STM32_UART", 0x40004800, {}, irq=39),
        StockPeripheral("uart4", "UART.STM32_UART", 0x40004C00, {}, irq=52),
        StockPeripheral("uart5", "UART.STM32_UART", 0x40005000, {}, irq=53),
        StockPeripheral("pwr", "Miscellaneous.STM32_PWR", 0x40007000, {}),
        StockPeripheral("rcc", "Miscellaneous.STM32F4_RCC", 0x40023800, {}),
        StockPeripheral("flash_controller", "MTD.STM32F4_FlashController", 0x40023C00, {}),
        StockPeripheral("gpioPortA", "GPIOPort.STM32_GPIOPort", 0x40020000, {}),
        StockPeripheral("gpioPortB", "GPIOPort.STM32_GPIOPort", 0x40020400, {}),
        StockPeripheral("gpioPortC", "GPIOPort.STM32_GPIOPort", 0x40020800, {}),
        StockPeripheral(
            "timer2", "Timers.STM32_Timer", 0x40000000, {"frequency": 10000000, "initialLimit": 0xFFFFFFFF}, irq=28
        ),
        StockPeripheral(
            "timer5", "Timers.STM32_Timer", 0x40000C00, {"frequency": 10000000, "initialLimit": 0xFFFFFFFF}, irq=50
        ),
        StockPeripheral("ethernet", "Network.SynopsysEthernetMAC", 0x40028000, {}, irq=61),
    )
}
# The stock file's `sysbus: init:` section begins with this line: it downloads an SVD file at load time.
STM32F4_SVD_INIT_LINE = "ApplySVD @https://dl.antmicro.com/projects/renode/svd/STM32F40x.svd.gz"
# Peripherals of an STM32F405 that the stock v1.16.1 description does not declare (checked by name and address).
STM32F4_MISSING = {
    "usart6": (0x40011400, "USART6; the firmware's console/data USARTs are USART1/USART2"),
    "syscfg": (0x40013800, "SYSCFG (EXTI line mapping, memory remap)"),
    "dwt": (0xE0001000, "DWT (CYCCNT); the firmware must count time with TIM2, not DWT"),
    "dbgmcu": (0xE0042000, "DBGMCU (timer freeze in debug)"),
    "adc": (0x40012000, "ADC1-3"),
    "dac": (0x40007400, "DAC"),
    "otg_fs": (0x50000000, "USB OTG FS (only a tag at 0x50000010..0x5000003f)"),
}
STOCK_PLATFORMS = {STM32F4_REPL: STM32F4_STOCK}

# --- monitor wire format (what the fake monitor in the tests reproduces) ---
MONITOR_WIRE = _facts(
    Fact(
        "telnet init",
        INFRA,
        "src/Emulator/Main/Utilities/SocketServerProvider.cs",
        "on accept in telnetMode: 255,253,0 (IAC DO BINARY) 255,251,1 (IAC WILL ECHO) 255,251,3 (IAC WILL SGA) "
        "255,252,34 (IAC WONT LINEMODE); a 0xFF data byte is sent doubled",
    ),
    Fact(
        "prompt",
        INFRA,
        "src/Emulator/Extensions/UserInterface/ShellProvider.cs",
        'NormalPrompt = new Prompt("(monitor) ", ConsoleColor.DarkRed); after `mach create`/`mach set`, '
        'CommandLineInterface sets Prompt(string.Format("({0}) ", machine), ConsoleColor.DarkYellow)',
    ),
    Fact(
        "colours",
        ANTSHELL,
        "AntShell/Terminal/NavigableTerminalEmulator.cs",
        "SetColor: Red -> ESC[;031m, DarkRed -> ESC[31;1m, DarkYellow -> ESC[33;1m; ResetColors -> ESC[0m "
        "(PlainMode is never set for the --port shell)",
    ),
    Fact(
        "echo and newline",
        ANTSHELL,
        "AntShell/CommandLine.cs",
        "typed characters are echoed; Enter ('\\r' or '\\n', SequenceValidator) writes NewLine() = \"\\n\\r\", runs "
        "the command, then writes the prompt again",
    ),
    Fact(
        "errors",
        ANTSHELL,
        "AntShell/CommandInteraction.cs",
        'WriteError(error) writes error + "\\r\\n" in ConsoleColor.Red; Monitor.cs: "There was an error executing '
        'command \'{0}\'", "No such command or device: {0}", "Could not tokenize here:"',
    ),
    Fact(
        "numbers",
        INFRA,
        "src/Emulator/Extensions/UserInterface/MonitorCommands.cs",
        'PrintActionResult: integers use NumberFormats[Hexadecimal] = "0x{0:X}" widened to 2*sizeof digits '
        '(uint -> 8, ulong -> 16) followed by "\\r\\n"; other objects use ToString()',
    ),
    Fact(
        "RegisterValue",
        INFRA,
        "src/Emulator/Main/Peripherals/CPU/RegisterValue.cs",
        'public override string ToString() { return $"0x{RawValue.ToString("x")}"; }',
    ),
)
PROMPT_COLOUR_MONITOR = "\x1b[31;1m"
PROMPT_COLOUR_MACHINE = "\x1b[33;1m"
ERROR_COLOUR = "\x1b[;031m"
RESET_COLOUR = "\x1b[0m"
TELNET_INIT = bytes([255, 253, 0, 255, 251, 1, 255, 251, 3, 255, 252, 34])

# --- log lines the engine classifies (format strings as in the source) ---
LOG_FORMATS = _facts(
    Fact(
        "log line",
        INFRA,
        "src/Emulator/Main/Logging/Backends/FormattedTextBackend.cs",
        '$"{CustomDateTime.Now:HH:mm:ss.ffff} [{entry.Type}]{threadString} {base.FormatLogEntry(entry)}" where '
        'TextBackend gives "{ObjectName}: {Message}" (+ " ({Count})" when repeated); LogLevel.ToString() is upper '
        "case (WARNING, ERROR); ObjectName drops the 'sysbus.' prefix",
    ),
    Fact(
        "non existing read",
        INFRA,
        "src/Emulator/Main/Peripherals/Bus/SystemBus.cs",
        'NonExistingRead = "Read{1} from non existing peripheral at 0x{0:X}." ({1} is SysbusAccessWidth: Byte, '
        'Word, DoubleWord, QuadWord), prefixed by DecorateWithCPUNameAndPC: "[{cpuName}: 0x{PC:X}] " only when '
        "the access comes from a CPU",
    ),
    Fact(
        "non existing write",
        INFRA,
        "src/Emulator/Main/Peripherals/Bus/SystemBus.cs",
        'NonExistingWrite = "Write{2} to non existing peripheral at 0x{0:X}, value 0x{1:X}."',
    ),
    Fact(
        "cpu abort",
        INFRA,
        "src/Emulator/Peripherals/Peripherals/CPU/TranslationCPU.cs",
        'ReportAbort: this.Log(LogLevel.Error, "CPU abort [PC=0x{0:X}]: {1}.", PC.RawValue, message); tlib '
        'include/exec-all.h: cpu_abort(env, "Trying to execute code %s at 0x" TARGET_FMT_lx, '
        '"outside RAM or ROM", addr)',
    ),
    Fact(
        "unhandled read",
        INFRA,
        "src/Emulator/Main/Logging/Logger.cs",
        'LogUnhandledRead: peripheral.Log(LogLevel.Warning, "Unhandled read from offset 0x{0:X}{1}.", offset, '
        "registerName) — offset is relative to the peripheral",
    ),
    Fact(
        "python error",
        INFRA,
        "src/Emulator/Extensions/Hooks/BlockPythonEngine.cs",
        'CPU.Log(LogLevel.Error, "Python runtime error: {0}", error)',
    ),
)

# --- time ---
TIME_FACTS = _facts(
    Fact(
        "TimeInterval",
        INFRA,
        "src/Emulator/Main/Time/TimeInterval.cs",
        "TicksPerNanosecond = 1 (resolution 10^-9 s); TryParse regex "
        "(((?<hours>[0-9]+):)?(?<minutes>[0-9]+):)?(?<seconds>[0-9]+)(?<decimals>\\.[0-9]+)? with "
        'decimals = (ulong)(double.Parse("0" + decimals) * TicksPerSecond); '
        "ToCPUCycles = nanoseconds * performanceInMips / 1000 (floor)",
    ),
    Fact(
        "FromCPUCycles",
        INFRA,
        "src/Emulator/Main/Time/TimeInterval.cs",
        "residuumModulus = performanceInMips / GCD(performanceInMips, TicksPerMicrosecond): time advances in "
        "whole multiples of that many instructions",
    ),
    Fact(
        "WFI",
        INFRA,
        "src/Emulator/Peripherals/Peripherals/CPU/BaseCPU.cs",
        "ExecutionResult.WaitingForInterrupt: ReportProgress(instructionsToSkip) — virtual time and ElapsedCycles "
        "advance, ExecutedInstructions does not",
    ),
)

# --- semihosting (decides ConfigFlag.SEMIHOSTING_EXIT on Renode) ---
SEMIHOSTING = Fact(
    "semihosting",
    INFRA,
    "src/Emulator/Cores/Arm/Arm.cs",
    "DoSemihosting(): switch(R[0]) { case 7: SYS_READC; case 3: SYS_WRITEC; case 4: SYS_WRITE0 (all three only "
    'with a SemihostingUart registered); default: Log(Debug, "Unknown semihosting operation") } and r0 = 0. '
    "tlib arch/arm/helper.c (M profile): EXCP_BKPT with imm 0xAB -> regs[0] = tlib_do_semihosting(). "
    "So SYS_READ (0x06), SYS_EXIT (0x18) and SYS_EXIT_EXTENDED (0x20) are NOT supported: they return 0 and "
    "execution continues.",
)
SEMIHOSTING_SUPPORTED_OPS = {3: "SYS_WRITEC", 4: "SYS_WRITE0", 7: "SYS_READC"}

# --- fault status registers as the NVIC model provides them ---
FAULT_REGISTERS = Fact(
    "SCB fault registers",
    INFRA,
    "src/Emulator/Cores/Arm-M/NVIC.cs",
    "CFSR (0xD28) -> cpu.FaultStatus and MMFAR (0xD34) -> cpu.MemoryFaultAddress are modelled; HFSR (0xD2C) is "
    "only tagged flags (VECTTBL, FORCED, DEBUGEVT) and reads 0; BFAR (0xD38) is listed but not defined "
    "(unhandled read). Unmapped accesses never raise a BusFault, so CFSR's BFSR bits stay 0.",
)

ALL_FACT_TABLES: dict[str, dict[str, Fact]] = {
    "cli": CLI_OPTIONS,
    "monitor": MONITOR_COMMANDS,
    "repl syntax": REPL_SYNTAX,
    "repl types": REPL_TYPES,
    "monitor wire": MONITOR_WIRE,
    "log": LOG_FORMATS,
    "time": TIME_FACTS,
}
