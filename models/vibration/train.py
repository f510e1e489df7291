"""Train the vibration monitor's classifier on the features of dataset.py and convert it to a full-int8 .tflite.

Run (TensorFlow venv; the repository on PYTHONPATH):
    .venv/bin/python models/vibration/dataset.py --out build/vibration/features.npz
    PYTHONPATH=. /work/trainvenv/bin/python models/vibration/train.py
    .venv/bin/python models/vibration/evaluate.py --write      # tflite-micro figures into metrics.json

Writes models/vibration/vibration_int8.tflite, float_weights.npz (the float model, for evaluate.py),
model_params.json, train_metrics.json (float / TFLite figures) and
firmware/apps/vibration_monitor/model_params.h: the feature normalisation for the model's int8 input, the class
models of the anomaly score and the decision thresholds, all derived from the training split only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
# The trained model ships with its application (the default model of `cosim build --app vibration_monitor`).
APP_DIR = HERE.parents[1] / "src" / "tinyml_cosim" / "firmware" / "apps" / "vibration_monitor"
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

from vibration_twin import FEATURES, Q16, Normaliser, anomaly_score  # noqa: E402

APP = REPO / "src" / "tinyml_cosim" / "firmware" / "apps" / "vibration_monitor"


def load_features(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as d:
        return {k: d[k] for k in d.files}


def split_points(groups: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of validation windows: whole operating points, so validation never shares one with training."""
    points = np.unique(groups)
    val = rng.choice(points, size=max(1, round(fraction * len(points))), replace=False)
    return np.isin(groups, val)


def build_model(tf, n_in: int, n_out: int, cfg: dict):  # type: ignore[no-untyped-def]
    x = inp = tf.keras.Input(shape=(n_in,), name="features")
    x = tf.keras.layers.GaussianNoise(cfg["input_noise"])(x)
    for units in cfg["hidden"]:
        x = tf.keras.layers.Dense(units, activation="relu")(x)
        x = tf.keras.layers.Dropout(cfg["dropout"])(x)
    out = tf.keras.layers.Dense(n_out, activation="softmax", name="probs")(x)
    return tf.keras.Model(inp, out)


def convert(tf, model, representative: np.ndarray) -> bytes:  # type: ignore[no-untyped-def]
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]

    def rep():  # type: ignore[no-untyped-def]
        for row in representative:
            yield [row[None, :].astype(np.float32)]

    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


