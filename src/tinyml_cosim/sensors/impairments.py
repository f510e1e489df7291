"""Impairments: what goes wrong between the physical quantity and the bytes the firmware reads.

Each impairment is a pydantic model placed on the timeline (`start_s`, `duration_s`), optionally restricted to some
channels, and draws randomness only from the generator it is handed (seeded per sensor and per impairment).
They act in fixed stages, in list order within a stage (docs/sensors.md gives every formula):

    timing   (when the part samples):    jitter, clock_drift
    physical (the quantity, in `unit`):  white_noise, pink_noise, offset_drift, gain_drift, ageing, spikes, clipping,
                                         mounting_rotation
    raw      (the part's codes):         stuck_at, bit_flip, disconnect
    stream   (what reaches the reader):  dropout

Drift-like impairments (offset_drift, gain_drift, ageing, clock_drift) accumulate while active and keep their final
value after the window ends, as a real drift does; the others act only inside their window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from tinyml_cosim.sensors.signals import colored_noise
from tinyml_cosim.sensors.timeline import Placed, Profile, pwl, pwl_points


class Impairment(Placed):
    channels: list[str] | None = Field(None, description="channels it affects; all when omitted")
    STAGE: ClassVar[str] = "physical"

    def channel_mask(self, names: tuple[str, ...]) -> np.ndarray:
        if self.channels is None:
            return np.ones(len(names), dtype=bool)
        return np.array([n in self.channels for n in names])

    def elapsed(self, t: np.ndarray, total_s: float) -> np.ndarray:
        """Time spent inside the window so far: 0 before it, frozen after it (for drift-like impairments)."""
        return np.clip(t - self.start_s, 0.0, self.end_s(total_s) - self.start_s)


@dataclass(frozen=True)
class RawInfo:
    """What raw-stage impairments need to know about the part's codes."""

    channels: tuple[str, ...]
    data_bits: int
    signed: bool
    code_min: int
    code_max: int


# --- timing ---------------------------------------------------------------------------------------------------------


class Jitter(Impairment):
    """t_k += N(0, sigma_s): the sampling instant wanders around its nominal time."""

    type: Literal["jitter"] = "jitter"
    STAGE: ClassVar[str] = "timing"
    sigma_s: float = Field(gt=0, description="standard deviation of the sampling instant")

    def apply_time(self, t: np.ndarray, rng: np.random.Generator, total_s: float) -> np.ndarray:
        w = self.window(t, total_s)
        return t + np.where(w, rng.normal(0.0, self.sigma_s, len(t)), 0.0)


class ClockDrift(Impairment):
    """The part's clock runs fast by `ppm`: t_k' = t_k - ppm * 1e-6 * elapsed(t_k) (samples come early)."""

    type: Literal["clock_drift"] = "clock_drift"
    STAGE: ClassVar[str] = "timing"
    ppm: float = Field(description="frequency error of the part's oscillator; positive = fast")

    @field_validator("ppm")
    @classmethod
    def _sane(cls, v: float) -> float:
        if not -1e5 < v < 1e5:
            raise ValueError(f"{v:g} ppm is more than 10 %; use a different odr_hz instead")
        return v

    def apply_time(self, t: np.ndarray, rng: np.random.Generator, total_s: float) -> np.ndarray:
        return t - self.ppm * 1e-6 * self.elapsed(t, total_s)


# --- physical -------------------------------------------------------------------------------------------------------


class WhiteNoise(Impairment):
    """x += sigma * N(0, 1), independent per sample and channel."""

    type: Literal["white_noise"] = "white_noise"
    sigma: float = Field(gt=0)

    def apply(self, t: np.ndarray, x: np.ndarray, ctx: PhysicalContext) -> np.ndarray:
        w = self.window(t, ctx.total_s)
        cm = self.channel_mask(ctx.channels)
        noise = ctx.rng.normal(0.0, self.sigma, (int(w.sum()), int(cm.sum())))
        x[np.ix_(w, cm)] += noise
        return x


class PinkNoise(Impairment):
    """x += sigma * p_k, where p has unit variance and a 1/f power spectral density (flicker noise)."""

    type: Literal["pink_noise"] = "pink_noise"
    sigma: float = Field(gt=0)

    def apply(self, t: np.ndarray, x: np.ndarray, ctx: PhysicalContext) -> np.ndarray:
        w = self.window(t, ctx.total_s)
        for c in np.nonzero(self.channel_mask(ctx.channels))[0]:
            x[w, c] += self.sigma * colored_noise(ctx.rng, int(w.sum()), 1.0)
        return x


