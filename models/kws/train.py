"""Train the keyword spotter's DS-CNN and convert it to a full-int8 .tflite (TensorFlow: the optional `.[train]`).

    PYTHONPATH=. /work/trainvenv/bin/python models/kws/train.py [--config models/kws/train_config.yaml]

Data: models/kws/dataset.py (espeak-ng words in noise beds; the evaluation split's voices and speeds never occur
in training). Features: tinyml_cosim/features/audio.py, the bit-exact host twin of the firmware's fixed-point log-mel
extractor, so the network trains on exactly the int8 values the MCU computes. The int8 features are the model
input unchanged: the converter is given a representative set that spans -128 … 127, so the input quantization is
scale 1, zero point 0 (checked below; the firmware relies on it).

Writes models/kws/kws_int8.tflite and models/kws/metrics.json (float and int8 accuracy on the held-out voices, the
confusion matrix, per-class accuracy). CI never runs this; models/kws/evaluate.py re-checks the committed model.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
# The trained model ships with its application (the default model of `cosim build --app keyword_spotter`).
APP_DIR = HERE.parents[1] / "src" / "tinyml_cosim" / "firmware" / "apps" / "keyword_spotter"
sys.path.insert(0, str(HERE.parents[1]))

import audio_twin as audio  # noqa: E402

from models.kws import dataset  # noqa: E402


def features_for(split: str, extra_copies: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = dataset.load_split(split)
    x, y, v = [audio.clip_features(data["audio"])], [data["labels"]], [data["voices"]]
    for c in range(extra_copies):
        more = dataset.load_split(split, seed=dataset.SPLIT_SEEDS[split] + 1000 * (c + 1))
        x.append(audio.clip_features(more["audio"]))
        y.append(more["labels"])
        v.append(more["voices"])
    return np.concatenate(x), np.concatenate(y), np.concatenate(v)


def build_model(cfg: dict[str, Any], n_classes: int) -> Any:
    import tensorflow as tf
    from tensorflow.keras import layers

    m = cfg["model"]
    ch = int(m["channels"])
    inp = layers.Input((audio.N_FRAMES, audio.N_MEL, 1))
    fc = m["first_conv"]
    x = layers.Conv2D(fc["filters"], fc["kernel"], strides=fc["strides"], padding="valid", use_bias=False)(inp)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    for _ in range(int(m["ds_blocks"])):
        x = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.Conv2D(ch, 1, use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    # AveragePooling2D over the whole map + Flatten (GlobalAveragePooling exports a MEAN without keep_dims, which
    # the project's compiler refuses)
    x = layers.AveragePooling2D(pool_size=(int(x.shape[1]), int(x.shape[2])))(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(float(m["dropout"]))(x)
    x = layers.Dense(n_classes)(x)
    out = layers.Softmax()(x)
    return tf.keras.Model(inp, out)


def to_input(x_int8: np.ndarray) -> np.ndarray:
    return x_int8.astype(np.float32)[..., None]


def convert_int8(model: Any, rep: np.ndarray) -> bytes:
    import tensorflow as tf

    def gen() -> Any:
        yield [np.full((1, audio.N_FRAMES, audio.N_MEL, 1), -128.0, np.float32)]
        yield [np.full((1, audio.N_FRAMES, audio.N_MEL, 1), 127.0, np.float32)]
        for r in rep:
            yield [to_input(r[None])]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = gen
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


def run_int8(tfl: bytes, x_int8: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    it = tf.lite.Interpreter(model_content=tfl)
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    out = np.empty((len(x_int8), o["shape"][-1]), dtype=np.int8)
    for k, x in enumerate(x_int8):
        it.set_tensor(i["index"], x[None, :, :, None])
        it.invoke()
        out[k] = it.get_tensor(o["index"])[0]
    return out


def confusion(y: np.ndarray, pred: np.ndarray, n: int) -> list[list[int]]:
    c = np.zeros((n, n), dtype=int)
    np.add.at(c, (y, pred), 1)
    return c.tolist()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="train the keyword spotter")
    ap.add_argument("--config", type=Path, default=HERE / "train_config.yaml")
    ap.add_argument("--out", type=Path, default=HERE)
    args = ap.parse_args(argv)
    cfg = yaml.safe_load(args.config.read_text())
    os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
    import tensorflow as tf

    tf.keras.utils.set_random_seed(int(cfg["seed"]))
    t = cfg["train"]
    x, y, voices = features_for("train", int(t["extra_noise_copies"]))
    xe, ye, _ = features_for("eval")
    n_classes = len(dataset.CLASSES)
    # validation: whole training voices (accent+variant), so early stopping is not tuned on the held-out voices
    rng = np.random.default_rng(int(cfg["seed"]))
    names = np.array([v.split("@")[0] for v in voices])
    uniq = np.unique(names[names != ""])
    val_voices = set(rng.choice(uniq, size=max(1, int(len(uniq) * float(t["validation_fraction"]))), replace=False))
    val = np.array([n in val_voices for n in names]) | ((names == "") & (rng.random(len(names)) < 0.1))
    model = build_model(cfg, n_classes)
    steps = int(np.ceil((~val).sum() / int(t["batch_size"]))) * int(t["epochs"])
    lr = tf.keras.optimizers.schedules.CosineDecay(float(t["learning_rate"]), steps, alpha=0.01)
    model.compile(tf.keras.optimizers.Adam(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
    best = tf.keras.callbacks.ModelCheckpoint(
        str(Path("/tmp") / "kws_best.weights.h5"), save_best_only=True, save_weights_only=True, monitor="val_accuracy"
    )
    model.fit(
        to_input(x[~val]),
        y[~val],
        validation_data=(to_input(x[val]), y[val]),
        epochs=int(t["epochs"]),
        batch_size=int(t["batch_size"]),
        callbacks=[best],
        verbose=2,
    )
    model.load_weights(str(Path("/tmp") / "kws_best.weights.h5"))
    p_float = model.predict(to_input(xe), verbose=0).argmax(1)
    rep = x[~val][rng.choice(int((~val).sum()), size=int(cfg["quantization"]["representative_clips"]), replace=False)]
    tfl = convert_int8(model, rep)
    det = tf.lite.Interpreter(model_content=tfl).get_input_details()[0]
    scale, zp = det["quantization"]
    if scale != 1.0 or zp != 0:
        raise SystemExit(f"input quantization is scale {scale}, zero point {zp}; the firmware needs 1.0 and 0")
    p_int8 = run_int8(tfl, xe).argmax(1)
    args.out.mkdir(parents=True, exist_ok=True)
    (APP_DIR / "kws_int8.tflite").write_bytes(tfl)
    acc_f, acc_q = float((p_float == ye).mean()), float((p_int8 == ye).mean())
    metrics = {
        "classes": list(dataset.CLASSES),
        "features": {"frames": audio.N_FRAMES, "mel_bands": audio.N_MEL, "hop_ms": 20, "frame_ms": 32},
        "train_clips": int((~val).sum()),
        "validation_clips": int(val.sum()),
        "heldout": {
            "clips": len(ye),
            "accents": list(dataset.EVAL_ACCENTS),
            "variants": list(dataset.EVAL_VARIANTS),
            "speeds": list(dataset.EVAL_SPEEDS),
            "split_seed": dataset.SPLIT_SEEDS["eval"],
        },
        "float_accuracy": round(acc_f, 4),
        "int8_accuracy": round(acc_q, 4),
        "int8_accuracy_tflite_interpreter": round(acc_q, 4),  # evaluate.py --write replaces int8_* with TFLM's
        "int8_per_class_accuracy": {
            c: round(float((p_int8[ye == i] == i).mean()), 4) for i, c in enumerate(dataset.CLASSES)
        },
        "int8_confusion": confusion(ye, p_int8, n_classes),
        "int8_predictions_sha256": hashlib.sha256(p_int8.astype(np.int8).tobytes()).hexdigest(),
        "tflite_bytes": len(tfl),
    }
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps({k: metrics[k] for k in ("float_accuracy", "int8_accuracy", "tflite_bytes")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
