"""Public microcontroller models, as a new user brings them (issue 16's done-when): every `.tflite` in the given
repositories is run through `cosim model check`, and every refusal is checked against TFLM itself.

    python bench/public_models.py --repo tensorflow/tflite-micro=/path/to/git-dir-or-checkout \
        --repo mlcommons/tiny=/path/to/tiny [--board stm32f405] [--vectors 3] [--out bench/results/public_models.json]

Nothing is fetched and no model is committed: each `--repo` is a git directory (bare or a checkout) of a public
repository, and every `*.tflite` at its HEAD is one row, named by repository, path, commit and the file's SHA-256, so
anyone can fetch the same bytes. `--exclude SUBSTR` leaves out paths (e.g. a directory of single-layer test models).
`--recheck VERDICT` (repeatable, e.g. `--recheck gap`) runs again only the rows of the existing `--out` file with that
verdict and replaces them there, and `--add-new` runs the models of the given repositories that the file has no row
for and appends them (the other rows keep their results; `rechecked` in the file says what was run, when and at
which commit).

Per model:
- `cosim model check MODEL --board B --vectors N --json` (a new process, as a user runs it): compile, build the
  model runner, run N seeded inputs in QEMU and compare byte for byte with tflite-micro. Exit 0 is bit-exact, 1 a
  mismatch, 2 a refusal (its one line is kept), 3 an engine or internal error. With CMSIS_NN_DIR set, again with
  `--kernels cmsis-nn`; a model bit-exact with the own kernels takes the CMSIS-NN run's verdict when that fails.
- a refused model is then given to tflite-micro (the pinned PyPI interpreter, host build, in its own process): does
  TFLM run it, and how large is its whole arena on the host (64-bit pointers: an upper bound of the 32-bit arena).
  The row's `verdict` says which refusals are the project's gaps and which are not: `not-int8` (float or hybrid:
  outside the int8 scope), `tflm-cannot` (TFLM refuses it too), `exceeds-board` (too large for the board's flash or
  RAM), `gap` (TFLM runs it within the board and the project refuses it).
Instruction counts are QEMU -icount retired instructions per inference (exact); times are wall time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
COSIM = Path(sys.executable).with_name("cosim")
LFS_MAGIC = b"version https://git-lfs"

# tflite-micro in a separate process: a model it cannot load may abort the interpreter, not this benchmark. The
# input count comes from the flatbuffer (tflite package): probing past the last input makes the runtime print errors.
TFLM_PROBE = r"""
import json, sys
import numpy as np
import tflite
from tflite_micro.python.tflite_micro import runtime
data = open(sys.argv[1], "rb").read()
try:
    n_in = tflite.Model.GetRootAsModel(data, 0).Subgraphs(0).InputsLength()
    interp = runtime.Interpreter.from_bytes(data, arena_size=4 * 1024 * 1024)
    rng = np.random.default_rng(0)
    for i in range(n_in):
        d = interp.get_input_details(i)
        dt = np.dtype(d["dtype"])
        x = rng.integers(-100, 100, size=d["shape"]) if dt.kind in "iu" else rng.standard_normal(d["shape"])
        interp.set_input(x.astype(dt), i)
    interp.invoke()
except Exception as e:
    print(json.dumps({"runs": False, "error": (str(e).splitlines() or [type(e).__name__])[0][:200]}))
    sys.exit(0)