class _DriftModel(Impairment):
    model: Literal["linear", "temperature", "random_walk"]
    rate_per_s: float | None = Field(None, description="linear: change per second while active")
    coeff_per_degc: float | None = Field(None, description="temperature: change per degC away from ref_c")
    ref_c: float = 25.0
    temperature_profile: Profile | None = Field(None, description="temperature: [[t_s, degC], ...]")
    sigma_per_sqrt_s: float | None = Field(None, gt=0, description="random_walk: step sigma per sqrt(second)")

    @field_validator("temperature_profile")
    @classmethod
    def _profile(cls, v: Profile | None) -> Profile | None:
        return None if v is None else pwl_points(v)

    @model_validator(mode="after")
    def _params(self) -> _DriftModel:
        need = {"linear": ["rate_per_s"], "temperature": ["coeff_per_degc", "temperature_profile"]}
        need["random_walk"] = ["sigma_per_sqrt_s"]
        for name in need[self.model]:
            if getattr(self, name) is None:
                raise ValueError(f"model {self.model} needs {name}")
        return self

    def amount(self, t: np.ndarray, ctx: PhysicalContext) -> np.ndarray:
        """The drift at each sample: 0 before the window, accumulated inside it, held after it."""
        u = self.elapsed(t, ctx.total_s)
        if self.model == "linear":
            return np.broadcast_to((self.rate_per_s or 0.0) * u, (len(ctx.channels), len(t))).T.copy()
        if self.model == "temperature":
            assert self.temperature_profile is not None
            temp = pwl(self.temperature_profile, self.start_s + u)
            d = (self.coeff_per_degc or 0.0) * (temp - self.ref_c) * (t >= self.start_s)
            return np.broadcast_to(d, (len(ctx.channels), len(t))).T.copy()
        # Random walk: independent Gaussian increments with variance sigma^2 * dt per channel.
        du = np.diff(u, prepend=0.0)
        steps = ctx.rng.standard_normal((len(t), len(ctx.channels))) * (self.sigma_per_sqrt_s or 0.0)
        return np.cumsum(steps * np.sqrt(np.maximum(du, 0.0))[:, None], axis=0)


class OffsetDrift(_DriftModel):
    """x += d(t): linear d = r * u; temperature d = c * (T(t) - T_ref); random walk d = sum sigma * sqrt(du) * N."""

    type: Literal["offset_drift"] = "offset_drift"

    def apply(self, t: np.ndarray, x: np.ndarray, ctx: PhysicalContext) -> np.ndarray:
        cm = self.channel_mask(ctx.channels)
        x[:, cm] += self.amount(t, ctx)[:, cm]
        return x


class GainDrift(_DriftModel):
    """x *= 1 + d(t), with d from the same three models (as a fraction: 0.01 = +1 %)."""

    type: Literal["gain_drift"] = "gain_drift"

    def apply(self, t: np.ndarray, x: np.ndarray, ctx: PhysicalContext) -> np.ndarray:
        cm = self.channel_mask(ctx.channels)
        x[:, cm] *= 1.0 + self.amount(t, ctx)[:, cm]
        return x


class Ageing(Impairment):
    """Diffusion-limited ageing: with h = hours_per_second * u, x = x * (1 - g * sqrt(h)) + o * sqrt(h)."""

    type: Literal["ageing"] = "ageing"
    hours_per_second: float = Field(gt=0, description="simulated ageing time per second of scenario time")
    offset_per_sqrt_hour: float = 0.0
    gain_loss_per_sqrt_hour: float = Field(0.0, ge=0)

    def apply(self, t: np.ndarray, x: np.ndarray, ctx: PhysicalContext) -> np.ndarray:
        root_h = np.sqrt(self.hours_per_second * self.elapsed(t, ctx.total_s))[:, None]
        cm = self.channel_mask(ctx.channels)
        x[:, cm] = x[:, cm] * (1.0 - self.gain_loss_per_sqrt_hour * root_h) + self.offset_per_sqrt_hour * root_h
        return x


