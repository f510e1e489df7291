"""Re-evaluate the committed int8 activity model on its held-out set, without TensorFlow.

    .venv/bin/python models/motion/evaluate.py                 # check against metrics.json (exit 1 if not reproduced)
    .venv/bin/python models/motion/evaluate.py --firmware 200  # ... and 200 held-out windows through the firmware
    .venv/bin/python models/motion/evaluate.py --write         # record the figures in metrics.json (after training)

The held-out windows are regenerated from the project's sensor generators (dataset.py: other seeds, mountings,
noise, gain and offset than training) and classified by tflite-micro's reference kernels (the project's golden).
`--firmware N` also runs the first N of them through the model compiled for stm32f405 on QEMU (the model_runner
app, the same generated C and kernels as the activity_tracker) and requires its output bytes to equal
tflite-micro's. `--write` also measures the model on the emulated boards (instructions per inference, arena,
flash: `cosim model check`). Exit codes: 0 reproduced, 1 not reproduced, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
# The trained model ships with its application (the default model of `cosim build --app activity_tracker`).
APP_DIR = HERE.parents[1] / "src" / "tinyml_cosim" / "firmware" / "apps" / "activity_tracker"
REPO = HERE.parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import dataset  # noqa: E402

MODEL = APP_DIR / "activity_int8.tflite"
METRICS = HERE / "metrics.json"
BOARDS = ("stm32f405", "stm32f205")


def heldout(cfg: dict[str, Any], stress: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The held-out windows, or those of one stress condition (train_config.yaml `stress:`)."""
    split = cfg["stress"][stress] if stress else None
    x, y, _ = dataset.split_windows(cfg, stress or "heldout", split)
    return x[:, :, None, :], y  # (k, window, 1, 2) int8, the model's input layout


def tflm_scores(model: Path, x: np.ndarray) -> np.ndarray:
    from tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(model.read_bytes(), arena_size=256 * 1024)
    out = []
    for k in range(len(x)):
        interp.set_input(x[k : k + 1], 0)
        interp.invoke()
        out.append(np.array(interp.get_output(0)).reshape(-1))
    return np.stack(out).astype(np.int8)


def summarize(classes: list[str], y: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    n = len(classes)
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (y, pred), 1)
    recall = {c: round(float(cm[i, i] / max(cm[i].sum(), 1)), 4) for i, c in enumerate(classes)}
    return {
        "heldout_accuracy": round(float((pred == y).mean()), 4),
        "heldout_windows": len(y),
        "per_class_recall": recall,
        "confusion": cm.tolist(),
    }


def firmware_check(x: np.ndarray, scores: np.ndarray, n: int) -> dict[str, Any]:
    """The first n windows through the compiled model on QEMU (stm32f405): outputs must equal tflite-micro's."""
    from tinyml_cosim.core.boards import load_board
    from tinyml_cosim.orchestrate.model_check import build_runner, run_runner

    board = load_board("stm32f405")
    rb = build_runner(MODEL, board)
    res = run_runner(rb, board, [x[k] for k in range(n)])
    got = np.stack([np.frombuffer(o, dtype=np.int8) for o in res.outputs]) if res.outputs else np.zeros((0, 1))
    same = len(got) == n and bool((got == scores[:n]).all())
    return {"windows": n, "bit_exact": same, "status": res.record.status.value,
            "instructions_max": max(res.instructions) if res.instructions else None}  # fmt: skip


def board_figures() -> dict[str, Any]:
    from tinyml_cosim.core.boards import load_board
    from tinyml_cosim.orchestrate.model_check import check_model

    out = {}
    for b in BOARDS:
        r = check_model(MODEL, load_board(b))
        ins = r["instructions_per_inference"]
        out[b] = {"bit_exact_vs_tflm": r["bit_exact"], "vectors": r["vectors"], "instructions_min": min(ins),
                  "instructions_max": max(ins), "arena_bytes": r["arena_bytes"],
                  "flash_bytes_model": r["flash_bytes_model"], "macs": r["macs"]}  # fmt: skip
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="record the figures in metrics.json")
    ap.add_argument("--firmware", type=int, default=0, metavar="N", help="also run N windows through QEMU")
    args = ap.parse_args()
    cfg = dataset.load_config()
    if not MODEL.is_file():
        print(f"{MODEL}: no model (train it: models/motion/train.py)", file=sys.stderr)
        return 2
    x, y = heldout(cfg)
    scores = tflm_scores(MODEL, x)
    figures = summarize(cfg["classes"], y, scores.argmax(axis=1))
    figures["evaluator"] = f"tflite-micro {metadata.version('tflite-micro')}"
    print(f"held-out int8 accuracy (tflite-micro): {figures['heldout_accuracy']:.4f} on {len(y)} windows; "
          f"recall {figures['per_class_recall']}")  # fmt: skip
    stress = {}
    for name in cfg.get("stress", {}):
        xs, ys = heldout(cfg, name)
        s = summarize(cfg["classes"], ys, tflm_scores(MODEL, xs).argmax(axis=1))
        stress[name] = {k: s[k] for k in ("heldout_accuracy", "per_class_recall", "confusion")}
        print(f"stress {name}: accuracy {s['heldout_accuracy']:.4f}")
    figures["stress"] = stress
    ok = True
    if args.firmware:
        fw = firmware_check(x, scores, min(args.firmware, len(x)))
        print(f"firmware (stm32f405, QEMU): {fw['windows']} windows, outputs bit-exact with tflite-micro: "
              f"{fw['bit_exact']}")  # fmt: skip
        ok &= fw["bit_exact"]
    metrics = json.loads(METRICS.read_text()) if METRICS.is_file() else {}
    if args.write:
        metrics["int8"] = figures
        metrics["boards"] = board_figures()
        METRICS.write_text(json.dumps(metrics, indent=2) + "\n")
        print(f"wrote {METRICS}")
        return 0 if ok else 1
    want = metrics.get("int8")
    if want is None:
        print(f"{METRICS}: no int8 figures (run with --write after training)", file=sys.stderr)
        return 2
    keys = ("heldout_accuracy", "heldout_windows", "per_class_recall", "confusion", "stress")
    diff = [k for k in keys if want.get(k) != figures[k]]
    for k in diff:
        print(f"NOT REPRODUCED {k}: metrics.json {want.get(k)} vs now {figures[k]}")
    ok &= not diff
    print("reproduced" if ok else "not reproduced")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