print(json.dumps({"runs": True}))
"""


def _git(gitdir: Path, *args: str) -> bytes:
    return subprocess.run(["git", f"--git-dir={gitdir}", *args], capture_output=True, check=True).stdout


def _git_dir(path: Path) -> Path:
    return path / ".git" if (path / ".git").exists() else path


def list_models(repo: str, path: Path, exclude: list[str]) -> list[dict[str, Any]]:
    gitdir = _git_dir(path)
    commit = _git(gitdir, "rev-parse", "HEAD").decode().strip()
    names = _git(gitdir, "ls-tree", "-r", "--name-only", "HEAD").decode().splitlines()
    rows = []
    for name in names:
        if not name.endswith(".tflite") or any(x in name for x in exclude):
            continue
        data = _git(gitdir, "show", f"HEAD:{name}")
        rows.append({"repo": repo, "path": name, "commit": commit, "bytes": data, "size": len(data),
                     "sha256": hashlib.sha256(data).hexdigest()})  # fmt: skip
    return rows


def cosim_check(model: Path, board: str, vectors: int, kernels: str, timeout: float) -> dict[str, Any]:
    argv = [str(COSIM), "model", "check", str(model), "--board", board, "--vectors", str(vectors),
            "--kernels", kernels, "--json"]  # fmt: skip
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"exit": None, "error": f"no result within {timeout:.0f} s wall time", "wall_s": timeout}
    out: dict[str, Any] = {"exit": p.returncode, "wall_s": round(time.monotonic() - t0, 2)}
    if p.returncode in (0, 1):
        try:
            report = json.loads(p.stdout)
        except json.JSONDecodeError:
            out["error"] = (p.stderr.strip().splitlines() or ["(no output)"])[-1]
            return out
        ipi = report.get("instructions_per_inference") or [None, None]
        out.update(bit_exact=report.get("bit_exact"), golden=report.get("golden"),
                   instructions_per_inference=ipi, arena_bytes=report.get("arena_bytes"),
                   tflm_arena_whole_32bit_bytes=report.get("tflm_arena_whole_32bit_bytes"),
                   flash_bytes_model=report.get("flash_bytes_model"), macs=report.get("macs"),
                   first_mismatch=report.get("first_mismatch"), run_status=report.get("run_status"))  # fmt: skip
    else:
        out["error"] = (p.stderr.strip().splitlines() or ["(no output)"])[-1]
    return out


def tflm_probe(model: Path, timeout: float) -> dict[str, Any]:
    """Does the pinned tflite-micro run the model on the host (random inputs), and its whole arena there."""
    try:
        p = subprocess.run([sys.executable, "-c", TFLM_PROBE, str(model)], capture_output=True, text=True,
                           timeout=timeout)  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"runs": None, "error": f"no result within {timeout:.0f} s"}
    lines = p.stdout.strip().splitlines()
    if p.returncode != 0 or not lines:
        return {"runs": False, "error": f"the interpreter process ended with {p.returncode}: "
                                         f"{(p.stderr.strip().splitlines() or [''])[-1][:200]}"}  # fmt: skip
    out: dict[str, Any] = json.loads(lines[-1])
    if out["runs"]:
        try:
            a = subprocess.run([sys.executable, "-c", ARENA_PROBE, str(model)], capture_output=True, text=True,
                               timeout=timeout)  # fmt: skip
            out["arena_host64_bytes"] = json.loads(a.stdout.strip().splitlines()[-1])["total"]
        except (subprocess.TimeoutExpired, IndexError, json.JSONDecodeError, KeyError):
            out["arena_host64_bytes"] = None
    return out


ARENA_PROBE = r"""
import json, sys
from tinyml_cosim.nn.golden import tflm_arena
a = tflm_arena(open(sys.argv[1], "rb").read())
print(json.dumps({"total": a.total, "head": a.head, "tail": a.tail}))
"""

NOT_INT8 = ("float model", "hybrid (dynamic-range)")
TOO_LARGE = ("does not fit board", "bytes of flash for its constants")
STACK_ALLOWANCE = 8192  # the model runner's stack (compiler.DEFAULT_STACK_BYTES); a TFLM app needs one too


def verdict(ref: dict[str, Any], probe: dict[str, Any] | None, size: int, board_flash: int, board_ram: int) -> str:
    if ref.get("exit") == 0:
        return "bit-exact"
    if ref.get("exit") == 1 and ref.get("bit_exact") is False:
        return "mismatch"
    err = str(ref.get("error", ""))
    if ref.get("exit") != 2:
        return "error"
    if err.find("Git LFS pointer") >= 0:
        return "lfs-pointer"
    if any(s in err for s in NOT_INT8):
        return "not-int8"
    if probe is not None and probe.get("runs") is False:
        return "tflm-cannot"
    # TFLM's own need: its whole arena (host figure, an upper bound of the 32-bit one) and a stack beside it. A
    # model TFLM fits is the project's gap even when the refusal is about RAM (e.g. the harness's own buffers).
    arena = (probe or {}).get("arena_host64_bytes")
    tflm_fits = size <= board_flash and arena is not None and arena + STACK_ALLOWANCE <= board_ram
    if (any(s in err for s in TOO_LARGE) or size > board_flash) and not tflm_fits:
        return "exceeds-board"
    return "gap"


def run(models: list[dict[str, Any]], args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    from tinyml_cosim.core.boards import load_board

    board = load_board(args.board)
    flash, ram = board.memory.flash.size, board.memory.ram.size
    kernel_sets = ["ref", *(["cmsis-nn"] if os.environ.get("CMSIS_NN_DIR") else [])]
    rows = []
    for m in models:
        f = work / m["sha256"][:12] / Path(m["path"]).name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(m["bytes"])
        row = {k: v for k, v in m.items() if k != "bytes"}
        row["lfs_pointer"] = m["bytes"].startswith(LFS_MAGIC)
        for k in kernel_sets:
            row[k] = cosim_check(f, args.board, args.vectors, k, args.timeout)
            if row[k].get("exit") == 2:
                break  # a refusal is the model's, not the kernel set's
        probe = None
        if row["ref"].get("exit") == 2 and not row["lfs_pointer"]:
            probe = tflm_probe(f, args.timeout)
            row["tflm"] = probe
        row["verdict"] = verdict(row["ref"], probe, m["size"], flash, ram)
        cmsis = row.get("cmsis-nn")
        if row["verdict"] == "bit-exact" and cmsis is not None and cmsis.get("exit") != 0:
            row["verdict"] = verdict(cmsis, None, m["size"], flash, ram)  # the CMSIS-NN build's failure is a row's
        rows.append(row)
        print(json.dumps({"path": row["path"], "verdict": row["verdict"],
                          "detail": row["ref"].get("error") or row["ref"].get("instructions_per_inference")}),
              flush=True)  # fmt: skip
    return rows


def summary(rows: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows:
        out[r["verdict"]] = out.get(r["verdict"], 0) + 1
    return dict(sorted(out.items()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", action="append", required=True, metavar="OWNER/NAME=GITDIR")
    ap.add_argument("--exclude", action="append", default=[], metavar="SUBSTR")
    ap.add_argument("--board", default="stm32f405")
    ap.add_argument("--vectors", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=900.0, help="wall seconds per model and step")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "public_models.json")
    ap.add_argument("--recheck", action="append", default=[], metavar="VERDICT",
                    help="run again only the rows of --out with this verdict (gap, mismatch, error, ...)")  # fmt: skip
    ap.add_argument("--add-new", action="store_true", help="run and append the models --out has no row for")
    args = ap.parse_args()
    models = []
    for spec in args.repo:
        name, _, path = spec.partition("=")
        if not path or not Path(path).exists():
            print(f"error: --repo {spec!r}: expected OWNER/NAME=PATH of a git directory or checkout", file=sys.stderr)
            return 2
        models += list_models(name, Path(path), args.exclude)
    if args.recheck or args.add_new:
        return recheck(models, args)
    with tempfile.TemporaryDirectory() as tmp:
        rows = run(models, args, Path(tmp))
    result = {
        "benchmark": "bench/public_models.py",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "board": args.board,
        "vectors": args.vectors,
        "cmsis_nn_dir": os.environ.get("CMSIS_NN_DIR"),
        "summary": summary(rows),
        "rows": rows,
    }
    return write(args.out, result)


def write(out: Path, result: dict[str, Any]) -> int:
    """The result file, written whole or not at all; exit 1 while any row is a mismatch, an error or a gap."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_suffix(".json.tmp")
    tmp_out.write_text(json.dumps(result, indent=2) + "\n")
    tmp_out.replace(out)
    print(json.dumps(result["summary"]))
    return 0 if not any(r["verdict"] in ("mismatch", "error", "gap") for r in result["rows"]) else 1


