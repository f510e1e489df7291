"""tinyml-cosim: run int8 ML firmware on emulated STM32 boards and verify what it decides."""

__version__ = "0.2.0"
