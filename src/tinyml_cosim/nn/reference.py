"""The second, independent golden: TFLM's integer arithmetic in vectorised numpy, run over a lowered graph.

It shares only the lowering (multipliers, paddings, activation ranges: `tinyml_cosim.nn.graph`) with the C kernels; the
loops and the fixed-point maths are written again here, so a bug in firmware/nn shows up as a disagreement with both
this and tflite-micro.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import cast

import numpy as np

from tinyml_cosim.nn import quant
from tinyml_cosim.nn.graph import Graph, load_graph
from tinyml_cosim.nn.ir import NP_DTYPES, Layer
from tinyml_cosim.nn.ops import BY_KIND

Values = dict[int, np.ndarray]


def _clamp_i8(acc: np.ndarray, lo: int, hi: int) -> np.ndarray:
    return np.clip(acc, lo, hi).astype(np.int8)


def _conv(layer: Layer, x: np.ndarray, depthwise: bool) -> np.ndarray:
    p = layer.p
    ih, iw, ic = p["in_h"], p["in_w"], p["in_c"]
    oh, ow, oc = p["out_h"], p["out_w"], p["out_c"]
    kh, kw = p["k_h"], p["k_w"]
    img = x.reshape(ih, iw, ic).astype(np.int64) + p["input_offset"]
    # Out-of-image taps are skipped by TFLM, which is the same as adding zero after the offset: pad with zeros.
    ph, pw = p["pad_h"], p["pad_w"]
    need_h = (oh - 1) * p["stride_h"] + (kh - 1) * p["dil_h"] + 1
    need_w = (ow - 1) * p["stride_w"] + (kw - 1) * p["dil_w"] + 1
    padded = np.zeros((max(need_h, ph + ih), max(need_w, pw + iw), ic), np.int64)
    padded[ph : ph + ih, pw : pw + iw] = img
    filt = layer.consts["filter"].astype(np.int64)
    acc = np.zeros((oh, ow, oc), np.int64)
    for ky in range(kh):
        for kx in range(kw):
            y0, x0 = ky * p["dil_h"], kx * p["dil_w"]
            patch = padded[
                y0 : y0 + (oh - 1) * p["stride_h"] + 1 : p["stride_h"],
                x0 : x0 + (ow - 1) * p["stride_w"] + 1 : p["stride_w"],
            ]
            if depthwise:
                acc += np.repeat(patch, p["depth_multiplier"], axis=2) * filt[0, ky, kx]
            else:
                acc += patch @ filt[:, ky, kx, :].T
    acc = quant.wrap32(acc)
    if "bias" in layer.consts:
        acc = quant.wrap32(acc + layer.consts["bias"].astype(np.int64))
    acc = quant.mbqm(acc, layer.consts["multiplier"].astype(np.int64), layer.consts["shift"].astype(np.int64))
    return _clamp_i8(acc + p["output_offset"], p["act_min"], p["act_max"])


def _fc(layer: Layer, x: np.ndarray) -> np.ndarray:
    p = layer.p
    xin = x.reshape(p["batches"], p["in_depth"]).astype(np.int64) + p["input_offset"]
    w = layer.consts["filter"].astype(np.int64) + p["filter_offset"]
    acc = quant.wrap32(xin @ w.T)
    if "bias" in layer.consts:
        acc = quant.wrap32(acc + layer.consts["bias"].astype(np.int64))
    acc = quant.mbqm(acc, layer.consts["multiplier"].astype(np.int64), layer.consts["shift"].astype(np.int64))
    return _clamp_i8(acc + p["output_offset"], p["act_min"], p["act_max"])


def _pool(layer: Layer, x: np.ndarray, is_max: bool) -> np.ndarray:
    p = layer.p
    img = x.reshape(p["in_h"], p["in_w"], p["channels"]).astype(np.int64)
    out = np.zeros((p["out_h"], p["out_w"], p["channels"]), np.int64)
    for oy in range(p["out_h"]):
        y0 = oy * p["stride_h"] - p["pad_h"]
        ys, ye = max(0, y0), min(p["in_h"], y0 + p["k_h"])
        for ox in range(p["out_w"]):
            x0 = ox * p["stride_w"] - p["pad_w"]
            xs, xe = max(0, x0), min(p["in_w"], x0 + p["k_w"])
            win = img[ys:ye, xs:xe].reshape(-1, p["channels"])
            if is_max:
                out[oy, ox] = win.max(axis=0)
            else:
                n = win.shape[0]
                s = win.sum(axis=0)
                # Round half away from zero with C's truncating division.
                q = np.where(s > 0, (s + n // 2) // n, -((-s + n // 2) // n))
                out[oy, ox] = q
    return _clamp_i8(out, p["act_min"], p["act_max"])


def _broadcast_views(layer: Layer, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = layer.p
    shape = tuple(p["out_shape"])

    def view(v: np.ndarray, strides: list[int]) -> np.ndarray:
        src = [shape[d] if strides[d] else 1 for d in range(4)]
        return np.broadcast_to(v.reshape(src), shape).reshape(-1).astype(np.int64)

    return view(a, p["in1_strides"]), view(b, p["in2_strides"])


def _add(layer: Layer, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    p = layer.p
    va, vb = _broadcast_views(layer, a, b)
    sa = quant.mbqm(quant.wrap32((va + p["in1_offset"]) << p["left_shift"]), p["in1_mult"], p["in1_shift"])
    sb = quant.mbqm(quant.wrap32((vb + p["in2_offset"]) << p["left_shift"]), p["in2_mult"], p["in2_shift"])
    raw = quant.mbqm(quant.wrap32(sa + sb), p["out_mult"], p["out_shift"]) + p["out_offset"]
    return _clamp_i8(raw, p["act_min"], p["act_max"])


def _mul(layer: Layer, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    p = layer.p
    va, vb = _broadcast_views(layer, a, b)
    prod = quant.wrap32((va + p["in1_offset"]) * (vb + p["in2_offset"]))
    raw = quant.mbqm(prod, p["out_mult"], p["out_shift"]) + p["out_offset"]
    return _clamp_i8(raw, p["act_min"], p["act_max"])


def _softmax(layer: Layer, x: np.ndarray) -> np.ndarray:
    p = layer.p
    rows = x.reshape(p["outer"], p["depth"]).astype(np.int64)
    out = np.empty_like(rows)
    for r in range(rows.shape[0]):
        diff = rows[r] - rows[r].max()
        valid = diff >= p["diff_min"]
        scaled = quant.mbqm_greater_than_one(diff, p["input_multiplier"], p["input_left_shift"])
        exps = quant.exp_on_negative_values(scaled, 5)
        # Rescale<12> of an F0 value: divide by 2^12 with rounding; sum in int32 (wrapping like C).
        summed = int(quant.wrap32(np.where(valid, quant.rdbpot(exps, 12), 0).sum()))
        headroom = quant.count_leading_zeros32(summed)
        num_bits_over_unit = 12 - headroom
        shifted = ((summed & 0xFFFFFFFF) << headroom) - (1 << 31)
        shifted_sum_minus_one = int(quant.wrap32(shifted & 0xFFFFFFFF))
        scale = quant.one_over_one_plus_x_for_x_in_0_1(np.array([shifted_sum_minus_one], np.int64))[0]
        unsat = quant.rdbpot(quant.srdhm(scale, exps), num_bits_over_unit + 31 - 8)
        res = np.clip(unsat - 128, -128, 127)
        out[r] = np.where(valid, res, -128)
    return out.astype(np.int8)


def _sigmoid_like(layer: Layer, x: np.ndarray, is_tanh: bool) -> np.ndarray:
    p = layer.p
    v = x.astype(np.int64) - p["input_zp"]
    r = p["range_radius"]
    q4 = quant.mbqm(v, p["input_multiplier"], p["input_left_shift"])
    if is_tanh:
        o = quant.rdbpot(quant.tanh_fixed(q4, 4), 31 - 7)
        mid = np.clip(o, -128, 127)
    else:
        o = quant.rdbpot(quant.logistic_fixed(q4, 4), 31 - 8)
        mid = np.clip(o - 128, -128, 127)
    res = np.where(v <= -r, -128, np.where(v >= r, 127, mid))
    return res.astype(np.int8)


def _concat(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    p = layer.p
    parts = [x.reshape(p["outer"], n) for x, n in zip(xs, p["copy_sizes"], strict=True)]
    return np.concatenate(parts, axis=1).reshape(-1).astype(np.int8)


def _quantize(layer: Layer, x: np.ndarray) -> np.ndarray:
    p = layer.p
    q = (x.astype(np.float32) / np.float32(p["scale"])).astype(np.float64)  # the division is in float32, as in TFLM
    r = np.sign(q) * np.floor(np.abs(q) + 0.5)  # std::round: half away from zero
    return np.clip(r.astype(np.int64) + p["zero_point"], -128, 127).astype(np.int8)


def _requantize(layer: Layer, x: np.ndarray) -> np.ndarray:
    p = layer.p
    v = quant.mbqm(x.astype(np.int64) - p["input_zp"], p["multiplier"], p["shift"]) + p["output_zp"]
    return np.clip(v, -128, 127).astype(np.int8)


def _dequantize(layer: Layer, x: np.ndarray) -> np.ndarray:
    p = layer.p
    # TFLM computes in double (scale is a double) and narrows to float at the end.
    return (np.float64(p["scale"]) * (x.astype(np.int64) - p["zero_point"])).astype(np.float32)


def registry_call(layer: Layer, inputs: Sequence[np.ndarray]) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """A registry operator (nn/ops/): its own reference over its operands (constants included), shaped; returns
    the output and, for a stateful operator, the new values of its state operands (by position in `args`)."""
    shaped = [np.asarray(v).reshape(shape) for v, shape in zip(inputs, layer.shapes, strict=True)]
    got = BY_KIND[layer.kind].reference(layer, shaped)
    out, updates = got if isinstance(got, tuple) else (got, {})
    return np.asarray(out).reshape(-1), {k: np.asarray(v).reshape(-1) for k, v in updates.items()}


def run_layer(layer: Layer, inputs: Sequence[np.ndarray]) -> np.ndarray:
    k = layer.kind
    if k in BY_KIND:
        return registry_call(layer, inputs)[0]
    x = inputs[0].reshape(-1)
    if layer.batch > 1:  # an NHWC kernel of one image, run once per image of the batch
        images = x.reshape(layer.batch, -1)
        return np.concatenate([run_layer(replace(layer, batch=1), [img]) for img in images])
    if k == "conv2d":
        return _conv(layer, x, False).reshape(-1)
    if k == "dwconv2d":
        return _conv(layer, x, True).reshape(-1)
    if k == "fc":
        return _fc(layer, x).reshape(-1)
    if k in ("avgpool", "maxpool"):
        return _pool(layer, x, k == "maxpool").reshape(-1)
    if k == "add":
        return _add(layer, x, inputs[1].reshape(-1))
    if k == "mul":
        return _mul(layer, x, inputs[1].reshape(-1))
    if k == "softmax":
        return _softmax(layer, x).reshape(-1)
    if k in ("logistic", "tanh"):
        return _sigmoid_like(layer, x, k == "tanh")
    if k == "concat":
        return _concat(layer, [i.reshape(-1) for i in inputs])
    if k == "quantize":
        return _quantize(layer, x)
    if k == "requantize":
        return _requantize(layer, x)
    if k == "dequantize":
        return _dequantize(layer, x)
    raise NotImplementedError(k)


def run_graph(
    graph: Graph,
    x: np.ndarray | Sequence[np.ndarray],
    on_layer: Callable[[int, Layer, np.ndarray], None] | None = None,
    state: Values | None = None,
) -> np.ndarray:
    """The graph's first output for input `x` (a list: one array per model input)."""
    return run_graph_outputs(graph, x, on_layer, state)[0]


