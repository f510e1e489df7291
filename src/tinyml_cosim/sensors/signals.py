"""Signal sources: the physical quantity a sensor sees, as a function of time, in the part's unit (g, Pa, degC, A).

Every source is a pydantic model (so scenario files validate it) with `evaluate(t, ctx) -> (n, channels)` where `t`
holds the instants the part actually sampled (jitter and clock drift included) and time inside the source runs from
its own `start_s`. Sources are summed. Closed forms are used wherever possible so that a source can be evaluated at
any instants, not only on a uniform grid."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.core.inputs import MAX_CSV_BYTES, MAX_WAV_BYTES, source_file
from tinyml_cosim.sensors.csvfile import read_csv_columns
from tinyml_cosim.sensors.timeline import Context, Item, Placed, Profile, pwl, pwl_integral, pwl_points
from tinyml_cosim.sensors.wavfile import read_wav

Axis = Literal["x", "y", "z"] | str | list[float] | None


def _direction(axis: Axis, ctx: Context) -> np.ndarray:
    """Unit weights per channel for a scalar source: a channel name, a vector, or (None) the first channel."""
    n = len(ctx.channels)
    if axis is None:
        w = np.zeros(n)
        w[0] = 1.0
        return w
    if isinstance(axis, str):
        w = np.zeros(n)
        w[ctx.channels.index(axis)] = 1.0
        return w
    v = np.asarray(axis, dtype=np.float64)
    norm = float(np.linalg.norm(v))
    return v / norm


def _check_axis(axis: Axis) -> Axis:
    if isinstance(axis, list):
        if len(axis) != 3:
            raise ValueError(f"a direction vector has 3 components, got {len(axis)}")
        if not any(axis):
            raise ValueError("a direction vector cannot be all zeros")
    return axis


class Scalar(Placed):
    axis: Axis = Field(None, description="channel name (x, y, z) or direction [x, y, z]; first channel if omitted")

    @field_validator("axis")
    @classmethod
    def _axis(cls, v: Axis) -> Axis:
        return _check_axis(v)

    def scalar(self, t: np.ndarray, ctx: Context) -> np.ndarray:
        raise NotImplementedError

    def evaluate(self, t: np.ndarray, ctx: Context) -> np.ndarray:
        return self.scalar(t, ctx)[:, None] * _direction(self.axis, ctx)[None, :]


# --- primitives ------------------------------------------------------------------------------------------------------


class Constant(Placed):
    type: Literal["constant"] = "constant"
    value: float | list[float] = Field(description="one value for every channel, or one per channel")

    def evaluate(self, t: np.ndarray, ctx: Context) -> np.ndarray:
        v = np.broadcast_to(np.asarray(self.value, dtype=np.float64), (len(ctx.channels),))
        return np.tile(v, (len(t), 1))


class Gravity(Placed):
    """1 g in the sensor frame of a part tilted by roll (about x) then pitch (about y); z up when level."""

    type: Literal["gravity"] = "gravity"
    g: float = 1.0
    roll_deg: float = 0.0
    pitch_deg: float = 0.0

    def evaluate(self, t: np.ndarray, ctx: Context) -> np.ndarray:
        r, p = math.radians(self.roll_deg), math.radians(self.pitch_deg)
        v = self.g * np.array([-math.sin(p), math.sin(r) * math.cos(p), math.cos(r) * math.cos(p)])
        return np.tile(v[: len(ctx.channels)], (len(t), 1))


class Step(Scalar):
    type: Literal["step"] = "step"
    amplitude: float

    def scalar(self, t: np.ndarray, ctx: Context) -> np.ndarray:
        return np.full(len(t), self.amplitude)


class Ramp(Scalar):
    type: Literal["ramp"] = "ramp"
    amplitude: float
    rise_s: float = Field(gt=0, description="time to go from 0 to amplitude; then holds")

    def scalar(self, t: np.ndarray, ctx: Context) -> np.ndarray:
        return self.amplitude * np.clip((t - self.start_s) / self.rise_s, 0.0, 1.0)


class Sine(Scalar):
    type: Literal["sine"] = "sine"
    amplitude: float
    freq_hz: float = Field(gt=0)
    phase_deg: float = 0.0
    offset: float = 0.0

    def scalar(self, t: np.ndarray, ctx: Context) -> np.ndarray:
        tr = t - self.start_s
        return self.offset + self.amplitude * np.sin(2 * np.pi * self.freq_hz * tr + math.radians(self.phase_deg))


class CsvReplay(Placed):
    """Replay columns of a CSV file (header row required), linearly interpolated at the sample instants."""

    type: Literal["csv"] = "csv"
    path: str = Field(description="CSV file, relative to the scenario file")
    columns: list[str] = Field(min_length=1, description="one column per channel, or one column with `axis`")
    time_column: str | None = Field(None, description="column of times in seconds; else rows are at rate_hz")
    rate_hz: float | None = Field(None, gt=0)
    scale: float = 1.0
    offset: float = 0.0
    loop: bool = False
    axis: Axis = None

    def load(self, base_dir: Path) -> tuple[np.ndarray, np.ndarray]:
        path = source_file(base_dir, self.path, what="CSV file", max_bytes=MAX_CSV_BYTES)
        return read_csv_columns(path, self.columns, self.time_column, self.rate_hz)

    def evaluate(self, t: np.ndarray, ctx: Context) -> np.ndarray:
        times, data = self.load(ctx.base_dir)
        tr = t - self.start_s
        if self.loop and len(times) > 1:
            span = times[-1] - times[0] + (times[1] - times[0])
            tr = times[0] + np.mod(tr - times[0], span)
        cols = np.stack([np.interp(tr, times, data[:, i]) for i in range(data.shape[1])], axis=1)
        cols = cols * self.scale + self.offset
        if cols.shape[1] == len(ctx.channels):
            return cols
        return cols[:, :1] * _direction(self.axis, ctx)[None, :]


# --- rotating machinery ---------------------------------------------------------------------------------------------


def bearing_frequencies(
    shaft_hz: float, pitch_diameter: float, ball_diameter: float, balls: int, contact_angle_deg: float = 0.0
) -> dict[str, float]:
    """Rolling-element bearing defect frequencies (Hz) for an inner race turning at `shaft_hz`, outer race fixed."""
    ratio = ball_diameter / pitch_diameter * math.cos(math.radians(contact_angle_deg))
    return {
        "ftf": shaft_hz / 2 * (1 - ratio),
        "bpfo": balls * shaft_hz / 2 * (1 - ratio),
        "bpfi": balls * shaft_hz / 2 * (1 + ratio),
        "bsf": pitch_diameter / (2 * ball_diameter) * shaft_hz * (1 - ratio**2),
    }


class Bearing(Item):
    pitch_diameter_mm: float = Field(gt=0)
    ball_diameter_mm: float = Field(gt=0)
    balls: int = Field(ge=3, le=100)
    contact_angle_deg: float = Field(0.0, ge=0, lt=90)
    defect: Literal["outer", "inner", "ball", "cage"] = Field(description="which element is damaged")
    amplitude: float = Field(gt=0, description="peak of one impact response at load 1")
    resonance_hz: float | None = Field(
        None, gt=0, description="structural resonance the impacts ring; 0.3 x ODR if omitted"
    )
    damping: float = Field(0.05, gt=0, lt=1, description="damping ratio of that resonance")
    slip_pct: float = Field(0.0, ge=0, le=10, description="random impact spacing jitter (rolling elements slip)")

    @field_validator("ball_diameter_mm")
    @classmethod
    def _fits(cls, v: float, info: ValidationInfo) -> float:
        pitch = info.data.get("pitch_diameter_mm")
        if pitch is not None and v >= pitch:
            raise ValueError(f"must be smaller than pitch_diameter_mm ({pitch:g})")
        return v

    def frequencies(self, shaft_hz: float) -> dict[str, float]:
        return bearing_frequencies(
            shaft_hz, self.pitch_diameter_mm, self.ball_diameter_mm, self.balls, self.contact_angle_deg
        )


class MachineVibration(Scalar):
    """Rotating machine: shaft orders, imbalance (1x, grows with speed^2), misalignment (2x, 3x, grows with load),
    and a bearing defect as an impact train ringing a structural resonance.

    Speed and load may change along piecewise-linear profiles; all components follow the shaft phase.
    """

    type: Literal["machine_vibration"] = "machine_vibration"
    rpm: float = Field(1800.0, gt=0, description="shaft speed; also the reference speed for imbalance scaling")
    speed_profile: Profile | None = Field(None, description="[[t_s, rpm], ...] piecewise linear, overrides rpm")
    load_profile: Profile | None = Field(None, description="[[t_s, load], ...] load factor (1 = rated)")
    harmonics: list[float] = Field(default_factory=list, description="amplitudes of shaft orders 1, 2, 3, ...")
    imbalance: float = Field(0.0, ge=0, description="1x amplitude at `rpm`, scales with (speed/rpm)^2")
    misalignment: float = Field(0.0, ge=0, description="2x amplitude at load 1 (3x gets 40 %), scales with load")
    bearing: Bearing | None = None

    @field_validator("speed_profile", "load_profile")
    @classmethod
    def _profiles(cls, v: Profile | None) -> Profile | None:
        return None if v is None else pwl_points(v)

    def shaft_hz(self, tr: np.ndarray) -> np.ndarray:
        if self.speed_profile is None:
            return np.full_like(tr, self.rpm / 60.0)
        return pwl(self.speed_profile, tr) / 60.0

    def shaft_cycles(self, tr: np.ndarray) -> np.ndarray:
        """Shaft revolutions since the source started (exact for piecewise-linear speed)."""
        if self.speed_profile is None:
            return tr * self.rpm / 60.0
        return pwl_integral(self.speed_profile, tr) / 60.0

    def load(self, tr: np.ndarray) -> np.ndarray:
        return np.ones_like(tr) if self.load_profile is None else pwl(self.load_profile, tr)

    def defect_ratio(self) -> float:
        """Impacts per shaft revolution for the bearing's defect."""
        assert self.bearing is not None
        f = self.bearing.frequencies(1.0)
        # A ball defect strikes both races once per spin revolution: impacts at 2 x BSF.
        return {"outer": f["bpfo"], "inner": f["bpfi"], "ball": 2 * f["bsf"], "cage": f["ftf"]}[self.bearing.defect]

    def scalar(self, t: np.ndarray, ctx: Context) -> np.ndarray:
        tr = np.maximum(t - self.start_s, 0.0)
        cycles = self.shaft_cycles(tr)
        theta = 2 * np.pi * cycles
        speed_ratio = self.shaft_hz(tr) / (self.rpm / 60.0)
        load = self.load(tr)
        x = np.zeros_like(tr)
        for order, amp in enumerate(self.harmonics, start=1):
            x += amp * np.sin(order * theta)
        x += self.imbalance * speed_ratio**2 * np.sin(theta)
        x += self.misalignment * load * (np.sin(2 * theta + 0.3) + 0.4 * np.sin(3 * theta + 0.7))
        if self.bearing is not None:
            x += self._bearing(tr, cycles, load, ctx)
        return x

    def _bearing(self, tr: np.ndarray, cycles: np.ndarray, load: np.ndarray, ctx: Context) -> np.ndarray:
        b = self.bearing
        assert b is not None
        ratio = self.defect_ratio()
        end = float(tr.max(initial=0.0)) + 1.0
        # Impact instants: where the defect phase (ratio x shaft cycles) crosses an integer. Found on a fine grid
        # and refined by linear interpolation, so they do not depend on where the part happens to sample.
        grid_hz = max(20.0 * ratio * float(self.shaft_hz(np.array([0.0, end])).max()), 1000.0)
        grid = np.arange(0.0, end, 1.0 / grid_hz)
        phase = ratio * self.shaft_cycles(grid)
        k = np.floor(phase)
        hits = np.nonzero(np.diff(k) > 0)[0]
        frac = (k[hits + 1] - phase[hits]) / (phase[hits + 1] - phase[hits])
        t_imp = grid[hits] + frac * (grid[hits + 1] - grid[hits])
        if b.slip_pct > 0 and len(t_imp) > 1:
            period = np.gradient(t_imp)
            t_imp = np.sort(t_imp + ctx.rng.normal(0.0, b.slip_pct / 100.0, len(t_imp)) * period)
        amp = np.full(len(t_imp), b.amplitude) * pwl(self.load_profile or [[0.0, 1.0]], t_imp)
        if b.defect == "inner":
            # The inner-race defect turns with the shaft through the load zone: amplitude modulated at 1x.
            amp *= 0.6 + 0.4 * np.cos(2 * np.pi * self.shaft_cycles(t_imp))
        elif b.defect == "ball":
            # Alternate hits on inner and outer race differ; the ball's cage carries it through the load zone (FTF).
            amp *= np.where(np.arange(len(t_imp)) % 2 == 0, 1.0, 0.5)
            ftf_ratio = b.frequencies(1.0)["ftf"]
            amp *= 0.6 + 0.4 * np.cos(2 * np.pi * ftf_ratio * self.shaft_cycles(t_imp))
        f_res = b.resonance_hz or 0.3 * ctx.odr_hz
        tau = 1.0 / (b.damping * 2 * np.pi * f_res)
        out = np.zeros_like(tr)
        if len(t_imp) == 0:
            return out
        last = np.searchsorted(t_imp, tr, side="right") - 1
        rate = len(t_imp) / max(float(t_imp[-1] - t_imp[0]), 1e-9) if len(t_imp) > 1 else 1.0
        lookback = math.ceil(8 * tau * rate * 1.5) + 2
        for m in range(lookback):
            j = last - m
            ok = j >= 0
            jj = np.where(ok, j, 0)
            dt = tr - t_imp[jj]
            ok &= dt < 8 * tau
            out += np.where(ok, amp[jj] * np.exp(-dt / tau) * np.sin(2 * np.pi * f_res * dt), 0.0)
        return out


