"""Where a run stopped and what the fault registers said: the one block that the verdict, the run record (run.json)
and the report's run summary (report.json) carry, as flat fields. The four SCB registers are the engines' own
`FaultRegisters`; the levels here add what the host derives from them and from the CPU state."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer

from tinyml_cosim.engines.base import FaultRegisters


class ReadableOrder(BaseModel):
    """JSON keys in the order people read them (status first, the fault block after the outcome), not pydantic's
    inherited-fields-first order: run.json and report.json keep the key order they had before the block was shared.
    Keys not listed follow in declaration order."""

    KEY_ORDER: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _in_readable_order(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        first = {k: data[k] for k in self.KEY_ORDER if k in data}
        return first | {k: v for k, v in data.items() if k not in first}


class FaultBlock(FaultRegisters):
    """What a run summary in report.json shows about where a run stopped: the fault registers, PC and LR, and the
    names of the fault bits that are set."""

    pc: int | None = Field(None, description="program counter where the run ended (faults: the faulting PC)")
    lr: int | None = None
    fault_bits: list[str] = Field([], description="names of the CFSR and HFSR bits that are set")
    pc_symbol: str | None = Field(None, description="the function holding `pc`, from the ELF's symbol table")


class StopState(FaultBlock):
    """The whole block a verdict and a run record hold: the summary's, with SP, xPSR and the register a stalled
    firmware kept polling."""

    sp: int | None = None
    xpsr: int | None = None
    polled_address: int | None = Field(None, description="an unmodelled peripheral register the stalled firmware read")

    def set_faults(self, faults: FaultRegisters) -> None:
        """Take the engine's registers and the names of their bits."""
        self.cfsr, self.hfsr, self.mmfar, self.bfar = faults.cfsr, faults.hfsr, faults.mmfar, faults.bfar
        self.fault_bits = faults.bits

    def summary_fields(self) -> dict[str, object]:
        """The `FaultBlock` part, for a run summary."""
        return {name: getattr(self, name) for name in FaultBlock.model_fields}