def initial_state(graph: Graph) -> Values:
    """Every state tensor (LSTM / SVDF) as cosim_model_reset and TFLM's ResetVariableTensors leave it: an int8 one
    at its zero point, any other type at 0 (TFLM fills the zero point only into int8 tensors)."""
    return {
        t: np.full(v.elements, v.zero_point if v.dtype == "int8" else 0, NP_DTYPES[v.dtype])
        for t, v in graph.tensors.items()
        if v.variable
    }


def run_graph_outputs(
    graph: Graph,
    x: np.ndarray | Sequence[np.ndarray],
    on_layer: Callable[[int, Layer, np.ndarray], None] | None = None,
    state: Values | None = None,
) -> list[np.ndarray]:
    """Every output of the graph, in the model's order. State tensors start from `state` (updated in place, so
    calls in a row carry it, as invocations of one TFLM interpreter do), or from their reset values."""
    xs = list(x) if isinstance(x, list | tuple) else [x]
    values: Values = {t: np.asarray(v).reshape(-1) for t, v in zip(graph.inputs, xs, strict=True)}
    if state is None:
        state = {}
    for t, v in initial_state(graph).items():
        state.setdefault(t, v)
    values.update(state)
    for i, layer in enumerate(graph.layers):
        # the kernel's operands: arena tensors, and constants where the layer passes them (layer.args)
        where = layer.args or layer.inputs
        ins = [values[a] if isinstance(a, int) else layer.consts[a].reshape(-1) for a in where]
        if layer.kind in BY_KIND:
            out, updates = registry_call(layer, ins)
            for pos, v in updates.items():
                tid = where[pos]
                assert isinstance(tid, int) and graph.tensors[tid].variable, f"{layer.kind} updates a non-state {pos}"
                values[tid] = state[tid] = v.astype(NP_DTYPES[graph.tensors[tid].dtype])
        else:
            out = run_layer(layer, ins)
        values[layer.output] = out
        if on_layer is not None:
            on_layer(i, layer, out)
    return [values[t].reshape(graph.tensors[t].shape) for t in graph.outputs]


def run_numpy(
    model: Path | Graph, inputs: Sequence[np.ndarray] | np.ndarray, intermediates: bool = False
) -> list[np.ndarray]:
    """Run a model with numpy integer arithmetic; returns [output] (+ every layer's output when `intermediates`)."""
    graph = model if isinstance(model, Graph) else load_graph(Path(model))
    # Anything but a list or tuple is one input array.
    xs = list(inputs) if isinstance(inputs, list | tuple) else [cast(np.ndarray, inputs)]
    layer_outs: list[np.ndarray] = []
    out = run_graph(graph, xs, (lambda i, layer, v: layer_outs.append(v)) if intermediates else None)
    return [out, *layer_outs] if intermediates else [out]