# --- human motion ---------------------------------------------------------------------------------------------------


def _wander(rng: np.random.Generator, tr: np.ndarray, depth: float, n: int = 4) -> np.ndarray:
    """Integral of a slow random frequency deviation (cycles): closed form, so any sample instants work."""
    out = np.zeros_like(tr)
    for _ in range(n):
        nu = rng.uniform(0.05, 0.3)
        a = rng.normal(0.0, depth / math.sqrt(n))
        psi = rng.uniform(0, 2 * np.pi)
        out += a * (np.cos(psi) - np.cos(2 * np.pi * nu * tr + psi)) / (2 * np.pi * nu)
    return out


def _ring(tr: np.ndarray, t0: float, amp: float, freq: float, tau: float) -> np.ndarray:
    dt = tr - t0
    return np.where(dt >= 0, amp * np.exp(-np.maximum(dt, 0) / tau) * np.sin(2 * np.pi * freq * dt), 0.0)


class HumanMotion(Placed):
    """Body-worn accelerometer (g, gravity included unless include_gravity is false), device z up when still."""

    type: Literal["human_motion"] = "human_motion"
    activity: Literal["idle", "walk", "run", "shake", "tap", "fall"]
    intensity: float = Field(1.0, gt=0, le=10, description="scales the dynamic part")
    cadence_hz: float | None = Field(None, gt=0, le=20, description="steps or shakes per second")
    include_gravity: bool = True
    fall_time_s: float = Field(0.45, gt=0.05, le=3, description="free-fall time before the impact (fall)")

    def evaluate(self, t: np.ndarray, ctx: Context) -> np.ndarray:
        rng = ctx.rng
        tr = t - self.start_s
        n = len(t)
        acc = np.zeros((n, 3))
        gravity = np.tile([0.0, 0.0, 1.0], (n, 1)) if self.include_gravity else np.zeros((n, 3))
        k = self.intensity
        if self.activity == "idle":
            for axis in range(3):
                for _ in range(3):
                    f = rng.uniform(7.0, 12.0)
                    acc[:, axis] += k * 0.003 * np.sin(2 * np.pi * f * tr + rng.uniform(0, 2 * np.pi))
            tilt = 0.02 * k * np.sin(2 * np.pi * _wander(rng, tr, 0.5))
            gravity = gravity + np.stack([tilt, np.zeros(n), -0.5 * tilt**2], axis=1) * self.include_gravity
        elif self.activity in ("walk", "run"):
            run = self.activity == "run"
            f0 = self.cadence_hz or (2.8 if run else 1.9)
            phase = 2 * np.pi * (f0 * tr + _wander(rng, tr, 0.03 * f0))
            a_v, a_f, a_l = (0.9, 0.35, 0.2) if run else (0.25, 0.15, 0.08)
            acc[:, 2] = k * a_v * (np.sin(phase) + 0.35 * np.sin(2 * phase + 0.8))
            acc[:, 0] = k * a_f * (np.sin(phase + 1.2) + 0.3 * np.sin(2 * phase))
            acc[:, 1] = k * a_l * np.sin(phase / 2 + 0.4)  # lateral sway at stride (half step) frequency
            if run:
                # Heel strike: a short positive pulse once per step.
                s = np.mod(phase / (2 * np.pi), 1.0)
                acc[:, 2] += k * 1.2 * np.exp(-(((s - 0.1) / 0.03) ** 2))
        elif self.activity == "shake":
            f0 = self.cadence_hz or 6.0
            phase = 2 * np.pi * (f0 * tr + _wander(rng, tr, 0.05 * f0))
            acc[:, 0] = k * 1.5 * (np.sin(phase) + 0.2 * np.sin(3 * phase))
            acc[:, 1] = k * 0.6 * np.sin(phase + 0.5)
            acc[:, 2] = k * 0.3 * np.sin(2 * phase)
        elif self.activity == "tap":
            period = 1.0 / self.cadence_hz if self.cadence_hz else None
            taps = [0.0] if period is None else list(np.arange(0.0, max(float(tr.max(initial=0)), 0) + 1e-9, period))
            for t0 in taps:
                acc[:, 2] += _ring(tr, t0, -3.0 * k, 60.0, 0.012)
                acc[:, 0] += _ring(tr, t0, 0.6 * k, 90.0, 0.008)
        elif self.activity == "fall":
            falling = (tr >= 0) & (tr < self.fall_time_s)
            after = tr >= self.fall_time_s
            # Free fall: the accelerometer reads ~0 g; after the impact the body lies on its side (gravity on x).
            gravity = np.where(falling[:, None], 0.0, gravity)
            gravity = np.where(after[:, None], np.array([1.0, 0.0, 0.0]) * self.include_gravity, gravity)
            acc[:, 0] += _ring(tr, self.fall_time_s, 6.0 * k, 25.0, 0.04)
            acc[:, 2] += _ring(tr, self.fall_time_s, 4.0 * k, 18.0, 0.05)
            acc[:, 1] += _ring(tr, self.fall_time_s, 2.0 * k, 31.0, 0.03)
            acc[falling] += rng.normal(0.0, 0.02, (int(falling.sum()), 3))
        return (gravity + acc)[:, : len(ctx.channels)]


