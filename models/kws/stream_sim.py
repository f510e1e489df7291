"""A host model of the keyword spotter's streaming pipeline, for tuning the decision logic and cross-checking the
firmware: the same hops, frames, windows and inference points as firmware/apps/keyword_spotter/main.c, the
bit-exact features (tinyml_cosim/features/audio.py), TFLM for the model, and a port of kws_decide.c.

Plausibility checks (kws_audio.c) are not modelled: use it on scenarios without faults. As long as the firmware
never overruns (every sample is kept), its decision labels equal `simulate(...)`'s, one for one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import audio_twin as audio
import numpy as np

N_CLASSES = 8
FIRST_KEYWORD = 2
LABELS = ("silence", "unknown", "yes", "no", "up", "down", "left", "right", "background", "sensor_fault")


@dataclass
class DeciderParams:
    stride: int = 12
    smooth: int = 3
    threshold_permille: int = 500
    suppress: int = 4


@dataclass
class Decider:
    """Port of kws_decide.c without the fault branch (integer arithmetic, the same order)."""

    p: DeciderParams
    post: list[list[int]] = field(default_factory=list)
    head: int = 0
    n: int = 0
    suppress: int = 0

    def __post_init__(self) -> None:
        self.post = [[0] * N_CLASSES for _ in range(self.p.smooth)]

    def decide(self, scores: np.ndarray) -> tuple[str, int]:
        self.post[self.head] = [int(s) + 128 for s in scores]
        self.head = (self.head + 1) % self.p.smooth
        self.n = min(self.n + 1, self.p.smooth)
        best, best_sum, bg_sum = 0, 0, 0
        for c in range(N_CLASSES):
            s = sum(self.post[i][c] for i in range(self.n))
            if c < FIRST_KEYWORD:
                bg_sum += s
            elif s > best_sum:
                best_sum, best = s, c
        best_pm = best_sum * 1000 // (self.p.smooth * 256)
        bg_pm = bg_sum * 1000 // (self.p.smooth * 256)
        if self.suppress:
            self.suppress -= 1
            return "background", bg_pm
        if best_pm >= self.p.threshold_permille:
            self.suppress = self.p.suppress
            self.n = 0
            return LABELS[best], best_pm
        return "background", bg_pm


def inference_frames(n_samples: int, stride: int) -> list[int]:
    """Frame numbers j (1-based; frame j ends at sample 320·j) at which the firmware runs an inference."""
    n_frames = n_samples // audio.HOP_LEN
    first = audio.N_FRAMES + 1 + stride - 1
    return list(range(first, n_frames + 1, stride))


def stream_features(pcm: np.ndarray) -> np.ndarray:
    """Features of every frame the firmware computes: frame j = the 512 samples ending at 320·j (zeros before 0)."""
    pad = np.concatenate([np.zeros(audio.FRAME_LEN - audio.HOP_LEN, np.int16), pcm.astype(np.int16)])
    return audio.frame_features_q(audio.frame_view(pad))  # row j-1 is frame j


def scores_for(model: Path, pcm: np.ndarray, stride: int) -> tuple[list[int], np.ndarray]:
    from models.kws.evaluate import predict_tflm

    feats = stream_features(pcm)
    js = inference_frames(len(pcm), stride)
    windows = np.stack([feats[j - audio.N_FRAMES : j] for j in js]) if js else np.zeros((0, 49, 16), np.int8)
    return js, predict_tflm(model, windows)


def simulate(
    model: Path,
    pcm: np.ndarray,
    params: DeciderParams | None = None,
    scores: tuple[list[int], np.ndarray] | None = None,
) -> list[tuple[float, str, int]]:
    """(time of the window's last sample in s, label, score) per inference."""
    p = params or DeciderParams()
    js, sc = scores if scores is not None else scores_for(model, pcm, p.stride)
    d = Decider(p)
    return [(j * audio.HOP_LEN / audio.SAMPLE_RATE, *d.decide(s)) for j, s in zip(js, sc, strict=True)]


@dataclass(frozen=True)
class UtteranceScore:
    events: int  # keyword utterances in the timeline
    correct: int  # ... whose first keyword decision in [onset, end + tolerance] names the right keyword
    false_detections: int  # keyword decisions outside every keyword utterance's [onset, end + tolerance]

    @property
    def accuracy(self) -> float:
        """Correct utterances over utterances plus false detections (a false detection counts as one more error)."""
        return self.correct / max(1, self.events + self.false_detections)


def utterance_accuracy(
    decisions: list[tuple[float, str]], timeline: list[tuple[float, float, str]], tolerance_s: float = 1.5
) -> UtteranceScore:
    """Score a decision stream per spoken keyword: the figure comparable with the model card's clip accuracy."""
    keywords = set(LABELS[FIRST_KEYWORD:N_CLASSES])
    events = [(a, b, lab) for a, b, lab in timeline if lab in keywords]
    correct = 0
    for a, b, lab in events:
        hit = next((c for t, c in decisions if a <= t <= b + tolerance_s and c in keywords), None)
        correct += hit == lab
    false = sum(1 for t, c in decisions if c in keywords and not any(a <= t <= b + tolerance_s for a, b, _ in events))
    return UtteranceScore(len(events), correct, false)
