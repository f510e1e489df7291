"""Signal sources: bearing defect frequencies in the spectrum, motion, audio, replay primitives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.signal import hilbert

from tinyml_cosim.scenario import scenario_from_dict
from tinyml_cosim.sensors.signals import bearing_frequencies, colored_noise, read_wav
from tinyml_cosim.sensors.timeline import pwl_integral

MEDIA = Path(__file__).parent / "data" / "scenarios" / "valid"
BEARING_6205 = {"pitch_diameter_mm": 39.04, "ball_diameter_mm": 7.94, "balls": 9, "contact_angle_deg": 0}


def streams(signal: list[dict], part: str = "lis2dw12", duration: float = 4.0, **sensor: object) -> dict:
    doc = {
        "board": "stm32f405",
        "app": "test",
        "seed": 11,
        "duration_s": duration,
        "sensors": [{"id": "s", "part": part, "intrinsic_noise": False, "signal": signal, **sensor}],
    }
    return scenario_from_dict(doc, MEDIA).generate()


def test_bearing_frequency_formulas_6205() -> None:
    f = bearing_frequencies(30.0, 39.04, 7.94, 9, 0.0)
    ratio = 7.94 / 39.04
    assert f["bpfo"] == pytest.approx(4.5 * 30 * (1 - ratio))
    assert f["bpfi"] == pytest.approx(4.5 * 30 * (1 + ratio))
    assert f["ftf"] == pytest.approx(15 * (1 - ratio))
    assert f["bsf"] == pytest.approx(39.04 / (2 * 7.94) * 30 * (1 - ratio**2))
    # Textbook identities: BPFO + BPFI = n * f_r, FTF = BPFO / n.
    assert f["bpfo"] + f["bpfi"] == pytest.approx(9 * 30)
    assert f["ftf"] == pytest.approx(f["bpfo"] / 9)


def _envelope_peak(x: np.ndarray, fs: float, lo: float, hi: float) -> float:
    env = np.abs(hilbert(x - x.mean()))
    spec = np.abs(np.fft.rfft((env - env.mean()) * np.hanning(len(env))))
    f = np.fft.rfftfreq(len(env), 1 / fs)
    band = (f > lo) & (f < hi)
    return float(f[band][np.argmax(spec[band])])


@pytest.mark.parametrize("defect,key", [("outer", "bpfo"), ("inner", "bpfi"), ("cage", "ftf")])
def test_envelope_spectrum_peaks_at_defect_frequency(defect: str, key: str) -> None:
    rpm = 1800.0
    fs = 1600.0
    src = {"type": "machine_vibration", "rpm": rpm, "bearing": {**BEARING_6205, "defect": defect, "amplitude": 1.0}}
    x = streams([src], odr_hz=fs, range_g=16, duration=8.0)["s"].physical[:, 0]
    expected = bearing_frequencies(rpm / 60, 39.04, 7.94, 9)[key]
    peak = _envelope_peak(x, fs, 0.6 * expected, 1.4 * expected)
    assert abs(peak - expected) < 0.3, (peak, expected)


def test_shaft_orders_in_spectrum() -> None:
    src = {"type": "machine_vibration", "rpm": 1500, "harmonics": [0.2, 0.1, 0.05], "axis": "y"}
    s = streams([src], odr_hz=400, duration=4.0)["s"]
    spec = np.abs(np.fft.rfft(s.codes[:, 1] * s.sensitivity)) / (len(s) / 2)
    f = np.fft.rfftfreq(len(s), 1 / 400)
    for order, amp in ((1, 0.2), (2, 0.1), (3, 0.05)):
        i = int(np.argmin(np.abs(f - 25 * order)))
        assert spec[i] == pytest.approx(amp, rel=0.02)
    assert np.abs(s.codes[:, [0, 2]]).max() == 0  # everything on the y axis


def test_speed_change_follows_profile_and_imbalance_grows_with_speed_squared() -> None:
    src = {
        "type": "machine_vibration",
        "rpm": 1200,
        "imbalance": 0.1,
        "speed_profile": [[0, 1200], [1, 1200], [1.5, 2400]],
    }
    x = streams([src], odr_hz=1600, duration=3.0)["s"].physical[:, 0]
    assert np.abs(x[:1500]).max() == pytest.approx(0.1, rel=0.02)
    assert np.abs(x[2600:]).max() == pytest.approx(0.4, rel=0.02)


def test_pwl_integral_is_exact() -> None:
    t = np.array([0.0, 1.0, 1.5, 2.0, 3.0])
    # speed 10 until 1 s, ramps to 20 at 2 s, then flat
    got = pwl_integral([[0, 10], [1, 10], [2, 20]], t)
    assert got.tolist() == pytest.approx([0, 10, 16.25, 25, 45])


def test_walk_cadence_and_fall_free_fall() -> None:
    s = streams(
        [
            {"type": "human_motion", "activity": "walk", "cadence_hz": 2.0, "duration_s": 4},
            {"type": "human_motion", "activity": "fall", "start_s": 4},
        ],
        odr_hz=100,
        duration=6.0,
    )["s"]
    z = s.physical[:400, 2]
    spec = np.abs(np.fft.rfft(z - z.mean()))
    f = np.fft.rfftfreq(len(z), 0.01)
    assert abs(f[np.argmax(spec)] - 2.0) < 0.2
    free = np.linalg.norm(s.physical[410:440], axis=1)  # 4.1-4.4 s, inside the 0.45 s free fall
    assert free.max() < 0.15
    assert np.linalg.norm(s.physical[440:470], axis=1).max() > 4  # the impact at 4.45 s
    assert s.physical[-1] == pytest.approx([1.0, 0.0, 0.0], abs=0.01)  # lying on its side


def test_gesture_and_tap_are_transient() -> None:
    s = streams([{"type": "gesture", "kind": "double_tap", "start_s": 1.0}], odr_hz=800, duration=2.0)["s"]
    z = s.physical[:, 2]
    assert np.abs(z[:800]).max() == 0
    assert np.abs(z[800:1100]).max() > 1.5
    assert np.abs(z[1400:]).max() < 0.01


def test_wav_clip_is_placed_and_scaled() -> None:
    data, rate = read_wav(MEDIA / "media" / "chirp.wav")
    assert rate == 16000 and data.shape == (4000, 1)
    s = streams(
        [{"type": "wav", "path": "media/chirp.wav", "gain": 2.0, "start_s": 0.5}], part="mp34dt05", duration=1.0
    )["s"]
    x = s.physical[:, 0]
    assert np.abs(x[:8000]).max() == 0
    assert np.allclose(x[8000:12000], 2.0 * data[:, 0])
    assert np.abs(x[12001:]).max() == 0


def test_csv_replay_interpolates() -> None:
    s = streams(
        [{"type": "csv", "path": "media/motor_current.csv", "time_column": "time_s", "columns": ["current_a"]}],
        part="acs723_adc12",
        duration=2.0,
        odr_hz=1000,
    )["s"]
    # row at t=0.5 s: 1.2 + 2.5 exp(-0.5/0.15)
    assert s.physical[500, 0] == pytest.approx(1.2 + 2.5 * np.exp(-0.5 / 0.15), abs=1e-3)
    assert s.physical[505, 0] == pytest.approx((s.physical[500, 0] + s.physical[510, 0]) / 2, abs=1e-3)


def test_step_ramp_sine_primitives() -> None:
    s = streams(
        [
            {"type": "step", "amplitude": 0.5, "start_s": 1.0, "axis": "z"},
            {"type": "ramp", "amplitude": 1.0, "rise_s": 1.0, "start_s": 2.0, "axis": "x"},
            {"type": "sine", "amplitude": 0.25, "freq_hz": 5, "axis": [0, 1, 0]},
        ],
        odr_hz=100,
    )["s"]
    p = s.physical
    assert p[99, 2] == 0 and p[100, 2] == 0.5
    assert p[250, 0] == pytest.approx(0.5) and p[350, 0] == pytest.approx(1.0)
    assert p[:, 1].max() == pytest.approx(0.25, abs=1e-3)


def test_colored_noise_is_unit_variance() -> None:
    x = colored_noise(np.random.default_rng(0), 10000, 1.0)
    assert x.std() == pytest.approx(1.0) and abs(x.mean()) < 1e-9