class Gesture(Placed):
    """A hand gesture added on top of other motion (g, no gravity), starting at start_s, repeated every `every_s`."""

    type: Literal["gesture"] = "gesture"
    kind: Literal["wave", "circle", "flick", "double_tap"]
    amplitude: float = Field(1.0, gt=0)
    every_s: float | None = Field(None, gt=0)

    def length_s(self) -> float:
        return {"wave": 1.2, "circle": 1.2, "flick": 0.15, "double_tap": 0.3}[self.kind]

    def _once(self, u: np.ndarray) -> np.ndarray:
        length = self.length_s()
        inside = (u >= 0) & (u < length)
        env = np.where(inside, np.sin(np.pi * np.clip(u / length, 0, 1)) ** 2, 0.0)
        a = self.amplitude
        out = np.zeros((len(u), 3))
        if self.kind == "wave":
            out[:, 0] = a * env * np.sin(2 * np.pi * 2.5 * u)
        elif self.kind == "circle":
            out[:, 0] = a * env * np.sin(2 * np.pi * u / length)
            out[:, 1] = a * env * np.cos(2 * np.pi * u / length)
        elif self.kind == "flick":
            out[:, 1] = np.where(inside, 2 * a * np.sin(2 * np.pi * u / length), 0.0)
        else:
            out[:, 2] = _ring(u, 0.0, -2.5 * a, 60.0, 0.01) + _ring(u, 0.2, -2.5 * a, 60.0, 0.01)
        return out

    def evaluate(self, t: np.ndarray, ctx: Context) -> np.ndarray:
        tr = t - self.start_s
        u = np.mod(tr, self.every_s) if self.every_s else tr
        return self._once(u)[:, : len(ctx.channels)]


