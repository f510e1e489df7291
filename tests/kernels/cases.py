"""Seeded one-operator models for the kernel tests: random shapes, strides, paddings, dilations, depth multipliers,
per-channel scales, zero points at the rails, and multipliers from tiny to >= 1."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from tflite_writer import Op, T, build_model

ACTS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")


@dataclass
class Case:
    name: str
    model: bytes
    inputs: list[np.ndarray]


def f32(x: float) -> float:
    return float(np.float32(x))


def _zp(rng: np.random.Generator) -> int:
    r = rng.random()
    if r < 0.2:
        return -128
    if r < 0.35:
        return 127
    if r < 0.45:
        return 0
    return int(rng.integers(-128, 128))


def _i8(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(-128, 128, size=shape).astype(np.int8)


def _effective(rng: np.random.Generator, typical: float) -> float:
    """An effective output scale: mostly typical, sometimes tiny (multiplier flushes to 0 or is minute) or >= 1."""
    r = rng.random()
    if r < 0.08:
        return float(10 ** rng.uniform(-12, -9))
    if r < 0.16:
        return float(rng.uniform(1.0, 40.0))
    return typical * float(10 ** rng.uniform(-0.7, 0.7))


def conv_case(rng: np.random.Generator, depthwise: bool = False) -> Case:
    ic = int(rng.choice([1, 2, 3, 4, 5, 7, 8, 13, 16]))
    dm = int(rng.choice([1, 1, 1, 2, 3])) if depthwise else 1
    oc = ic * dm if depthwise else int(rng.choice([1, 2, 3, 5, 8, 11, 16]))
    kh, kw = int(rng.choice([1, 1, 2, 3, 5])), int(rng.choice([1, 2, 3, 4]))
    sh, sw = int(rng.choice([1, 1, 2, 3])), int(rng.choice([1, 1, 2]))
    dh, dw = (int(rng.choice([1, 1, 2])), int(rng.choice([1, 1, 2]))) if sh == 1 and sw == 1 else (1, 1)
    padding = str(rng.choice(["SAME", "VALID"]))
    ih = int(rng.integers((kh - 1) * dh + 1, 13))
    iw = int(rng.integers((kw - 1) * dw + 1, 13))

    def out_size(n: int, k: int, s: int, d: int) -> int:
        eff = (k - 1) * d + 1
        return (n + s - 1) // s if padding == "SAME" else (n + s - eff) // s

    oh, ow = out_size(ih, kh, sh, dh), out_size(iw, kw, sw, dw)
    in_s, in_zp = float(rng.uniform(0.005, 0.2)), _zp(rng)
    fshape = (1, kh, kw, oc) if depthwise else (oc, kh, kw, ic)
    filt = rng.integers(-127, 128, size=fshape).astype(np.int8)
    per_channel = rng.random() < 0.85
    fs = [f32(v) for v in rng.uniform(0.001, 0.03, oc)] if per_channel else [f32(rng.uniform(0.001, 0.03))] * oc
    k_elems = kh * kw * (1 if depthwise else ic)
    typical = 40.0 / (math.sqrt(k_elems) * 5400.0)
    eff = _effective(rng, typical)
    out_s = f32(in_s * float(np.mean(fs)) / eff)
    out_zp = _zp(rng)
    bias = rng.normal(0, math.sqrt(k_elems) * 3000, oc).astype(np.int32) if rng.random() < 0.9 else None
    qd = 3 if depthwise else 0
    tensors = [
        T("input", (1, ih, iw, ic), "int8", [f32(in_s)], [in_zp]),
        T("filter", fshape, "int8", fs if per_channel else fs[:1], [0] * (oc if per_channel else 1), qd, filt),
        T("output", (1, oh, ow, oc), "int8", [out_s], [out_zp]),
    ]
    ins = [0, 1]
    if bias is not None:
        tensors.append(T("bias", (oc,), "int32", [f32(in_s * s) for s in fs], [0] * oc, 0, bias))
        ins.append(3)
    opts = dict(
        padding=padding, stride_h=sh, stride_w=sw, dilation_h=dh, dilation_w=dw, activation=str(rng.choice(ACTS))
    )
    if depthwise:
        opts["depth_multiplier"] = dm
    name = "DEPTHWISE_CONV_2D" if depthwise else "CONV_2D"
    model = build_model(tensors, [Op(name, ins, [2], opts)], [0], [2])
    desc = f"{name} in{ih}x{iw}x{ic} k{kh}x{kw} s{sh}{sw} d{dh}{dw} {padding} oc{oc} dm{dm} eff{eff:.2g}"
    return Case(desc, model, [_i8(rng, (1, ih, iw, ic))])


def fc_case(rng: np.random.Generator) -> Case:
    k = int(rng.choice([1, 3, 7, 16, 33, 64, 100, 250]))
    n = int(rng.choice([1, 2, 5, 10, 16, 31]))
    in_s, in_zp = float(rng.uniform(0.005, 0.2)), _zp(rng)
    per_channel = rng.random() < 0.3
    fs = [f32(v) for v in rng.uniform(0.001, 0.03, n)] if per_channel else [f32(rng.uniform(0.001, 0.03))]
    eff = _effective(rng, 40.0 / (math.sqrt(k) * 5400.0))
    out_s = f32(in_s * float(np.mean(fs)) / eff)
    filt = rng.integers(-127, 128, size=(n, k)).astype(np.int8)
    in_shape = (1, k) if rng.random() < 0.7 else (1, 1, 1, k)
    tensors = [
        T("input", in_shape, "int8", [f32(in_s)], [in_zp]),
        T("weights", (n, k), "int8", fs, [0] * len(fs), 0, filt),
        T("output", (1, n), "int8", [out_s], [_zp(rng)]),
    ]
    ins = [0, 1]
    if rng.random() < 0.8:
        bias = rng.normal(0, math.sqrt(k) * 3000, n).astype(np.int32)
        bscales = [f32(in_s * s) for s in fs] if per_channel else [f32(f32(in_s) * fs[0])]
        tensors.append(T("bias", (n,), "int32", bscales, [0] * len(bscales), 0, bias))
        ins.append(3)
    else:
        ins.append(-1)
    model = build_model(tensors, [Op("FULLY_CONNECTED", ins, [2], {"activation": str(rng.choice(ACTS))})], [0], [2])
    return Case(f"FC k{k} n{n} pc{int(per_channel)} bias{int(ins[2] >= 0)} eff{eff:.2g}", model, [_i8(rng, in_shape)])


def pool_case(rng: np.random.Generator, is_max: bool) -> Case:
    c = int(rng.choice([1, 3, 4, 6, 17]))
    kh, kw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    padding = str(rng.choice(["SAME", "VALID"]))
    ih, iw = int(rng.integers(kh, 12)), int(rng.integers(kw, 12))
    oh = (ih + sh - 1) // sh if padding == "SAME" else (ih - kh + sh) // sh
    ow = (iw + sw - 1) // sw if padding == "SAME" else (iw - kw + sw) // sw
    s, zp = f32(rng.uniform(0.01, 0.5)), _zp(rng)
    tensors = [T("input", (1, ih, iw, c), "int8", [s], [zp]), T("output", (1, oh, ow, c), "int8", [s], [zp])]
    name = "MAX_POOL_2D" if is_max else "AVERAGE_POOL_2D"
    opts = dict(padding=padding, stride_h=sh, stride_w=sw, filter_h=kh, filter_w=kw, activation=str(rng.choice(ACTS)))
    model = build_model(tensors, [Op(name, [0], [1], opts)], [0], [1])
    return Case(f"{name} {ih}x{iw}x{c} k{kh}{kw} s{sh}{sw} {padding}", model, [_i8(rng, (1, ih, iw, c))])


def _bshape(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[int, ...]:
    if rng.random() < 0.6:
        return shape
    return tuple(d if rng.random() < 0.5 else 1 for d in shape)


def eltwise_case(rng: np.random.Generator, op: str) -> Case:
    shape = (1, int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.integers(1, 9)))
    sa, sb = _bshape(rng, shape), _bshape(rng, shape)
    shape = tuple(max(a, b) for a, b in zip(sa, sb, strict=True))
    s1, s2 = f32(rng.uniform(0.005, 0.5)), f32(rng.uniform(0.005, 0.5))
    if op == "ADD":
        so = f32(max(s1, s2) * float(10 ** rng.uniform(-0.5, 1)))
    else:
        so = f32(s1 * s2 * float(10 ** rng.uniform(0.5, 3)))
    tensors = [
        T("a", sa, "int8", [s1], [_zp(rng)]),
        T("b", sb, "int8", [s2], [_zp(rng)]),
        T("out", shape, "int8", [so], [_zp(rng)]),
    ]
    model = build_model(tensors, [Op(op, [0, 1], [2], {"activation": str(rng.choice(ACTS))})], [0, 1], [2])
    return Case(f"{op} {sa}+{sb}", model, [_i8(rng, sa), _i8(rng, sb)])


def softmax_case(rng: np.random.Generator, spread: str = "random") -> Case:
    depth = int(rng.choice([1, 2, 5, 10, 12, 33, 100]))
    outer = int(rng.choice([1, 1, 3]))
    s = f32(10 ** rng.uniform(-2.5, 0.5))
    if spread == "large":
        s = f32(rng.uniform(1.0, 8.0))
    zp = _zp(rng)
    beta = float(rng.choice([1.0, 1.0, 0.5, 2.0]))
    tensors = [T("x", (outer, depth), "int8", [s], [zp]), T("y", (outer, depth), "int8", [1 / 256], [-128])]
    model = build_model(tensors, [Op("SOFTMAX", [0], [1], {"beta": beta})], [0], [1])
    x = _i8(rng, (outer, depth))
    if spread == "equal":
        x[:] = np.int8(rng.integers(-128, 128))
    return Case(f"SOFTMAX {outer}x{depth} s{s:.3g} beta{beta} {spread}", model, [x])


def sigmoid_case(rng: np.random.Generator, op: str) -> Case:
    n = int(rng.integers(1, 300))
    s = f32(10 ** rng.uniform(-3, -0.3))
    out = T("y", (1, n), "int8", [1 / 256], [-128]) if op == "LOGISTIC" else T("y", (1, n), "int8", [1 / 128], [0])
    tensors = [T("x", (1, n), "int8", [s], [_zp(rng)]), out]
    model = build_model(tensors, [Op(op, [0], [1])], [0], [1])
    x = _i8(rng, (1, n))
    return Case(f"{op} n{n} s{s:.3g}", model, [x])


def concat_case(rng: np.random.Generator) -> Case:
    k = int(rng.integers(2, 4))
    base = [1, int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 6))]
    axis = int(rng.integers(1, 4))
    shapes = []
    for _ in range(k):
        s = list(base)
        s[axis] = int(rng.integers(1, 5))
        shapes.append(tuple(s))
    out = list(base)
    out[axis] = sum(s[axis] for s in shapes)
    sc, zp = f32(rng.uniform(0.01, 0.3)), _zp(rng)
    tensors = [T(f"x{i}", s, "int8", [sc], [zp]) for i, s in enumerate(shapes)]
    tensors.append(T("y", tuple(out), "int8", [sc], [zp]))
    neg = axis - 4 if rng.random() < 0.3 else axis
    model = build_model(tensors, [Op("CONCATENATION", list(range(k)), [k], {"axis": neg})], list(range(k)), [k])
    return Case(f"CONCAT axis{neg} {shapes}", model, [_i8(rng, s) for s in shapes])


def pad_case(rng: np.random.Generator) -> Case:
    shape = (1, int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.integers(1, 5)))
    pads = np.zeros((4, 2), np.int32)
    pads[1:] = rng.integers(0, 3, size=(3, 2))
    out = tuple(int(d + pads[i].sum()) for i, d in enumerate(shape))
    sc, zp = f32(rng.uniform(0.01, 0.3)), _zp(rng)
    tensors = [
        T("x", shape, "int8", [sc], [zp]),
        T("paddings", (4, 2), "int32", data=pads),
        T("y", out, "int8", [sc], [zp]),
    ]
    model = build_model(tensors, [Op("PAD", [0, 1], [2])], [0], [2])
    return Case(f"PAD {shape} {pads.tolist()}", model, [_i8(rng, shape)])


def mean_case(rng: np.random.Generator) -> Case:
    shape = (1, int(rng.integers(1, 9)), int(rng.integers(1, 9)), int(rng.integers(1, 9)))
    s_in, s_out = f32(rng.uniform(0.01, 0.3)), f32(rng.uniform(0.005, 0.3))
    axes = np.array([1, 2] if rng.random() < 0.5 else [2, 1], np.int32)
    tensors = [
        T("x", shape, "int8", [s_in], [_zp(rng)]),
        T("axis", (2,), "int32", data=axes),
        T("y", (1, 1, 1, shape[3]), "int8", [s_out], [_zp(rng)]),
    ]
    model = build_model(tensors, [Op("MEAN", [0, 1], [2], {"keep_dims": True})], [0], [2])
    return Case(f"MEAN {shape}", model, [_i8(rng, shape)])


def quantize_case(rng: np.random.Generator) -> Case:
    n = int(rng.integers(1, 200))
    s, zp = f32(10 ** rng.uniform(-3, 0)), _zp(rng)
    tensors = [T("x", (1, n), "float32"), T("q", (1, n), "int8", [s], [zp]), T("y", (1, n), "float32")]
    ops = [Op("QUANTIZE", [0], [1]), Op("DEQUANTIZE", [1], [2])]
    model = build_model(tensors, ops, [0], [2])
    x = (rng.normal(0, 1, (1, n)) * s * 100).astype(np.float32)
    # exact ties of x / scale exercise round-half-away-from-zero
    x[0, : n // 4] = ((rng.integers(-300, 300, n // 4) + 0.5) * s).astype(np.float32)
    return Case(f"QUANTIZE+DEQUANTIZE n{n} s{s:.3g} zp{zp}", model, [x])


GENERATORS = {
    "conv2d": (110, lambda r: conv_case(r, False)),
    "dwconv2d": (90, lambda r: conv_case(r, True)),
    "fc": (70, fc_case),
    "avgpool": (30, lambda r: pool_case(r, False)),
    "maxpool": (25, lambda r: pool_case(r, True)),
    "add": (45, lambda r: eltwise_case(r, "ADD")),
    "mul": (30, lambda r: eltwise_case(r, "MUL")),
    "softmax": (30, softmax_case),
    "softmax_large": (10, lambda r: softmax_case(r, "large")),
    "softmax_equal": (8, lambda r: softmax_case(r, "equal")),
    "logistic": (25, lambda r: sigmoid_case(r, "LOGISTIC")),
    "tanh": (25, lambda r: sigmoid_case(r, "TANH")),
    "concat": (15, concat_case),
    "pad": (15, pad_case),
    "mean": (15, mean_case),
    "quantize": (12, quantize_case),
}


def make_case(kind: str, seed: int) -> Case:
    return GENERATORS[kind][1](np.random.default_rng([hash_kind(kind), seed]))


def hash_kind(kind: str) -> int:
    return sum(ord(c) * 131**i for i, c in enumerate(kind)) % (2**31)


def all_case_ids() -> list[tuple[str, int]]:
    return [(k, s) for k, (n, _) in GENERATORS.items() for s in range(n)]


# ---------------------------------------------------------------------------------------------------------------------
# Constructed corner cases


def _fc_model(
    k: int,
    n: int,
    w: np.ndarray,
    bias: np.ndarray | None,
    in_s: float,
    in_zp: int,
    f_s: float,
    out_s: float,
    out_zp: int,
    act: str = "NONE",
) -> bytes:
    tensors = [
        T("input", (1, k), "int8", [f32(in_s)], [in_zp]),
        T("weights", (n, k), "int8", [f32(f_s)], [0], 0, w.astype(np.int8)),
        T("output", (1, n), "int8", [f32(out_s)], [out_zp]),
    ]
    ins = [0, 1, -1]
    if bias is not None:
        tensors.append(T("bias", (n,), "int32", [f32(f32(in_s) * f32(f_s))], [0], 0, bias.astype(np.int32)))
        ins[2] = 3
    return build_model(tensors, [Op("FULLY_CONNECTED", ins, [2], {"activation": act})], [0], [2])


def _all_int8() -> np.ndarray:
    return np.arange(-128, 128, dtype=np.int8).reshape(256, 1)


def corner_cases() -> list[tuple[str, bytes, list[np.ndarray]]]:
    """(name, model, list of input arrays: each one inference)."""
    out: list[tuple[str, bytes, list[np.ndarray]]] = []
    xs = [x.reshape(1, 1) for x in _all_int8()]
    # Every int8 input through y = x * 2^-k: each odd multiple of 2^(k-1) is an exact rounding tie after
    # requantization, positive and negative.
    for k in range(1, 8):
        out.append((f"ties 2^-{k}", _fc_model(1, 1, np.ones((1, 1)), None, 1.0, 0, 1.0, float(2**k), 0), xs))
    # Ties again with a zero-point offset and a bias, so the tie falls on shifted accumulators.
    out.append(("ties offset", _fc_model(1, 1, np.ones((1, 1)), np.array([3]), 1.0, 5, 1.0, 4.0, -3), xs))
    # Saturation at both rails, and effective scales >= 1 (left shifts, including ones that wrap in int32)
    for eff in (1.0, 1.5, 30.0, 2.0**10, 2.0**20):
        out.append((f"scale {eff:g}", _fc_model(1, 1, np.full((1, 1), 127), None, 1.0, -128, 1.0, 1 / eff, 0), xs))
    # Multipliers at the small extreme: 2^-31 and 2^-32 survive, 2^-33 flushes to zero, 1e-12 likewise
    for eff in (2.0**-31, 2.0**-32, 2.0**-33, 1e-12):
        w = np.full((1, 1), 127)
        b = np.array([2**31 - 1 - 127 * 255])
        out.append((f"tiny {eff:g}", _fc_model(1, 1, w, b, 1.0, 127, 1.0, 1 / eff, 0), xs))
    # int32 accumulator extremes: bias chosen so that acc reaches exactly INT32_MAX / INT32_MIN
    w = np.full((1, 1), 127)
    out.append(("acc max", _fc_model(1, 1, w, np.array([2**31 - 1 - 127 * 255]), 1.0, -128, 1.0, 2.0**24, 0), xs))
    out.append(("acc min", _fc_model(1, 1, w, np.array([-(2**31) + 127 * 255]), 1.0, 127, 1.0, 2.0**24, 0), xs))
    # Activations with the clamp landing inside the int8 range
    for act in ("RELU", "RELU6", "RELU_N1_TO_1"):
        out.append((f"act {act}", _fc_model(1, 1, np.ones((1, 1)), None, 0.05, 3, 1.0, 0.03, -7, act), xs))
    # Softmax: all-equal logits, extreme spreads, a single element
    rows = [np.full((1, 10), v, np.int8) for v in (-128, 0, 127)]
    rows += [np.array([[127] + [-128] * 9], np.int8), np.array([[-128] * 9 + [127]], np.int8)]
    rows += [np.array([[127, 126, -128, -127, 0, 1, 2, 3, 64, 65]], np.int8)]
    for s in (1e-3, 0.1, 1.0, 8.0, 100.0):
        m = build_model(
            [T("x", (1, 10), "int8", [f32(s)], [0]), T("y", (1, 10), "int8", [1 / 256], [-128])],
            [Op("SOFTMAX", [0], [1], {"beta": 1.0})],
            [0],
            [1],
        )
        out.append((f"softmax s{s:g}", m, rows))
    m = build_model(
        [T("x", (1, 1), "int8", [0.5], [3]), T("y", (1, 1), "int8", [1 / 256], [-128])],
        [Op("SOFTMAX", [0], [1], {"beta": 1.0})],
        [0],
        [1],
    )
    out.append(("softmax depth 1", m, xs))
    # Logistic / tanh over every int8 value at a few input scales (covers the radius cut-offs and 0)
    for op, ys in (("LOGISTIC", (1 / 256, -128)), ("TANH", (1 / 128, 0))):
        for s in (1e-3, 0.02, 0.1, 0.5):
            m = build_model(
                [T("x", (256, 1), "int8", [f32(s)], [0]), T("y", (256, 1), "int8", [ys[0]], [ys[1]])],
                [Op(op, [0], [1])],
                [0],
                [1],
            )
            out.append((f"{op} s{s:g}", m, [_all_int8()]))
    return out
