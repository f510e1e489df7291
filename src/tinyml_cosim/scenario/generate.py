"""Turn a validated scenario into sample streams, deterministically.

Seeds: every random draw comes from its own numpy Generator(PCG64) seeded with
SeedSequence(scenario_seed, spawn_key=(sensor_key, role, item)), where sensor_key is taken from the SHA-256 of the
sensor id (not Python's hash(), which is salted per process), role is 0 for sources, 1 for impairments and 2 for
the part itself, and item is the position in its list. So the same seed gives the same bytes in every process, and
adding a sensor or an impairment does not change the random draws of the others.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, cast

import numpy as np

from tinyml_cosim.sensors.impairments import Dropout, PhysicalContext, PhysicalStage, RawStage, TimingStage
from tinyml_cosim.sensors.model import PartModel
from tinyml_cosim.sensors.signals import render_sources
from tinyml_cosim.sensors.stream import FaultWindow, SampleStream
from tinyml_cosim.sensors.timeline import Context

if TYPE_CHECKING:  # annotations only: the model module imports this one (Scenario.generate)
    from .model import Scenario, SensorSpec

ROLE_SOURCE, ROLE_IMPAIRMENT, ROLE_PART = 0, 1, 2


def rng_for(seed: int, sensor_id: str, role: int, item: int = 0) -> np.random.Generator:
    key = int.from_bytes(hashlib.sha256(sensor_id.encode()).digest()[:8], "little")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(key, role, item))))


def part_model(scn: Scenario, spec: SensorSpec, seed: int) -> PartModel:
    part = scn.part_of(spec)
    odr = spec.odr_hz if spec.odr_hz is not None else part.default_odr_hz
    range_value = spec.range_g if spec.range_g is not None else part.default_range
    cross = None
    if isinstance(spec.cross_axis, list):
        cross = np.asarray(spec.cross_axis, dtype=np.float64)
    elif spec.cross_axis == "auto" and len(part.channels) > 1:
        # Small random coupling within the part's typical cross-axis sensitivity; the diagonal stays 1.
        n = len(part.channels)
        draw = rng_for(seed, spec.id, ROLE_PART, 1).uniform(-part.cross_axis, part.cross_axis, (n, n))
        cross = np.eye(n) + draw * (1 - np.eye(n))
    return PartModel(part, range_value, spec.mode or part.default_mode, odr, cross)


def label_codes(scn: Scenario, t: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Label of the timeline segment each instant falls in; 'unlabelled' outside every segment (code 0)."""
    names = ["unlabelled", *dict.fromkeys(seg.label for seg in scn.timeline)]
    codes = np.zeros(len(t), dtype=np.int16)
    for seg in scn.timeline:
        codes[(t >= seg.start_s) & (t < seg.stop_s)] = names.index(seg.label)
    return codes, tuple(names)


def generate_sensor(scn: Scenario, spec: SensorSpec, seed: int) -> SampleStream:
    model = part_model(scn, spec, seed)
    part = model.part
    total = scn.duration_s
    channels = tuple(part.channels)
    n = int(np.floor(total * model.odr_hz + 1e-9))
    index = np.arange(n, dtype=np.int64)
    t = index / model.odr_hz

    imps = list(enumerate(spec.impairments))
    for j, imp in imps:
        if imp.STAGE == "timing":
            t = cast(TimingStage, imp).apply_time(t, rng_for(seed, spec.id, ROLE_IMPAIRMENT, j), total)
    t = np.maximum(t, 0.0)

    def ctx_for(i: int) -> Context:
        rng = rng_for(seed, spec.id, ROLE_SOURCE, i)
        return Context(rng, channels, part.unit, model.odr_hz, total, scn.base_dir)

    x = render_sources(spec.signal, t, ctx_for)
    for j, imp in imps:
        if imp.STAGE == "physical":
            pctx = PhysicalContext(rng_for(seed, spec.id, ROLE_IMPAIRMENT, j), channels, total)
            x = cast(PhysicalStage, imp).apply(t, x, pctx)
    if spec.intrinsic_noise and model.noise_sigma > 0:
        x = x + rng_for(seed, spec.id, ROLE_PART, 0).normal(0.0, model.noise_sigma, x.shape)

    codes = model.quantize(x)
    info = model.raw_info()
    for j, imp in imps:
        if imp.STAGE == "raw":
            codes = cast(RawStage, imp).apply_raw(t, codes, rng_for(seed, spec.id, ROLE_IMPAIRMENT, j), info, total)

    keep = np.ones(n, dtype=bool)
    for j, imp in imps:
        if imp.STAGE != "stream":
            continue
        lost = (drop := cast(Dropout, imp)).lost(t, rng_for(seed, spec.id, ROLE_IMPAIRMENT, j), total)
        if drop.mode == "missing":
            keep &= ~lost
        elif drop.mode == "zero":
            codes[lost] = 0
        else:
            # Hold: a lost sample repeats the last one that arrived (forward fill of sample positions).
            src = np.where(lost, 0, np.arange(n))
            np.maximum.accumulate(src, out=src)
            codes = codes[src]
    labels, names = label_codes(scn, t)
    faults = tuple(FaultWindow(imp.type, imp.start_s, imp.end_s(total), j) for j, imp in imps if imp.start_s < total)
    return SampleStream(
        sensor_id=spec.id,
        part=part.id,
        kind=part.kind,
        unit=part.unit,
        channels=channels,
        odr_hz=model.odr_hz,
        raw=model.encode(codes[keep]),
        timestamps_ns=np.rint(t[keep] * 1e9).astype(np.int64),
        index=index[keep],
        labels=labels[keep],
        label_names=names,
        physical=x[keep],
        shift=model.shift,
        sensitivity=model.unit_per_code,
        fault_windows=faults,
    )


def generate(scn: Scenario, seed: int) -> dict[str, SampleStream]:
    return {spec.id: generate_sensor(scn, spec, seed) for spec in scn.sensors}