# --- audio ----------------------------------------------------------------------------------------------------------


def colored_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Unit-variance noise with PSD ~ 1/f^exponent (0 white, 1 pink, 2 brown), shaped in the frequency domain."""
    if n < 2:
        return rng.standard_normal(n)
    white = rng.standard_normal(n)
    if exponent == 0:
        return white
    spec = np.fft.rfft(white)
    f = np.fft.rfftfreq(n)
    f[0] = f[1]  # no infinite DC gain; the mean is removed below anyway
    spec *= f ** (-exponent / 2)
    x = np.fft.irfft(spec, n)
    x -= x.mean()
    return x / (x.std() or 1.0)


class Tone(Scalar):
    type: Literal["tone"] = "tone"
    freq_hz: float = Field(gt=0)
    amplitude: float = Field(gt=0, description="peak, in the sensor's unit (Pa for a microphone)")
    phase_deg: float = 0.0

    def scalar(self, t: np.ndarray, ctx: Context) -> np.ndarray:
        return self.amplitude * np.sin(2 * np.pi * self.freq_hz * (t - self.start_s) + math.radians(self.phase_deg))


class NoiseBed(Scalar):
    type: Literal["noise"] = "noise"
    color: Literal["white", "pink", "brown"] = "white"
    rms: float = Field(gt=0)

    def scalar(self, t: np.ndarray, ctx: Context) -> np.ndarray:
        exponent = {"white": 0.0, "pink": 1.0, "brown": 2.0}[self.color]
        return self.rms * colored_noise(ctx.rng, len(t), exponent)


class Burst(Scalar):
    """Short bursts of a tone or of white noise, `length_s` long every `every_s` (once if omitted)."""

    type: Literal["burst"] = "burst"
    content: Literal["tone", "noise"] = "noise"
    freq_hz: float | None = Field(None, gt=0, description="tone frequency (content: tone)")
    rms: float = Field(gt=0)
    length_s: float = Field(gt=0)
    every_s: float | None = Field(None, gt=0)

    def scalar(self, t: np.ndarray, ctx: Context) -> np.ndarray:
        tr = t - self.start_s
        u = np.mod(tr, self.every_s) if self.every_s else tr
        on = (u >= 0) & (u < self.length_s)
        if self.content == "tone":
            base = math.sqrt(2) * np.sin(2 * np.pi * (self.freq_hz or 1000.0) * tr)
        else:
            base = ctx.rng.standard_normal(len(t))
        # 5 ms raised-cosine edges avoid clicks that a real source would not make.
        edge = min(0.005, self.length_s / 4)
        env = np.clip(np.minimum(u, self.length_s - u) / edge, 0.0, 1.0)
        return np.where(on, self.rms * base * np.sin(np.pi / 2 * env) ** 2, 0.0)


class WavClip(Scalar):
    """A WAV clip, linearly interpolated at the sample instants, scaled so WAV full scale is `gain` units."""

    type: Literal["wav"] = "wav"
    path: str = Field(description="PCM WAV file, relative to the scenario file")
    gain: float = Field(gt=0, description="sensor units (e.g. Pa) at WAV full scale")
    channel: int = Field(0, ge=0)
    loop: bool = False

    def load(self, base_dir: Path) -> tuple[np.ndarray, int]:
        """The clip's samples (frames, channels) and rate, from a checked and confined file (core.inputs)."""
        path = source_file(base_dir, self.path, what="WAV file", max_bytes=MAX_WAV_BYTES)
        data, rate = read_wav(path)
        if self.channel >= data.shape[1]:
            raise BadInput(f"{path}: has {data.shape[1]} channel(s), no channel {self.channel}")
        return data, rate

    def scalar(self, t: np.ndarray, ctx: Context) -> np.ndarray:
        data, rate = self.load(ctx.base_dir)
        x = data[:, self.channel]
        pos = (t - self.start_s) * rate
        if self.loop:
            pos = np.mod(pos, len(x))
        inside = (pos >= 0) & (pos <= len(x) - 1)
        return np.where(inside, self.gain * np.interp(pos, np.arange(len(x)), x), 0.0)


