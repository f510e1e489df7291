"""Train the activity model and convert it to a full-int8 .tflite (TensorFlow; training only, CI never runs this).

    PYTHONPATH=. /work/trainvenv/bin/python models/motion/train.py          # -> models/motion/activity_int8.tflite

The data comes from dataset.py (the project's sensor generators through the firmware's fixed-point preprocessing).
It needs the project's own venv (pydantic, the scenario loader), so when build/motion/dataset.npz is missing this
script runs `.venv/bin/python models/motion/dataset.py` to make it.

The network sees the int8 features as numbers in [-128, 127]; the representative set pins the input range to exactly
that, so the converted model's input has scale 1 and zero point 0 and the firmware's features are its input bytes
as they are (the firmware checks this at start-up). Writes activity_int8.tflite and the training half of
metrics.json (float and TFLite-interpreter int8 accuracy); evaluate.py re-checks the int8 figures with tflite-micro.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
# The trained model ships with its application (the default model of `cosim build --app activity_tracker`).
APP_DIR = HERE.parents[1] / "src" / "tinyml_cosim" / "firmware" / "apps" / "activity_tracker"
REPO = HERE.parents[1]
DATA = REPO / "build" / "motion" / "dataset.npz"


def load_data(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        venv_python = REPO / ".venv" / "bin" / "python"
        subprocess.run([str(venv_python), str(HERE / "dataset.py"), "--out", str(path)], check=True)
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def as_input(x: np.ndarray) -> np.ndarray:
    """(k, window, 2) int8 features -> (k, window, 1, 2) float32, the Keras/TFLite input layout."""
    return x.astype(np.float32)[:, :, None, :]


def build_model(cfg: dict[str, Any], window: int, n_classes: int):  # type: ignore[no-untyped-def]
    import tensorflow as tf

    m = cfg["model"]
    inp = tf.keras.Input((window, 1, 2), name="features")
    x = inp
    for filters, kernel, stride in m["conv"]:
        x = tf.keras.layers.Conv2D(filters, (kernel, 1), strides=(stride, 1), padding="same", use_bias=False)(x)
        x = tf.keras.layers.BatchNormalization()(x)
        x = tf.keras.layers.ReLU()(x)
    x = tf.keras.layers.AveragePooling2D((int(x.shape[1]), 1))(x)
    x = tf.keras.layers.Flatten()(x)
    x = tf.keras.layers.Dense(m["dense"], activation="relu")(x)
    x = tf.keras.layers.Dropout(m["dropout"])(x)
    x = tf.keras.layers.Dense(n_classes)(x)
    out = tf.keras.layers.Softmax()(x)
    return tf.keras.Model(inp, out)


def representative(x: np.ndarray, n: int, seed: int):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(x), size=min(n, len(x)), replace=False)
    # One window spanning the whole int8 range first: the input's calibrated range becomes exactly [-128, 127].
    rail = np.zeros((1, *x.shape[1:]), dtype=np.float32)
    rail.flat[0], rail.flat[1] = -128.0, 127.0

    def gen():  # type: ignore[no-untyped-def]
        yield [rail]
        for i in pick:
            yield [x[i : i + 1]]

    return gen


def int8_accuracy(tflite: bytes, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    import tensorflow as tf

    it = tf.lite.Interpreter(model_content=tflite)
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    pred = np.empty(len(x), dtype=np.int64)
    for k in range(len(x)):
        it.set_tensor(i["index"], x[k : k + 1].astype(np.int8))
        it.invoke()
        pred[k] = int(np.argmax(it.get_tensor(o["index"])[0]))
    return float((pred == y).mean()), pred


def confusion(y: np.ndarray, pred: np.ndarray, n: int) -> list[list[int]]:
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (y, pred), 1)
    return cm.tolist()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=HERE / "train_config.yaml")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, default=APP_DIR / "activity_int8.tflite")
    args = ap.parse_args()
    cfg = yaml.safe_load(args.config.read_text())
    os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
    import tensorflow as tf

    tc = cfg["train"]
    tf.keras.utils.set_random_seed(tc["seed"])
    d = load_data(args.data)
    classes = cfg["classes"]
    xtr, ytr = as_input(d["x_train"]), d["y_train"]
    xva, yva = as_input(d["x_val"]), d["y_val"]
    xho, yho = as_input(d["x_heldout"]), d["y_heldout"]
    model = build_model(cfg, cfg["window"], len(classes))
    model.compile(optimizer=tf.keras.optimizers.Adam(tc["learning_rate"]), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    model.summary()
    model.fit(xtr, ytr, validation_data=(xva, yva), epochs=tc["epochs"], batch_size=tc["batch"], verbose=2,
              callbacks=[tf.keras.callbacks.ReduceLROnPlateau(patience=4, factor=0.5),
                         tf.keras.callbacks.EarlyStopping(patience=10, restore_best_weights=True)])  # fmt: skip
    float_val = float((model.predict(xva, verbose=0).argmax(1) == yva).mean())
    float_ho = float((model.predict(xho, verbose=0).argmax(1) == yho).mean())

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative(xtr, tc["representative_windows"], tc["seed"])
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    tflite = conv.convert()
    args.out.write_bytes(tflite)
    it = tf.lite.Interpreter(model_content=tflite)
    q_in = it.get_input_details()[0]["quantization"]
    if q_in != (1.0, 0):
        sys.exit(f"input quantization is {q_in}, expected (1.0, 0): the firmware feeds its features unscaled")
    q_out = it.get_output_details()[0]["quantization"]
    int8_ho, pred = int8_accuracy(tflite, xho, yho)
    metrics = {
        "model": args.out.name,
        "classes": classes,
        "bytes": len(tflite),
        "input_quantization": {"scale": q_in[0], "zero_point": q_in[1]},
        "output_quantization": {"scale": q_out[0], "zero_point": q_out[1]},
        "windows": {k: len(d[f"y_{k}"]) for k in ("train", "val", "heldout")},
        "float": {"val_accuracy": round(float_val, 4), "heldout_accuracy": round(float_ho, 4)},
        "int8_tflite_interpreter": {"heldout_accuracy": round(int8_ho, 4)},
        "int8_heldout_confusion": confusion(yho, pred, len(classes)),
        "tensorflow": tf.__version__,
    }
    (HERE / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
