"""Keyword-spotting data: real spoken words synthesized with espeak-ng, mixed into room-noise beds.

No speech corpus is reachable here, so the words come from Debian's `espeak-ng` across English accents, voice
variants, speeds and pitches. Each clip is one second of 16 kHz int16 PCM, as the MP34DT05 delivers it to the MCU
(mic self-noise, rounding and saturation included), with the word at a random position, a noise bed (white, pink,
brown, mains hum) and a random gain.

Evaluation never sees a training voice: a voice is (accent, variant), and the evaluation split uses accents *and*
variants that the training split never uses, at speeds the training split never uses. The generated audio is cached
under build/kws_data/ (not in git); `python -m models.kws.dataset --split eval` regenerates a split.

Run with the repository on PYTHONPATH; needs numpy, scipy and the `espeak-ng` program (not TensorFlow).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import subprocess
import sys
import wave
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

SAMPLE_RATE = 16000
CLIP_SAMPLES = SAMPLE_RATE  # one second: the model's window
LSB_PER_PA = 1642.3  # MP34DT05 part file: -26 dBFS at 94 dB SPL
MIC_NOISE_LSB = 0.66  # the part's self-noise (noise_density * sqrt(8 kHz) * LSB_PER_PA)

KEYWORDS: tuple[str, ...] = ("yes", "no", "up", "down", "left", "right")
CLASSES: tuple[str, ...] = ("silence", "unknown", *KEYWORDS)
UNKNOWN_WORDS: tuple[str, ...] = (
    "on", "off", "stop", "go", "cat", "dog", "bird", "bed", "house", "tree", "happy", "wow", "seven", "eight",
    "nine", "zero", "one", "two", "three", "four", "five", "six", "learn", "follow", "forward", "backward",
    "visual", "marvin", "sheila", "yellow", "button", "window", "water", "light", "open", "music",
)  # fmt: skip

# Voices: (accent, variant). Evaluation accents and variants never occur in training.
TRAIN_ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-us-nyc")
EVAL_ACCENTS = ("en-029", "en-gb-x-gbcwmd")
TRAIN_VARIANTS = (
    "m1", "m2", "m4", "m5", "m7", "f1", "f3", "f4", "adam", "Alex", "Andy", "boris", "ed", "john", "linda",
    "max", "paul", "robert", "steph", "aunty", "Lee", "rob", "zac", "grandpa",
)  # fmt: skip
EVAL_VARIANTS = ("m3", "m6", "f2", "f5", "quincy", "belinda", "caleb", "Annie")
TRAIN_SPEEDS = (115, 135, 160, 185)
EVAL_SPEEDS = (125, 170)

SPLIT_SEEDS = {"train": 20261125, "eval": 77000001}
DEFAULT_CACHE = Path(__file__).resolve().parents[2] / "build" / "kws_data"


@dataclass(frozen=True)
class Utterance:
    word: str
    accent: str
    variant: str
    speed: int
    pitch: int

    @property
    def voice(self) -> str:
        return f"{self.accent}+{self.variant}"


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def synthesize(u: Utterance) -> np.ndarray:
    """The word as float32 at 16 kHz, leading/trailing silence trimmed, peak 1.0."""
    out = subprocess.run(
        ["espeak-ng", "-v", u.voice, "-s", str(u.speed), "-p", str(u.pitch), "--stdout", u.word],
        check=True,
        capture_output=True,
    ).stdout
    with wave.open(io.BytesIO(out)) as w:
        rate, frames = w.getframerate(), w.readframes(w.getnframes())
    x = np.frombuffer(frames, dtype="<i2").astype(np.float64)
    g = np.gcd(SAMPLE_RATE, rate)
    x = resample_poly(x, SAMPLE_RATE // g, rate // g)
    return trim(x / max(np.abs(x).max(), 1e-9)).astype(np.float32)


def trim(x: np.ndarray, margin: int = 320) -> np.ndarray:
    """Cut the silence espeak-ng puts around a word (20 ms envelope below 1 % of its peak), keeping a margin."""
    env = np.convolve(np.abs(x), np.ones(320) / 320, mode="same")
    on = np.flatnonzero(env > 0.01 * env.max())
    if on.size == 0:
        return x
    return x[max(0, on[0] - margin) : on[-1] + margin]


def colored_noise(rng: np.random.Generator, n: int, color: str) -> np.ndarray:
    """Unit-variance noise with PSD ~ 1/f^alpha (white 0, pink 1, brown 2), FFT-shaped."""
    alpha = {"white": 0.0, "pink": 1.0, "brown": 2.0}[color]
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    f[0] = f[1]
    spec *= f ** (-alpha / 2.0)
    spec[0] = 0.0
    x = np.fft.irfft(spec, n)
    return x / max(x.std(), 1e-12)


def noise_bed(rng: np.random.Generator, n: int) -> np.ndarray:
    """A room: colored noise at a random level (1..300 LSB rms), sometimes mains hum, in LSB."""
    color = rng.choice(["white", "pink", "pink", "brown"])
    x = colored_noise(rng, n, str(color)) * float(np.exp(rng.uniform(np.log(1.0), np.log(300.0))))
    if rng.random() < 0.4:
        mains = rng.choice([50.0, 60.0])
        t = np.arange(n) / SAMPLE_RATE
        amp = float(np.exp(rng.uniform(np.log(2.0), np.log(200.0))))
        for h, a in ((1, 1.0), (2, 0.4), (3, 0.25)):
            x += amp * a * np.sin(2 * np.pi * mains * h * t + rng.uniform(0, 2 * np.pi))
    return x


def to_pcm(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """What the microphone delivers: self-noise added, rounded half to even, saturated to int16."""
    x = x + MIC_NOISE_LSB * rng.standard_normal(x.size)
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def mix_clip(rng: np.random.Generator, word: np.ndarray | None) -> np.ndarray:
    """One second: noise bed plus (optionally) the word at a random offset and level; int16 PCM."""
    bed = noise_bed(rng, CLIP_SAMPLES)
    if word is None:
        return to_pcm(rng, bed * float(rng.choice([1.0, 1.0, 0.05])))
    speech_rms = float(np.exp(rng.uniform(np.log(40.0), np.log(4000.0))))
    word = word[: int(CLIP_SAMPLES * 1.0)]
    w = word / max(float(np.sqrt(np.mean(word**2))), 1e-9) * speech_rms
    snr_floor = 2.0  # at least 6 dB above the bed
    bed_rms = float(bed.std())
    if speech_rms < snr_floor * bed_rms:
        bed *= speech_rms / (snr_floor * bed_rms)
    n = w.size
    # Streaming windows cut words at their edges too: let up to 10 % of the word fall outside the clip.
    lo, hi = -int(0.1 * n), CLIP_SAMPLES - int(0.9 * n)
    start = int(rng.integers(lo, max(lo, hi) + 1))
    a, b = max(0, start), min(CLIP_SAMPLES, start + n)
    bed[a:b] += w[a - start : b - start]
    return to_pcm(rng, bed)


def utterances(split: str, seed: int) -> list[tuple[Utterance | None, int]]:
    """(utterance or None for silence, class index) for every clip of a split, in a fixed order."""
    rng = np.random.default_rng([seed, 1])
    if split == "train":
        accents, variants, speeds = TRAIN_ACCENTS, TRAIN_VARIANTS, TRAIN_SPEEDS
    else:
        accents, variants, speeds = EVAL_ACCENTS, EVAL_VARIANTS, EVAL_SPEEDS
    pitches_per_voice = 2 if split == "train" else 3
    unknown_per_combo = 3 if split == "train" else 2
    items: list[tuple[Utterance | None, int]] = []
    for accent in accents:
        for variant in variants:
            for speed in speeds:
                for _ in range(pitches_per_voice):
                    pitch = int(rng.integers(25, 76))
                    for k, kw in enumerate(KEYWORDS):
                        items.append((Utterance(kw, accent, variant, speed, pitch), 2 + k))
                for w in rng.choice(UNKNOWN_WORDS, size=unknown_per_combo, replace=False):
                    items.append((Utterance(str(w), accent, variant, speed, int(rng.integers(25, 76))), 1))
                for _ in range(2 if split == "train" else 1):
                    items.append((None, 0))
    return items


def build_split(split: str, seed: int | None = None, jobs: int = 2) -> dict[str, np.ndarray]:
    """Synthesize and mix a whole split: audio int16 [N, 16000], labels int64 [N], voice names."""
    seed = SPLIT_SEEDS[split] if seed is None else seed
    items = utterances(split, seed)
    words = [u for u, _ in items if u is not None]
    with ThreadPoolExecutor(jobs) as pool:  # espeak-ng runs as a subprocess: threads overlap them
        synth = dict(zip(words, pool.map(synthesize, words), strict=True))
    audio = np.empty((len(items), CLIP_SAMPLES), dtype=np.int16)
    for i, (u, _) in enumerate(items):
        audio[i] = mix_clip(np.random.default_rng([seed, 2, i]), None if u is None else synth[u])
    labels = np.array([c for _, c in items], dtype=np.int64)
    voices = np.array(["" if u is None else f"{u.voice}@{u.speed}" for u, _ in items])
    return {"audio": audio, "labels": labels, "voices": voices}


DATA_VERSION = 1  # bump when the synthesis or mixing changes


def split_signature(split: str, seed: int) -> str:
    """Changes when what defines the split changes (word and voice lists, speeds, seed, DATA_VERSION)."""
    parts = (DATA_VERSION, split, seed, KEYWORDS, UNKNOWN_WORDS, TRAIN_ACCENTS, EVAL_ACCENTS, TRAIN_VARIANTS)
    h = hashlib.sha256(repr((*parts, EVAL_VARIANTS, TRAIN_SPEEDS, EVAL_SPEEDS, SAMPLE_RATE)).encode())
    return h.hexdigest()[:16]


def load_split(split: str, cache: Path = DEFAULT_CACHE, seed: int | None = None) -> dict[str, np.ndarray]:
    """The split from the cache, generated (espeak-ng needed) when absent or stale."""
    seed = SPLIT_SEEDS[split] if seed is None else seed
    path = cache / f"{split}-{split_signature(split, seed)}.npz"
    if path.is_file():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    if not espeak_available():
        raise RuntimeError("espeak-ng is not installed: cannot synthesize the keyword-spotting data")
    data = build_split(split, seed)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **data)
    tmp.replace(path)
    return data


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=sorted(SPLIT_SEEDS), required=True)
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = ap.parse_args(argv)
    data = load_split(args.split, args.cache)
    counts = {c: int((data["labels"] == i).sum()) for i, c in enumerate(CLASSES)}
    print(json.dumps({"split": args.split, "clips": len(data["labels"]), "per_class": counts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