Source = Annotated[
    Constant
    | Gravity
    | Step
    | Ramp
    | Sine
    | CsvReplay
    | MachineVibration
    | HumanMotion
    | Gesture
    | Tone
    | NoiseBed
    | Burst
    | WavClip,
    Field(discriminator="type"),
]

SOURCE_TYPES = sorted(
    c.model_fields["type"].default
    for c in (
        Constant,
        Gravity,
        Step,
        Ramp,
        Sine,
        CsvReplay,
        MachineVibration,
        HumanMotion,
        Gesture,
        Tone,
        NoiseBed,
        Burst,
        WavClip,
    )
)
VECTOR_ONLY = {"gravity", "human_motion", "gesture"}


def render_sources(sources: list[Source], t: np.ndarray, ctx_for: Callable[[int], Context]) -> np.ndarray:
    """Sum of every source, each inside its own window; `ctx_for(i)` gives source i its seeded context."""
    total = None
    for i, src in enumerate(sources):
        ctx = ctx_for(i)
        if total is None:
            total = np.zeros((len(t), len(ctx.channels)))
        mask = src.window(t, ctx.duration_s)
        if not mask.any():
            continue
        total[mask] += src.evaluate(t[mask], ctx)
    return total if total is not None else np.zeros((len(t), 1))
