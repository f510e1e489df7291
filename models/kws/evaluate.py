"""Re-evaluate the committed int8 keyword spotter on its held-out voices with tflite-micro (no TensorFlow).

    PYTHONPATH=. .venv/bin/python models/kws/evaluate.py [--model models/kws/kws_int8.tflite] [--json]

Regenerates the held-out split (models/kws/dataset.py; espeak-ng needed unless build/kws_data holds it), computes the
features with the bit-exact host reference of the firmware (audio_twin.py), runs TFLM's reference kernels
and compares accuracy, per-class accuracy and the hash of every prediction with models/kws/metrics.json; then
streams scenarios/kws/heldout.yaml through the host model of the firmware's pipeline and compares its per-keyword
figure (`stream_heldout`, the number the firmware on QEMU is held to) too.
Exit 0 when the card's figures are reproduced, 1 when not, 2 when the held-out audio cannot be made.
`--write` records the figures in metrics.json (train.py runs once after training: its int8 figures come from
TensorFlow Lite's interpreter, and the card states TFLM's, the same arithmetic the firmware runs).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
# The trained model ships with its application (the default model of `cosim build --app keyword_spotter`).
APP_DIR = HERE.parents[1] / "src" / "tinyml_cosim" / "firmware" / "apps" / "keyword_spotter"
sys.path.insert(0, str(HERE.parents[1]))
STREAM_SCENARIO = HERE.parents[1] / "scenarios" / "kws" / "heldout.yaml"

import audio_twin as audio  # noqa: E402

from models.kws import dataset  # noqa: E402


def predict_tflm(model: Path, x_int8: np.ndarray) -> np.ndarray:
    """Class scores (int8) for inputs [N, 49, 16] int8, one TFLM interpreter reused."""
    from tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(model.read_bytes(), arena_size=256 * 1024)
    out = []
    for x in x_int8:
        interp.set_input(x[None, :, :, None], 0)
        interp.invoke()
        out.append(np.asarray(interp.get_output(0)).reshape(-1).astype(np.int8))
    return np.stack(out)


def evaluate(model: Path, cache: Path = dataset.DEFAULT_CACHE) -> dict[str, Any]:
    data = dataset.load_split("eval", cache)
    x = audio.clip_features(data["audio"])
    y = data["labels"]
    pred = predict_tflm(model, x).argmax(1)
    return {
        "clips": len(y),
        "int8_accuracy": round(float((pred == y).mean()), 4),
        "int8_per_class_accuracy": {
            c: round(float((pred[y == i] == i).mean()), 4) for i, c in enumerate(dataset.CLASSES)
        },
        "int8_predictions_sha256": hashlib.sha256(pred.astype(np.int8).tobytes()).hexdigest(),
    }


def evaluate_stream(model: Path, scenario: Path = STREAM_SCENARIO) -> dict[str, Any]:
    """The held-out scenario through the host model of the firmware's pipeline (models/kws/stream_sim.py: bit-exact
    features, TFLM, the firmware's decision logic): per spoken keyword, the figure the firmware must reproduce."""
    import yaml

    from models.kws import stream_sim
    from tinyml_cosim.scenario import load_scenario

    pcm = load_scenario(scenario).generate()["mic"].raw.reshape(-1).astype(np.int16)
    decisions = stream_sim.simulate(model, pcm)
    timeline = [(s["start_s"], s["end_s"], s["label"]) for s in yaml.safe_load(scenario.read_text())["timeline"]]
    score = stream_sim.utterance_accuracy([(t, c) for t, c, _ in decisions], timeline)
    return {
        "scenario": str(scenario.relative_to(HERE.parents[1])),
        "keyword_utterances": score.events,
        "correct": score.correct,
        "false_detections": score.false_detections,
        "utterance_accuracy": round(score.accuracy, 4),
        "decisions_sha256": hashlib.sha256(repr([(c, s) for _, c, s in decisions]).encode()).hexdigest(),
    }


def compare(result: dict[str, Any], card: dict[str, Any]) -> list[str]:
    """Differences between a re-evaluation and metrics.json (empty: reproduced)."""
    problems = []
    for key in ("int8_accuracy", "int8_per_class_accuracy", "int8_predictions_sha256"):
        if result[key] != card[key]:
            problems.append(f"{key}: re-evaluated {result[key]}, metrics.json says {card[key]}")
    if result["clips"] != card["heldout"]["clips"]:
        problems.append(f"clips: {result['clips']} vs {card['heldout']['clips']}")
    if "stream_heldout" in result and result["stream_heldout"] != card.get("stream_heldout"):
        problems.append(
            f"stream_heldout: re-evaluated {result['stream_heldout']}, metrics.json says {card.get('stream_heldout')}"
        )
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=APP_DIR / "kws_int8.tflite")
    ap.add_argument("--metrics", type=Path, default=HERE / "metrics.json")
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--write", action="store_true", help="record these figures in metrics.json (after training: TFLM is the golden)"
    )
    args = ap.parse_args(argv)
    try:
        result = evaluate(args.model)
        result["stream_heldout"] = evaluate_stream(args.model)
    except RuntimeError as e:
        print(f"evaluate: {e}", file=sys.stderr)
        return 2
    card = json.loads(args.metrics.read_text())
    if args.write:
        card.update({k: v for k, v in result.items() if k != "clips"})
        card["int8_golden"] = "tflite-micro (models/kws/evaluate.py)"
        args.metrics.write_text(json.dumps(card, indent=2) + "\n")
    problems = compare(result, card)
    if args.json:
        print(json.dumps({**result, "reproduced": not problems, "problems": problems}, indent=2))
    else:
        st = result["stream_heldout"]
        print(f"held-out int8 accuracy {result['int8_accuracy']:.4f} on {result['clips']} clips (tflite-micro)")
        print(
            f"held-out scenario, streamed: {st['correct']}/{st['keyword_utterances']} keywords, "
            f"{st['false_detections']} false detections, utterance accuracy {st['utterance_accuracy']:.4f}"
        )
        print("reproduced metrics.json" if not problems else "\n".join(problems))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