class Spikes(Impairment):
    """Glitches at Poisson-distributed instants (rate_hz): each adds +-amplitude for width_samples samples."""

    type: Literal["spikes"] = "spikes"
    rate_hz: float = Field(gt=0)
    amplitude: float = Field(gt=0)
    width_samples: int = Field(1, ge=1, le=1000)
    polarity: Literal["both", "positive", "negative"] = "both"

    def apply(self, t: np.ndarray, x: np.ndarray, ctx: PhysicalContext) -> np.ndarray:
        idx = np.nonzero(self.window(t, ctx.total_s))[0]
        if len(idx) == 0:
            return x
        span = self.end_s(ctx.total_s) - self.start_s
        count = ctx.rng.poisson(self.rate_hz * span)
        starts = np.sort(ctx.rng.choice(idx, size=min(count, len(idx)), replace=False))
        signs = {"both": ctx.rng.choice([-1.0, 1.0], len(starts)), "positive": np.ones(len(starts))}
        sign = signs.get(self.polarity, -np.ones(len(starts)))
        cm = self.channel_mask(ctx.channels)
        for s, sg in zip(starts, sign, strict=True):
            x[s : min(s + self.width_samples, idx[-1] + 1), cm] += sg * self.amplitude
        return x


class Clipping(Impairment):
    """x = clip(x, low, high): an analogue stage saturating before the part's own full scale."""

    type: Literal["clipping"] = "clipping"
    low: float | None = None
    high: float | None = None
    level: float | None = Field(None, gt=0, description="shorthand for low = -level, high = +level")

    @model_validator(mode="after")
    def _bounds(self) -> Clipping:
        if self.level is None and self.low is None and self.high is None:
            raise ValueError("give level, or low and/or high")
        if self.low is not None and self.high is not None and self.low >= self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")
        return self

    def apply(self, t: np.ndarray, x: np.ndarray, ctx: PhysicalContext) -> np.ndarray:
        lo = -self.level if self.level is not None else self.low
        hi = self.level if self.level is not None else self.high
        w = self.window(t, ctx.total_s)
        cm = self.channel_mask(ctx.channels)
        sub = x[np.ix_(w, cm)]
        x[np.ix_(w, cm)] = np.clip(sub, -np.inf if lo is None else lo, np.inf if hi is None else hi)
        return x


def rotation_matrix(roll_deg: float, pitch_deg: float, yaw_deg: float) -> np.ndarray:
    """R = Rz(yaw) Ry(pitch) Rx(roll): maps a vector in the machine frame into the (rotated) sensor frame."""
    r, p, y = (math.radians(a) for a in (roll_deg, pitch_deg, yaw_deg))
    rx = np.array([[1, 0, 0], [0, math.cos(r), -math.sin(r)], [0, math.sin(r), math.cos(r)]])
    ry = np.array([[math.cos(p), 0, math.sin(p)], [0, 1, 0], [-math.sin(p), 0, math.cos(p)]])
    rz = np.array([[math.cos(y), -math.sin(y), 0], [math.sin(y), math.cos(y), 0], [0, 0, 1]])
    return rz @ ry @ rx


class MountingRotation(Impairment):
    """x = R(roll, pitch, yaw)^T x: the part is mounted (or knocked) rotated; 3-axis parts only."""

    type: Literal["mounting_rotation"] = "mounting_rotation"
    roll_deg: float = 0.0
    pitch_deg: float = 0.0
    yaw_deg: float = 0.0

    def apply(self, t: np.ndarray, x: np.ndarray, ctx: PhysicalContext) -> np.ndarray:
        w = self.window(t, ctx.total_s)
        # A sensor frame rotated by R sees world vectors through R^T.
        rot = rotation_matrix(self.roll_deg, self.pitch_deg, self.yaw_deg).T
        x[w] = x[w] @ rot.T
        return x


# --- raw (codes) ----------------------------------------------------------------------------------------------------


class StuckAt(Impairment):
    """code_k = value (or the code of the first sample in the window): a frozen output register."""

    type: Literal["stuck_at"] = "stuck_at"
    STAGE: ClassVar[str] = "raw"
    value: int | None = Field(None, description="the stuck code; the last good code when omitted")

    def apply_raw(
        self, t: np.ndarray, codes: np.ndarray, rng: np.random.Generator, info: RawInfo, total_s: float
    ) -> np.ndarray:
        idx = np.nonzero(self.window(t, total_s))[0]
        if len(idx) == 0:
            return codes
        cm = self.channel_mask(info.channels)
        held = np.full(codes.shape[1], self.value) if self.value is not None else codes[idx[0]].copy()
        codes[np.ix_(idx, cm)] = np.clip(held[cm], info.code_min, info.code_max)
        return codes