def tflite_int8(tf, blob: bytes, q: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    interp = tf.lite.Interpreter(model_content=blob)
    interp.allocate_tensors()
    i, o = interp.get_input_details()[0], interp.get_output_details()[0]
    out = np.empty((len(q), o["shape"][-1]), np.int8)
    for n, row in enumerate(q):
        interp.set_tensor(i["index"], row[None, :])
        interp.invoke()
        out[n] = interp.get_tensor(o["index"])[0]
    return out


def io_quant(tf, blob: bytes) -> tuple[float, int, float, int]:  # type: ignore[no-untyped-def]
    interp = tf.lite.Interpreter(model_content=blob)
    i, o = interp.get_input_details()[0], interp.get_output_details()[0]
    return (
        float(i["quantization"][0]),
        int(i["quantization"][1]),
        float(o["quantization"][0]),
        int(o["quantization"][1]),
    )


def kmeans(x: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 60) -> np.ndarray:
    """Plain Lloyd's k-means (numpy, seeded): k centres of the rows of x."""
    centres = x[rng.choice(len(x), size=k, replace=False)].astype(np.float64)
    for _ in range(iterations):
        nearest = ((x[:, None, :] - centres[None]) ** 2).sum(axis=-1).argmin(axis=1)
        for j in range(k):
            if (nearest == j).any():
                centres[j] = x[nearest == j].mean(axis=0)
    return centres


def prototypes(
    q: np.ndarray, y: np.ndarray, n_classes: int, per_class: int, floor_q: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Prototypes of the anomaly score: per class, `per_class` k-means centres of its int8 inputs (a class spans many
    speeds, so one centre would sit between them), each weighted by the class's per-feature spread (uint16,
    2^16 / variance in input LSB^2): the score is a squared z-distance to the nearest known operating state."""
    centre = np.zeros((n_classes * per_class, FEATURES), np.int8)
    weight = np.zeros((n_classes * per_class, FEATURES), np.uint16)
    for c in range(n_classes):
        qc = q[y == c].astype(np.float64)
        std = np.maximum(qc.std(axis=0), max(floor_q, 1.0))
        rows = slice(c * per_class, (c + 1) * per_class)
        centre[rows] = np.clip(np.round(kmeans(qc, per_class, rng)), -128, 127)
        weight[rows] = np.clip(np.round(65536.0 / std**2), 1, 65535)
    return centre, weight


def c_array(name: str, ctype: str, values: np.ndarray, per_line: int = 10) -> str:
    flat = [str(int(v)) for v in np.asarray(values).ravel()]
    lines = [", ".join(flat[i : i + per_line]) for i in range(0, len(flat), per_line)]
    return f"static const {ctype} {name}[{len(flat)}] = {{\n    " + ",\n    ".join(lines) + ",\n};\n"


def write_header(
    path: Path,
    norm: Normaliser,
    centre: np.ndarray,
    weight: np.ndarray,
    out_q: tuple[float, int],
    thresholds: dict[str, int],
    classes: list[str],
    model_sha: str,
) -> None:
    names = ", ".join(f'"{c}"' for c in classes)
    text = f"""/* Generated by models/vibration/train.py from the training split -- do not edit.
 * Model: models/vibration/vibration_int8.tflite (sha256 {model_sha}).
 * Feature normalisation to the model's int8 input (vib_quantize), class models of the anomaly score
 * (vib_anomaly_score) and the decision thresholds. */
#ifndef VIB_MODEL_PARAMS_H
#define VIB_MODEL_PARAMS_H
#include <stdint.h>

#include "vib_features.h"

#define VIB_MODEL_SHA_PREFIX 0x{model_sha[:8]}u
#define VIB_CLASSES {len(classes)}u
#define VIB_CLASS_NAMES {{{names}}}
#define VIB_INPUT_ZERO_POINT {norm.zero_point}
#define VIB_OUTPUT_ZERO_POINT {out_q[1]} /* output scale {out_q[0]:.8g}: probability = (q - zp) * scale */
#define VIB_PROTOTYPES {len(centre)}u /* anomaly-score prototypes (k-means centres of the training classes) */
#define VIB_ANOMALY_ENTER {thresholds["anomaly_enter"]} /* Q8 mean squared z-distance */
#define VIB_ANOMALY_RELEASE {thresholds["anomaly_release"]}
#define VIB_CONFIDENCE_MIN_Q8 {thresholds["confidence_min_q8"]} /* softmax maximum, 0..256 */
#define VIB_DEBOUNCE_WINDOWS {thresholds["debounce_windows"]}u

{c_array("vib_norm_offset", "int32_t", norm.offset, 8)}
{c_array("vib_norm_mult", "int32_t", norm.mult, 8)}
{c_array("vib_centre", "int8_t", centre, 20)}
{c_array("vib_weight", "uint16_t", weight, 10)}
#endif
"""
    path.write_text(text)


def main() -> None:
    import hashlib

    import tensorflow as tf

    cfg = yaml.safe_load((HERE / "train_config.yaml").read_text())
    data = load_features(REPO / cfg["features"])
    classes = [str(c) for c in data["classes"]]
    rng = np.random.default_rng(cfg["seed"])
    tf.keras.utils.set_random_seed(cfg["seed"])

    f_train = data["train_features"].astype(np.float64) / Q16
    y_train = data["train_labels"]
    mean, std = f_train.mean(axis=0), f_train.std(axis=0) + 1e-6
    z = lambda f: ((f.astype(np.float64) / Q16 - mean) / std).astype(np.float32)  # noqa: E731

    val = split_points(data["train_groups"], cfg["training"]["validation_fraction"], rng)
    model = build_model(tf, FEATURES, len(classes), cfg["model"])
    model.compile(
        optimizer=tf.keras.optimizers.Adam(cfg["training"]["learning_rate"]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    zt = z(data["train_features"])
    model.fit(
        zt[~val],
        y_train[~val],
        validation_data=(zt[val], y_train[val]),
        epochs=cfg["training"]["epochs"],
        batch_size=cfg["training"]["batch_size"],
        verbose=2,
        callbacks=[tf.keras.callbacks.EarlyStopping(patience=25, restore_best_weights=True)],
    )

    # The float model's dense layers, so evaluate.py can recompute the float accuracy without TensorFlow.
    dense = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Dense)]
    np.savez(
        HERE / "float_weights.npz",
        mean=mean,
        std=std,
        **{f"w{i}": layer.get_weights()[0] for i, layer in enumerate(dense)},
        **{f"b{i}": layer.get_weights()[1] for i, layer in enumerate(dense)},
    )
    rep = zt[rng.choice(len(zt), size=min(cfg["quantization"]["representative_windows"], len(zt)), replace=False)]
    blob = convert(tf, model, rep)
    tflite_path = APP_DIR / "vibration_int8.tflite"
    tflite_path.write_bytes(blob)
    s_in, zp_in, s_out, zp_out = io_quant(tf, blob)
    norm = Normaliser.fit(mean, std, s_in, zp_in)

    q_train = norm.quantize(data["train_features"])
    floor_q = cfg["anomaly"]["std_floor"] / s_in
    centre, weight = prototypes(q_train, y_train, len(classes), cfg["anomaly"]["prototypes_per_class"], floor_q, rng)
    train_scores = anomaly_score(q_train, centre, weight)
    enter = round(cfg["anomaly"]["threshold_factor"] * float(np.percentile(train_scores, 99.5)))
    thresholds = {
        "anomaly_enter": enter,
        "anomaly_release": round(cfg["anomaly"]["release_fraction"] * enter),
        "confidence_min_q8": round(cfg["decision"]["confidence_min"] * 256),
        "debounce_windows": int(cfg["decision"]["debounce_windows"]),
    }
    sha = hashlib.sha256(blob).hexdigest()
    write_header(APP / "model_params.h", norm, centre, weight, (s_out, zp_out), thresholds, classes, sha)

    params = {
        "classes": classes,
        "tflite_sha256": sha,
        "input_scale": s_in,
        "input_zero_point": zp_in,
        "output_scale": s_out,
        "output_zero_point": zp_out,
        "norm_offset": norm.offset.tolist(),
        "norm_mult": norm.mult.tolist(),
        "centre": centre.tolist(),
        "weight": weight.tolist(),
        "thresholds": thresholds,
    }
    (HERE / "model_params.json").write_text(json.dumps(params) + "\n")
    result: dict[str, object] = {"classes": classes, "tflite_sha256": sha, "thresholds": thresholds}
    for split in ("train", "heldout"):
        y = data[f"{split}_labels"]
        pf = model.predict(z(data[f"{split}_features"]), verbose=0).argmax(axis=1)
        pq = tflite_int8(tf, blob, norm.quantize(data[f"{split}_features"])).argmax(axis=1)
        result[f"{split}_float_accuracy"] = float((pf == y).mean())
        result[f"{split}_tflite_int8_accuracy"] = float((pq == y).mean())
    result["config"] = cfg
    (HERE / "train_metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "config"}, indent=2))


if __name__ == "__main__":
    main()
