"""Calibrate the instructions-to-cycles factor of a board against published silicon latencies (docs/verdicts.md,
"Silicon calibration").

    .venv/bin/python bench/calibrate_silicon.py            # -> bench/results/calibration.json, prints the board block

Inputs: bench/results/models_qemu.json (emulated instructions per inference of the MLPerf Tiny models, per board and
kernel set) and bench/data/mlperf_silicon.yaml (published latencies on a NUCLEO-L4R5ZI, Cortex-M4F at 120 MHz).

For each kernel set the factor of one model is silicon cycles (latency x 120 MHz) / emulated instructions (median
per inference) of the same model, built with the closest kernels: the TFLM-reference row against our own kernels
(`ref`), the microTVM + CMSIS-NN row against the CMSIS-NN build (`cmsis-nn`). The fitted factor is the geometric
mean over the models. The band is a 95 % prediction interval for a *new* model, in log space:

    ln f_new  in  mean(ln f_i) +- t(0.975, df) * s * sqrt(1 + 1/n)

with s the standard deviation of ln f_i around each kernel set's mean, pooled over the kernel sets (df = K (n - 1)),
because with three models per set one set alone has too few degrees of freedom to say anything. It is validated
leave-one-out: the same rule, fitted on two models (both kernel sets without the held-out model), must cover the
third model's factor. The narrower min-max envelope of the calibration models is evaluated too and reported, so
the file shows why it is not used.

Instruction counts are never cycles: the factor only estimates silicon latency of inference spans; it never
changes the simulated time base (t = instructions / f_clk).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
MODELS_QEMU = ROOT / "bench" / "results" / "models_qemu.json"
SILICON = ROOT / "bench" / "data" / "mlperf_silicon.yaml"
OUT = ROOT / "bench" / "results" / "calibration.json"
BOARD = "stm32f405"  # the Cortex-M4F board: the silicon rows are a Cortex-M4F
DIGITS = 4  # factors and bands are stored with 4 decimals (band ends rounded outwards)
LEVEL = 0.95


def _t(df: int, level: float = LEVEL) -> float:
    from scipy.stats import t

    return float(t.ppf(0.5 + level / 2, df))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def per_model_factors(models_qemu: dict, silicon: dict, board: str = BOARD) -> dict[str, dict[str, dict]]:
    """kernel set -> model -> {silicon_ms, silicon_cycles, instructions, cycles_per_instruction}."""
    runs = {(r["model"], r["board"], r["kernels"]): r for r in models_qemu["runs"]}
    out: dict[str, dict[str, dict]] = {}
    for runtime, info in silicon["runtimes"].items():
        kernels = info.get("kernels")
        if kernels is None:
            continue
        per: dict[str, dict] = {}
        for model, row in silicon["latency_ms"].items():
            run = runs.get((model, board, kernels))
            if run is None:
                raise SystemExit(f"{MODELS_QEMU}: no run of {model} on {board} with {kernels} kernels")
            if not run.get("bit_exact", False):
                raise SystemExit(f"{MODELS_QEMU}: {model}/{board}/{kernels} was not bit-exact: not calibrating on it")
            ms = float(row[runtime])
            cycles = ms / 1000 * silicon["clock_hz"]
            instr = float(run["instructions_per_inference"]["median"])
            per[model] = {
                "task": row.get("task", model),
                "silicon_runtime": info["label"],
                "silicon_ms": ms,
                "silicon_cycles": round(cycles),
                "instructions_median": int(instr),
                "cycles_per_instruction": cycles / instr,
            }
        out[kernels] = {"runtime": info["label"], "models": per}
    return out


def fit(factors: dict[str, list[float]]) -> dict[str, dict]:
    """Per kernel set: geometric-mean factor and the pooled log-space 95 % prediction band (see the module doc)."""
    logs = {k: [math.log(f) for f in v] for k, v in factors.items()}
    n = min(len(v) for v in logs.values())
    if n < 2 or any(len(v) != n for v in logs.values()):
        raise ValueError("every kernel set needs the same number (>= 2) of models")
    means = {k: sum(v) / n for k, v in logs.items()}
    ss = sum((x - means[k]) ** 2 for k, v in logs.items() for x in v)
    df = len(logs) * (n - 1)
    s = math.sqrt(ss / df)
    t = _t(df)
    half = t * s * math.sqrt(1 + 1 / n)
    return {
        k: {
            "cycles_per_instruction": math.exp(m),
            "band": (math.exp(m - half), math.exp(m + half)),
            "log_sd_pooled": s,
            "df": df,
            "t95": t,
            "half_width_log": half,
            "band_ratio": math.exp(half),
        }
        for k, m in means.items()
    }


def _down(x: float) -> float:
    return math.floor(x * 10**DIGITS) / 10**DIGITS


def _up(x: float) -> float:
    return math.ceil(x * 10**DIGITS) / 10**DIGITS


def calibrate(models_qemu: dict, silicon: dict, board: str = BOARD) -> dict:
    sets = per_model_factors(models_qemu, silicon, board)
    models = list(silicon["latency_ms"])
    full = fit({k: [v["models"][m]["cycles_per_instruction"] for m in models] for k, v in sets.items()})
    loo: dict[str, list[dict]] = {k: [] for k in sets}
    envelope: dict[str, list[dict]] = {k: [] for k in sets}
    for held in models:
        rest = [m for m in models if m != held]
        fold = fit({k: [v["models"][m]["cycles_per_instruction"] for m in rest] for k, v in sets.items()})
        for k, v in sets.items():
            actual = v["models"][held]["cycles_per_instruction"]
            lo, hi = fold[k]["band"]
            f = fold[k]["cycles_per_instruction"]
            loo[k].append(
                {
                    "held_out": held,
                    "calibrated_on": rest,
                    "cycles_per_instruction": round(f, 6),
                    "band": [round(lo, 6), round(hi, 6)],
                    "actual": round(actual, 6),
                    "predicted_ms": round(v["models"][held]["instructions_median"] * f / silicon["clock_hz"] * 1e3, 3),
                    "predicted_ms_band": [
                        round(v["models"][held]["instructions_median"] * x / silicon["clock_hz"] * 1e3, 3)
                        for x in (lo, hi)
                    ],
                    "silicon_ms": v["models"][held]["silicon_ms"],
                    "error_pct": round((f / actual - 1) * 100, 2),
                    "covered": lo <= actual <= hi,
                    "margin_pct": round(min(actual / lo - 1, hi / actual - 1) * 100, 2),
                }
            )
            cal = [v["models"][m]["cycles_per_instruction"] for m in rest]
            envelope[k].append(
                {
                    "held_out": held,
                    "band": [round(min(cal), 6), round(max(cal), 6)],
                    "actual": round(actual, 6),
                    "covered": min(cal) <= actual <= max(cal),
                }
            )
    covered = sum(x["covered"] for v in loo.values() for x in v)
    total = sum(len(v) for v in loo.values())
    env_cov = sum(x["covered"] for v in envelope.values() for x in v)
    kernel_sets = {}
    for k, v in sets.items():
        fk = full[k]
        kernel_sets[k] = {
            "silicon_runtime": v["runtime"],
            "cycles_per_instruction": round(fk["cycles_per_instruction"], DIGITS),
            "band": [_down(fk["band"][0]), _up(fk["band"][1])],
            "band_ratio": round(fk["band_ratio"], 4),
            "per_model": {
                m: {**d, "cycles_per_instruction": round(d["cycles_per_instruction"], 6)}
                for m, d in v["models"].items()
            },
            "leave_one_out": loo[k],
        }
    first = next(iter(full.values()))
    return {
        "what": "instructions-to-cycles factor: silicon cycles per emulated instruction of inference spans "
        "(estimates silicon latency only; never changes simulated time)",
        "board": board,
        "core": silicon["core"],
        "silicon": {
            "board": silicon["board"],
            "mcu": silicon["mcu"],
            "core": silicon["core"],
            "clock_hz": silicon["clock_hz"],
            "source": " ".join(str(silicon["source"]).split()),
        },
        "inputs": {
            "models_qemu": {"path": str(MODELS_QEMU.relative_to(ROOT)), "sha256": _sha256(MODELS_QEMU)},
            "silicon": {"path": str(SILICON.relative_to(ROOT)), "sha256": _sha256(SILICON)},
            "instructions": "median instructions per inference (models_qemu.json runs[].instructions_per_inference)",
        },
        "method": {
            "factor": "per model: latency_ms / 1000 x 120 MHz / median emulated instructions; fitted: geometric mean",
            "band": "95 % prediction interval for a new model in log space: mean(ln f) +- t(0.975, df) x s x "
            "sqrt(1 + 1/n), s pooled over the kernel sets around each set's mean, df = K (n - 1); ends rounded "
            "outwards to 4 decimals",
            "validation": "leave-one-out: the same rule fitted on two models (both kernel sets) must cover the third",
            "models": models,
            "n": len(models),
            "df": first["df"],
            "t95": round(first["t95"], 4),
            "log_sd_pooled": round(first["log_sd_pooled"], 5),
            "half_width_log": round(first["half_width_log"], 5),
        },
        "kernel_sets": kernel_sets,
        "leave_one_out_coverage": {"covered": covered, "total": total, "holds": covered == total},
        "rejected_band_min_max_envelope": {
            "rule": "band = [min, max] of the calibration models' factors",
            "covered": env_cov,
            "total": total,
            "leave_one_out": envelope,
        },
    }


def board_block(cal: dict, date: str) -> dict:
    """The `silicon:` block of the board file, from a calibration."""
    out = {
        "core": cal["core"],
        "kernels": {},
    }
    for k, v in cal["kernel_sets"].items():
        loo = v["leave_one_out"]
        out["kernels"][k] = {
            "cycles_per_instruction": v["cycles_per_instruction"],
            "band": {"low": v["band"][0], "high": v["band"][1]},
            "source": f"{v['silicon_runtime']} on {cal['silicon']['board']} ({cal['silicon']['core']}, "
            f"{cal['silicon']['clock_hz'] // 1_000_000} MHz), MLPerf Tiny closed division; "
            f"bench/calibrate_silicon.py -> bench/results/calibration.json",
            "calibrated_on": list(v["per_model"]),
            "leave_one_out": f"{sum(x['covered'] for x in loo)}/{len(loo)} covered",
            "date": date,
        }
    return out


def load_inputs() -> tuple[dict, dict]:
    return json.loads(MODELS_QEMU.read_text()), yaml.safe_load(SILICON.read_text())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--date", default=None, help="calibration date for the board block (default: today, UTC)")
    args = ap.parse_args(argv)
    cal = calibrate(*load_inputs())
    args.out.write_text(json.dumps(cal, indent=2) + "\n")
    import datetime

    date = args.date or datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    for k, v in cal["kernel_sets"].items():
        print(f"{k:9} factor {v['cycles_per_instruction']:.4f}  band {v['band'][0]:.4f} .. {v['band'][1]:.4f}")
        for x in v["leave_one_out"]:
            print(
                f"  leave out {x['held_out']:24} fitted {x['cycles_per_instruction']:.4f} band "
                f"{x['band'][0]:.4f} .. {x['band'][1]:.4f} actual {x['actual']:.4f} "
                f"{'covered' if x['covered'] else 'NOT COVERED'} (margin {x['margin_pct']} %)"
            )
    c = cal["leave_one_out_coverage"]
    print(f"leave-one-out coverage {c['covered']}/{c['total']}; min-max envelope would cover "
          f"{cal['rejected_band_min_max_envelope']['covered']}/{c['total']}")  # fmt: skip
    print(f"wrote {args.out}\n\n# board file block (platforms/{cal['board']}.yaml):")
    print(yaml.safe_dump({"silicon": board_block(cal, date)}, sort_keys=False, width=120), end="")
    return 0 if c["holds"] else 1


if __name__ == "__main__":
    sys.exit(main())