def recheck(models: list[dict[str, Any]], args: argparse.Namespace) -> int:
    """Run again the rows of `args.out` whose verdict is in `args.recheck` (matched by repository, path and SHA-256
    in the given repositories) and put the new rows in their place; with `args.add_new`, append rows for the given
    models the file does not have."""
    if not args.out.is_file():
        print(f"error: --recheck / --add-new: {args.out} does not exist: run without them first", file=sys.stderr)
        return 2
    result = json.loads(args.out.read_text())
    by_key = {(m["repo"], m["path"], m["sha256"]): m for m in models}
    todo = [i for i, r in enumerate(result["rows"]) if r["verdict"] in args.recheck]
    keys = [(r["repo"], r["path"], r["sha256"]) for r in (result["rows"][i] for i in todo)]
    missing = [path for repo, path, sha in keys if (repo, path, sha) not in by_key]
    if missing:
        print(f"error: --recheck: {len(missing)} rows are not in the given --repo checkouts (first: {missing[0]})",
              file=sys.stderr)  # fmt: skip
        return 2
    known = {(r["repo"], r["path"], r["sha256"]) for r in result["rows"]}
    new = [k for k in by_key if k not in known] if args.add_new else []
    with tempfile.TemporaryDirectory() as tmp:
        rows = run([by_key[k] for k in keys + new], args, Path(tmp))
    result["rows"].extend(rows[len(keys) :])
    rows = rows[: len(keys)]
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    was = {i: result["rows"][i]["verdict"] for i in todo}
    for i, row in zip(todo, rows, strict=True):
        row["rechecked_from"] = was[i]
        result["rows"][i] = row
    result.setdefault("rechecked", []).append({
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "verdicts": args.recheck, "rows": len(todo),
        "added": len(new), "repos": sorted({k[0] for k in new}),
        "code": f"main at {commit.stdout.strip() or '?'} plus the working tree", "vectors": args.vectors})  # fmt: skip
    result["summary"] = summary(result["rows"])
    return write(args.out, result)


if __name__ == "__main__":
    sys.exit(main())
