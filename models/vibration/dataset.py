"""Labelled accelerometer windows for the vibration monitor, made with the project's own scenario and sensor
generators (scenario/, sensors/): a LIS2DW12 at 1600 Hz, +-4 g, on a rotating machine (`machine_vibration`).

Classes: normal (small shaft orders, at most a slight imbalance), imbalance (a strong 1x), bearing_fault (outer,
inner or ball defect ringing a structural resonance). Every operating point draws shaft speed, load, mounting (the
vibration direction and the gravity tilt), structural resonance, noise level and the amplitudes from its own seed.

Splits never share an operating point: `train` uses the shaft speeds, noise levels and seeds in TRAIN, `heldout`
*other* speeds (between and beyond the training ones), other noise levels and other seeds (HELDOUT). numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinyml_cosim.scenario import scenario_from_dict

CLASSES: tuple[str, ...] = ("normal", "imbalance", "bearing_fault")
ODR_HZ = 1600
RANGE_G = 4
WINDOW = 512  # samples per decision window (320 ms at 1600 Hz); must match firmware/apps/vibration_monitor
AXES = 3

# Bearings the generator picks from (pitch diameter, ball diameter, balls): deep-groove sizes of small motors/pumps.
BEARINGS: tuple[tuple[float, float, int], ...] = ((39.04, 7.94, 9), (28.5, 6.35, 8), (46.4, 9.53, 10))


@dataclass(frozen=True)
class SplitSpec:
    rpms: tuple[float, ...]
    noise_sigmas: tuple[float, ...]
    seed_base: int
    points_per_class: int  # operating points per class (each draws rpm, noise, mounting, amplitudes)
    seconds: float  # simulated seconds per operating point


TRAIN = SplitSpec(
    rpms=(900, 1200, 1500, 1800, 2400, 3000, 3600),
    noise_sigmas=(0.002, 0.005, 0.012),
    seed_base=1000,
    points_per_class=42,
    seconds=6.4,
)
HELDOUT = SplitSpec(
    rpms=(1050, 1650, 2100, 2700, 3300),
    noise_sigmas=(0.003, 0.008),
    seed_base=900_000,
    points_per_class=20,
    seconds=6.4,
)
SPLITS = {"train": TRAIN, "heldout": HELDOUT}


def _unit_vector(rng: np.random.Generator) -> list[float]:
    v = rng.normal(size=3)
    return [round(float(c), 4) for c in v / np.linalg.norm(v)]


def machine_sources(label: str, rpm: float, rng: np.random.Generator) -> list[dict[str, Any]]:
    """The `signal:` sources of one operating point of class `label` (gravity included)."""
    load = float(rng.uniform(0.6, 1.2))
    axis = _unit_vector(rng)
    base = {
        "type": "machine_vibration",
        "axis": axis,
        "rpm": rpm,
        "load_profile": [[0, load], [100, load]],
        "harmonics": [float(rng.uniform(0.01, 0.05)), float(rng.uniform(0.003, 0.02)), float(rng.uniform(0, 0.008))],
        "imbalance": float(rng.uniform(0.0, 0.03)),
        "misalignment": float(rng.uniform(0.0, 0.008)),
    }
    sources: list[dict[str, Any]] = [
        {"type": "gravity", "roll_deg": float(rng.uniform(-30, 30)), "pitch_deg": float(rng.uniform(-30, 30))},
        base,
    ]
    if label == "imbalance":
        base["imbalance"] = float(rng.uniform(0.12, 0.6))
    elif label == "bearing_fault":
        pitch, ball, balls = BEARINGS[int(rng.integers(len(BEARINGS)))]
        sources.append(
            {
                "type": "machine_vibration",
                "axis": axis,
                "rpm": rpm,
                "load_profile": [[0, load], [100, load]],
                "bearing": {
                    "pitch_diameter_mm": pitch,
                    "ball_diameter_mm": ball,
                    "balls": balls,
                    "defect": str(rng.choice(["outer", "inner", "ball"])),
                    "amplitude": float(rng.uniform(0.15, 0.8)),
                    "resonance_hz": float(rng.uniform(280, 700)),
                    "damping": float(rng.uniform(0.03, 0.08)),
                    "slip_pct": float(rng.uniform(0.5, 2.0)),
                },
            }
        )
    elif label == "misalignment":  # unseen by the classifier: for the anomaly score
        base["misalignment"] = float(rng.uniform(0.15, 0.4))
    elif label == "looseness":  # unseen: a rich comb of shaft orders up to 10x
        base["harmonics"] = [float(rng.uniform(0.04, 0.12)) for _ in range(10)]
    elif label != "normal":
        raise ValueError(f"unknown class {label!r}: one of {', '.join(CLASSES)}")
    return sources


def sensor_dict(sources: list[dict[str, Any]], noise_sigma: float) -> dict[str, Any]:
    return {
        "id": "accel",
        "part": "lis2dw12",
        "odr_hz": ODR_HZ,
        "range_g": RANGE_G,
        "mode": "high_performance",
        "signal": sources,
        "impairments": [{"type": "white_noise", "sigma": noise_sigma}],
    }


def operating_point_windows(label: str, rpm: float, noise_sigma: float, seed: int, seconds: float) -> np.ndarray:
    """(m, WINDOW, 3) int16 bus words of consecutive non-overlapping windows, as the firmware reads them."""
    rng = np.random.default_rng(seed)
    scn = scenario_from_dict(
        {
            "version": 1,
            "name": f"vib-{label}-{seed}",
            "board": "stm32f405",
            "firmware": "unused.elf",
            "seed": seed,
            "duration_s": seconds,
            "sensors": [sensor_dict(machine_sources(label, rpm, rng), noise_sigma)],
        },
        Path.cwd(),
    )
    raw = scn.generate()["accel"].raw
    m = len(raw) // WINDOW
    return np.ascontiguousarray(raw[: m * WINDOW].reshape(m, WINDOW, AXES).astype(np.int16))


UNSEEN: tuple[str, ...] = ("misalignment", "looseness")


def unseen_windows(seconds: float = 3.2) -> tuple[np.ndarray, np.ndarray]:
    """Windows of conditions the classifier never saw (for the anomaly score), at held-out speeds and noise."""
    xs, ys = [], []
    for ui, label in enumerate(UNSEEN):
        for p in range(10):
            rpm = HELDOUT.rpms[p % len(HELDOUT.rpms)]
            noise = HELDOUT.noise_sigmas[p % len(HELDOUT.noise_sigmas)]
            w = operating_point_windows(label, rpm, noise, 800_000 + 1000 * ui + p, seconds)
            xs.append(w)
            ys.append(np.full(len(w), ui))
    return np.concatenate(xs), np.concatenate(ys)


def split_windows(split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All windows of a split: (windows (m, WINDOW, 3) int16, labels (m,) int, operating-point id (m,) int)."""
    spec = SPLITS[split]
    xs, ys, groups = [], [], []
    point = 0
    for ci, label in enumerate(CLASSES):
        for p in range(spec.points_per_class):
            seed = spec.seed_base + 1000 * ci + p
            rpm = spec.rpms[p % len(spec.rpms)]
            noise = spec.noise_sigmas[(p // len(spec.rpms)) % len(spec.noise_sigmas)]
            w = operating_point_windows(label, rpm, noise, seed, spec.seconds)
            xs.append(w)
            ys.append(np.full(len(w), ci))
            groups.append(np.full(len(w), point))
            point += 1
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(groups)


def cached_split(split: str, cache_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """split_windows, cached as .npz (generation takes a minute or so)."""
    path = cache_dir / f"vibration_{split}.npz"
    if path.exists():
        d = np.load(path)
        return d["x"], d["y"], d["g"]
    if split == "unseen":
        x, y = unseen_windows()
        g = y.copy()
    else:
        x, y, g = split_windows(split)
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, x=x, y=y, g=g)
    return x, y, g


def window_seconds() -> float:
    return WINDOW / ODR_HZ


def write_features(out: Path, cache_dir: Path | None = None) -> Path:
    """Every split's features (bit-exact with the firmware) and labels in one .npz, the input of train.py (which runs
    in the TensorFlow venv and needs neither pydantic nor the sensor generators)."""
    from vibration_twin import FEATURE_NAMES, features_batch

    arrays: dict[str, np.ndarray] = {}
    for split in ("train", "heldout", "unseen"):
        x, y, g = cached_split(split, cache_dir) if cache_dir else (*_uncached(split),)
        arrays[f"{split}_features"] = features_batch(x)
        arrays[f"{split}_labels"] = y
        arrays[f"{split}_groups"] = g
    arrays["classes"] = np.array(CLASSES)
    arrays["unseen_classes"] = np.array(UNSEEN)
    arrays["feature_names"] = np.array(FEATURE_NAMES)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    return out


def _uncached(split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if split == "unseen":
        x, y = unseen_windows()
        return x, y, y.copy()
    return split_windows(split)


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="generate the vibration windows and write their features for train.py")
    ap.add_argument("--out", type=Path, default=Path("build/vibration/features.npz"))
    ap.add_argument("--cache", type=Path, default=None, help="keep the raw windows here (.npz per split)")
    args = ap.parse_args()
    path = write_features(args.out, args.cache)
    with np.load(path) as d:
        for split in ("train", "heldout", "unseen"):
            y = d[f"{split}_labels"]
            print(f"{split}: {len(y)} windows ({len(y) * window_seconds():.0f} s), per class {np.bincount(y).tolist()}")
    print(path)