class BitFlip(Impairment):
    """Each code flips one uniformly chosen data bit with probability `probability` (two's complement kept)."""

    type: Literal["bit_flip"] = "bit_flip"
    STAGE: ClassVar[str] = "raw"
    probability: float = Field(gt=0, le=1)

    def apply_raw(
        self, t: np.ndarray, codes: np.ndarray, rng: np.random.Generator, info: RawInfo, total_s: float
    ) -> np.ndarray:
        w = self.window(t, total_s)
        hit = (rng.random(codes.shape) < self.probability) & w[:, None] & self.channel_mask(info.channels)[None, :]
        bits = rng.integers(0, info.data_bits, codes.shape)
        mask = (1 << info.data_bits) - 1
        flipped = (codes.astype(np.int64) & mask) ^ (np.int64(1) << bits)
        if info.signed:
            sign = np.int64(1) << (info.data_bits - 1)
            flipped = (flipped ^ sign) - sign  # back to a signed value of data_bits bits
        return np.where(hit, flipped, codes)


class Disconnect(Impairment):
    """The part or its wire is gone: codes read 0, positive full scale or negative full scale."""

    type: Literal["disconnect"] = "disconnect"
    STAGE: ClassVar[str] = "raw"
    reads: Literal["zero", "full_scale", "negative_full_scale"] = "zero"

    def apply_raw(
        self, t: np.ndarray, codes: np.ndarray, rng: np.random.Generator, info: RawInfo, total_s: float
    ) -> np.ndarray:
        w = self.window(t, total_s)
        value = {"zero": 0, "full_scale": info.code_max, "negative_full_scale": info.code_min}[self.reads]
        codes[np.ix_(w, self.channel_mask(info.channels))] = value
        return codes


# --- stream ---------------------------------------------------------------------------------------------------------


class Dropout(Impairment):
    """Samples lost: a fraction `rate` of the window in bursts of mean `burst_samples`.

    mode missing: the samples are not delivered (timestamps and index show the gap); hold: the previous sample is
    repeated; zero: zeros are delivered. Channels cannot be chosen: a sample is lost whole.
    """

    type: Literal["dropout"] = "dropout"
    STAGE: ClassVar[str] = "stream"
    rate: float = Field(gt=0, le=1, description="expected fraction of samples lost inside the window")
    burst_samples: float = Field(1.0, ge=1, description="mean burst length; 1 = independent losses")
    mode: Literal["missing", "hold", "zero"] = "missing"

    def lost(self, t: np.ndarray, rng: np.random.Generator, total_s: float) -> np.ndarray:
        w = self.window(t, total_s)
        idx = np.nonzero(w)[0]
        lost = np.zeros(len(t), dtype=bool)
        if len(idx) == 0:
            return lost
        if self.burst_samples == 1:
            lost[idx] = rng.random(len(idx)) < self.rate
            return lost
        # Bursts: Poisson count, uniform starts, geometric lengths; expected loss = rate (before overlaps).
        bursts = rng.poisson(self.rate * len(idx) / self.burst_samples)
        starts = rng.integers(0, len(idx), bursts)
        lengths = rng.geometric(1.0 / self.burst_samples, bursts)
        for s, n in zip(starts, lengths, strict=True):
            lost[idx[s : s + n]] = True
        return lost


Impair = Annotated[
    Jitter
    | ClockDrift
    | WhiteNoise
    | PinkNoise
    | OffsetDrift
    | GainDrift
    | Ageing
    | Spikes
    | Clipping
    | MountingRotation
    | StuckAt
    | BitFlip
    | Disconnect
    | Dropout,
    Field(discriminator="type"),
]
# The impairments of each STAGE (what scenario.generate applies where; `Dropout` is the one stream stage).
TimingStage = Jitter | ClockDrift
PhysicalStage = WhiteNoise | PinkNoise | OffsetDrift | GainDrift | Ageing | Spikes | Clipping | MountingRotation
RawStage = StuckAt | BitFlip | Disconnect


@dataclass(frozen=True)
class PhysicalContext:
    rng: np.random.Generator
    channels: tuple[str, ...]
    total_s: float
