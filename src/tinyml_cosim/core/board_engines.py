"""The `engines:` section of a board file: the QEMU machine and the Renode platform it runs on, or why not."""

from __future__ import annotations

import os
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tinyml_cosim.core.board_values import MACHINE_NAME, qemu_machines


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QemuEngine(_Strict):
    machine: str | None = Field(None, min_length=1)
    timer_hz: int | None = Field(None, gt=0)
    systick_hz: int | None = Field(None, gt=0)
    serial_order: list[str] | None = Field(None, min_length=1)
    unsupported: str | None = None

    @field_validator("serial_order")
    @classmethod
    def _serial_names(cls, v: list[str] | None) -> list[str] | None:
        for name in v or []:
            if not re.fullmatch(r"u(s)?art[1-9]", name):
                raise ValueError(f"{name[:20]!r} is not a USART name; write usart<n> or uart<n>")
        return v

    @field_validator("machine")
    @classmethod
    def _known_machine(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not MACHINE_NAME.fullmatch(v):
            raise ValueError(f"{v[:20]!r} is not a QEMU machine name (see `qemu-system-arm -M help`)")
        # The engine's binary (engines/qemu/engine.py QEMU_BINARY): read here without importing the engine.
        known = qemu_machines(os.environ.get("COSIM_QEMU", "qemu-system-arm"))
        if known is not None and v not in known:
            near = sorted(m for m in known if m.startswith(("netduino", "stm32", "olimex", "mps2")))
            raise ValueError(f"{v!r} is not a machine of this QEMU; its STM32-like machines are {', '.join(near)}")
        return v

    @model_validator(mode="after")
    def _machine_or_reason(self) -> QemuEngine:
        if self.unsupported:
            return self
        missing = [k for k in ("machine", "timer_hz", "systick_hz", "serial_order") if getattr(self, k) is None]
        if missing:
            raise ValueError(f"give {', '.join(missing)} (a QEMU machine) or `unsupported` (the reason)")
        return self


class RenodeEngine(_Strict):
    platform: str | None = None
    cpu_type: str | None = None
    unsupported: str | None = None

    @model_validator(mode="after")
    def _platform_or_reason(self) -> RenodeEngine:
        if not self.platform and not self.unsupported:
            raise ValueError("give either `platform` (a Renode .repl) or `unsupported` (the reason)")
        return self


class Engines(_Strict):
    # Both are required: an engine a board does not run on says why (`unsupported`), so a file cut short after
    # `engines:` or `qemu:` is an error rather than a board without engines.
    qemu: QemuEngine
    renode: RenodeEngine
