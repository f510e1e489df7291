"""Re-evaluate the committed int8 vibration model on its held-out set with tflite-micro (no TensorFlow) and compare
with metrics.json, the figures of MODEL_CARD.md.

    .venv/bin/python models/vibration/evaluate.py                 # check: exit 1 if a figure is not reproduced
    .venv/bin/python models/vibration/evaluate.py --write         # (after train.py) write metrics.json
    .venv/bin/python models/vibration/evaluate.py --write --firmware   # also instructions per inference (QEMU)

The held-out features come from dataset.py (the project's sensor generators, bit-exact fixed-point features); they
are generated when --features does not exist. The int8 inputs are made by the firmware's own normalisation
(model_params.json = firmware/apps/vibration_monitor/model_params.h), so the figures are those of the MCU pipeline.
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
# The trained model ships with its application (the default model of `cosim build --app vibration_monitor`).
APP_DIR = HERE.parents[1] / "src" / "tinyml_cosim" / "firmware" / "apps" / "vibration_monitor"
REPO = HERE.parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from vibration_twin import Q16, Normaliser, anomaly_score  # noqa: E402

MODEL = APP_DIR / "vibration_int8.tflite"
METRICS = HERE / "metrics.json"
PARAMS = HERE / "model_params.json"
FLOAT_WEIGHTS = HERE / "float_weights.npz"
DEFAULT_FEATURES = REPO / "build" / "vibration" / "features.npz"


def load_params() -> dict[str, Any]:
    return json.loads(PARAMS.read_text())


def normaliser(params: dict[str, Any]) -> Normaliser:
    return Normaliser(
        np.array(params["norm_offset"], np.int32), np.array(params["norm_mult"], np.int32), params["input_zero_point"]
    )


def features_file(path: Path) -> Path:
    if not path.exists():
        dataset_module().write_features(path)
    return path


def dataset_module():  # type: ignore[no-untyped-def]
    """models/vibration/dataset.py under a name of its own (other models have a dataset.py too)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("vibration_dataset", HERE / "dataset.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


def tflm_outputs(model: bytes, q: np.ndarray) -> np.ndarray:
    """int8 outputs of tflite-micro's reference kernels for each row of q (one interpreter, reused)."""
    from tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(model, arena_size=64 * 1024)
    rows = []
    for row in q:
        interp.set_input(row[None, :].astype(np.int8), 0)
        interp.invoke()
        rows.append(np.array(interp.get_output(0)).reshape(-1))
    return np.stack(rows).astype(np.int8)


def float_predictions(features: np.ndarray) -> np.ndarray:
    """The float Keras model (dense + ReLU, softmax argmax) in numpy, from float_weights.npz."""
    with np.load(FLOAT_WEIGHTS) as w:
        x = (features.astype(np.float64) / Q16 - w["mean"]) / w["std"]
        layers = sorted(k for k in w.files if k.startswith("w"))
        for i in range(len(layers)):
            x = x @ w[f"w{i}"] + w[f"b{i}"]
            if i < len(layers) - 1:
                x = np.maximum(x, 0.0)
    return x.argmax(axis=1)


def confusion(y: np.ndarray, p: np.ndarray, n: int) -> list[list[int]]:
    m = np.zeros((n, n), np.int64)
    np.add.at(m, (y, p), 1)
    return m.tolist()


def evaluate(features_path: Path = DEFAULT_FEATURES) -> dict[str, Any]:
    """Every figure of the model card that needs no emulator."""
    params = load_params()
    blob = MODEL.read_bytes()
    sha = hashlib.sha256(blob).hexdigest()
    if sha != params["tflite_sha256"]:
        raise SystemExit(f"{PARAMS}: made for model {params['tflite_sha256'][:12]}, but {MODEL} is {sha[:12]}")
    classes = params["classes"]
    norm = normaliser(params)
    centre, weight = np.array(params["centre"], np.int8), np.array(params["weight"], np.uint16)
    enter = params["thresholds"]["anomaly_enter"]
    with np.load(features_file(features_path)) as d:
        data = {k: d[k] for k in d.files}
    y = data["heldout_labels"]
    q = norm.quantize(data["heldout_features"])
    out = tflm_outputs(blob, q)
    p_int8 = out.argmax(axis=1)
    p_float = float_predictions(data["heldout_features"])
    scores = anomaly_score(q, centre, weight)
    unseen_scores = anomaly_score(norm.quantize(data["unseen_features"]), centre, weight)
    unseen_names = [str(c) for c in data["unseen_classes"]]
    return {
        "model": {"file": MODEL.name, "sha256": sha, "bytes": len(blob)},
        "classes": classes,
        "heldout": {
            "windows": len(y),
            "float_accuracy": round(float((p_float == y).mean()), 6),
            "int8_accuracy": round(float((p_int8 == y).mean()), 6),
            "int8_recall": {c: round(float((p_int8[y == i] == i).mean()), 6) for i, c in enumerate(classes)},
            "int8_confusion": confusion(y, p_int8, len(classes)),
            "int8_outputs_sha256": hashlib.sha256(out.tobytes()).hexdigest(),
        },
        "train_windows": len(data["train_labels"]),
        "anomaly": {
            "enter": enter,
            "release": params["thresholds"]["anomaly_release"],
            "heldout_windows_above_enter": round(float((scores >= enter).mean()), 6),
            "unseen_windows_above_enter": {
                c: round(float((unseen_scores[data["unseen_labels"] == i] >= enter).mean()), 6)
                for i, c in enumerate(unseen_names)
            },
        },
    }


def firmware_figures(board: str = "stm32f405") -> dict[str, Any]:
    """Bit-exactness and instructions per inference of the compiled model in QEMU (`cosim model check`)."""
    from tinyml_cosim.core.boards import load_board
    from tinyml_cosim.orchestrate.model_check import check_model

    r = check_model(MODEL, load_board(board))
    ipi = list(r["instructions_per_inference"])  # type: ignore[call-overload]
    return {
        "board": board,
        "engine": r["engine"],
        "bit_exact_vs_tflite_micro": r["bit_exact"],
        "vectors": r["vectors"],
        "instructions_per_inference_min": min(ipi),
        "instructions_per_inference_max": max(ipi),
        "arena_bytes": r["arena_bytes"],
        "flash_bytes_model": r["flash_bytes_model"],
    }


def differences(now: dict[str, Any], card: dict[str, Any], prefix: str = "") -> list[str]:
    """Every figure of `now` that metrics.json states differently (keys only in metrics.json are not compared)."""
    out = []
    for key, value in now.items():
        name = f"{prefix}{key}"
        if key not in card:
            out.append(f"{name}: not in metrics.json")
        elif isinstance(value, dict):
            out += differences(value, card[key], name + ".")
        elif value != card[key]:
            out.append(f"{name}: now {value!r}, metrics.json {card[key]!r}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--features", type=Path, default=DEFAULT_FEATURES)
    ap.add_argument("--write", action="store_true", help="write metrics.json instead of checking it")
    ap.add_argument("--firmware", action="store_true", help="also measure the model in QEMU (stm32f405)")
    args = ap.parse_args()
    now = evaluate(args.features)
    if args.firmware:
        now["firmware"] = firmware_figures()
    if args.write:
        card = json.loads(METRICS.read_text()) if METRICS.exists() else {}
        card.update(now)
        train = HERE / "train_metrics.json"
        if train.exists():
            t = json.loads(train.read_text())
            card["training"] = {k: v for k, v in t.items() if k.endswith("accuracy")} | {"config": t["config"]}
        METRICS.write_text(json.dumps(card, indent=2) + "\n")
        print(f"wrote {METRICS}")
        return 0
    diffs = differences(now, json.loads(METRICS.read_text()))
    h = now["heldout"]
    print(f"held-out ({h['windows']} windows): float {h['float_accuracy']:.4f}, int8 {h['int8_accuracy']:.4f}")
    for line in diffs:
        print(f"MISMATCH {line}")
    print("metrics.json reproduced" if not diffs else f"{len(diffs)} figure(s) of metrics.json not reproduced")
    return 1 if diffs else 0


if __name__ == "__main__":
    raise SystemExit(main())
