"""Read a .tflite flatbuffer into plain Python data, with one clear BadInput per kind of broken file.

The `tflite` package is only the generated flatbuffer accessors; everything that touches the buffer is wrapped so that
a truncated or corrupt file ends in one message, never a traceback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tflite
from tflite.BuiltinOperator import BuiltinOperator
from tflite.BuiltinOptions import BuiltinOptions

from tinyml_cosim.core.errors import BadInput
from tinyml_cosim.core.inputs import MAX_TFLITE_BYTES, read_input_bytes

OP_NAMES: dict[int, str] = {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}

# TensorType enum of the schema
DTYPES: dict[int, tuple[str, Any]] = {
    0: ("float32", np.float32),
    1: ("float16", np.float16),
    2: ("int32", np.int32),
    3: ("uint8", np.uint8),
    4: ("int64", np.int64),
    5: ("string", None),
    6: ("bool", np.bool_),
    7: ("int16", np.int16),
    9: ("int8", np.int8),
    10: ("float64", np.float64),
    12: ("uint64", np.uint64),  # the Signal library's filter bank sums
    15: ("uint32", np.uint32),  # the Signal library's energies
    17: ("int4", None),
}
PADDING = {0: "SAME", 1: "VALID"}
ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}


@dataclass
class RawTensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    scales: list[float]  # float32 values widened to Python floats (exact)
    zero_points: list[int]
    quantized_dimension: int
    data: np.ndarray | None  # constant contents, or None for an activation tensor
    sparse: bool = False  # has SparsityParameters: `data` is then the raw compressed bytes (uint8)
    variable: bool = False  # is_variable: state the interpreter keeps between invocations (LSTM, SVDF)

    @property
    def is_const(self) -> bool:
        return self.data is not None

    def describe(self) -> str:
        return f"tensor {self.index} '{self.name}' ({self.dtype}{list(self.shape)})"


@dataclass
class RawOperator:
    index: int
    name: str  # builtin operator name, e.g. CONV_2D, or CUSTOM:<code>
    version: int
    inputs: list[int]  # -1 = optional input absent
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)
    intermediates: list[int] = field(default_factory=list)  # the quantized LSTM's gate-output tensors
    custom_options: bytes | None = None  # a CUSTOM operator's options (flexbuffers), as the file has them

    def describe(self) -> str:
        return f"operator {self.index} ({self.name})"


@dataclass
class RawModel:
    path: Path
    file_bytes: int
    tensors: list[RawTensor]
    operators: list[RawOperator]
    inputs: list[int]
    outputs: list[int]
    description: str


def _options(op: Any, name: str) -> dict[str, Any]:
    """Decode the builtin options the supported operators use into a dict."""
    kind = op.BuiltinOptionsType()
    table = op.BuiltinOptions()
    if table is None or kind == BuiltinOptions.NONE:
        return {}

    def make(cls: Any) -> Any:
        o = cls()
        o.Init(table.Bytes, table.Pos)
        return o

    if kind == BuiltinOptions.Conv2DOptions:
        o = make(tflite.Conv2DOptions)
        return {
            "padding": PADDING.get(o.Padding(), str(o.Padding())),
            "stride_w": o.StrideW(),
            "stride_h": o.StrideH(),
            "dilation_w": o.DilationWFactor(),
            "dilation_h": o.DilationHFactor(),
            "activation": ACTIVATIONS.get(o.FusedActivationFunction(), "?"),
            "quantized_bias_type": o.QuantizedBiasType(),  # the 16x8 path without a bias: int32 or int64 sums
        }
    if kind == BuiltinOptions.DepthwiseConv2DOptions:
        o = make(tflite.DepthwiseConv2DOptions)
        return {
            "padding": PADDING.get(o.Padding(), str(o.Padding())),
            "stride_w": o.StrideW(),
            "stride_h": o.StrideH(),
            "dilation_w": o.DilationWFactor(),
            "dilation_h": o.DilationHFactor(),
            "depth_multiplier": o.DepthMultiplier(),
            "activation": ACTIVATIONS.get(o.FusedActivationFunction(), "?"),
        }
    if kind == BuiltinOptions.FullyConnectedOptions:
        o = make(tflite.FullyConnectedOptions)
        return {
            "activation": ACTIVATIONS.get(o.FusedActivationFunction(), "?"),
            "weights_format": o.WeightsFormat(),
            "keep_num_dims": bool(o.KeepNumDims()),
            "quantized_bias_type": o.QuantizedBiasType(),
        }
    if kind == BuiltinOptions.Pool2DOptions:
        o = make(tflite.Pool2DOptions)
        return {
            "padding": PADDING.get(o.Padding(), str(o.Padding())),
            "stride_w": o.StrideW(),
            "stride_h": o.StrideH(),
            "filter_w": o.FilterWidth(),
            "filter_h": o.FilterHeight(),
            "activation": ACTIVATIONS.get(o.FusedActivationFunction(), "?"),
        }
    if kind == BuiltinOptions.AddOptions:
        return {"activation": ACTIVATIONS.get(make(tflite.AddOptions).FusedActivationFunction(), "?")}
    if kind == BuiltinOptions.MulOptions:
        return {"activation": ACTIVATIONS.get(make(tflite.MulOptions).FusedActivationFunction(), "?")}
    if kind == BuiltinOptions.SoftmaxOptions:
        return {"beta": make(tflite.SoftmaxOptions).Beta()}
    if kind == BuiltinOptions.ConcatenationOptions:
        o = make(tflite.ConcatenationOptions)
        return {"axis": o.Axis(), "activation": ACTIVATIONS.get(o.FusedActivationFunction(), "?")}
    if kind == BuiltinOptions.ReducerOptions:
        return {"keep_dims": bool(make(tflite.ReducerOptions).KeepDims())}
    if kind == BuiltinOptions.StridedSliceOptions:
        o = make(tflite.StridedSliceOptions)
        return {
            "begin_mask": o.BeginMask(),
            "end_mask": o.EndMask(),
            "ellipsis_mask": o.EllipsisMask(),
            "new_axis_mask": o.NewAxisMask(),
            "shrink_axis_mask": o.ShrinkAxisMask(),
            "offset": bool(o.Offset()),
        }
    if kind == BuiltinOptions.PackOptions:
        o = make(tflite.PackOptions)
        return {"values_count": o.ValuesCount(), "axis": o.Axis()}
    if kind == BuiltinOptions.SqueezeOptions:
        o = make(tflite.SqueezeOptions)
        return {"squeeze_dims": [int(v) for v in o.SqueezeDimsAsNumpy()] if o.SqueezeDimsLength() else []}
    if kind == BuiltinOptions.LeakyReluOptions:
        return {"alpha": make(tflite.LeakyReluOptions).Alpha()}
    if kind == BuiltinOptions.ReshapeOptions:
        o = make(tflite.ReshapeOptions)
        return {"new_shape": [int(v) for v in o.NewShapeAsNumpy()] if o.NewShapeLength() else []}
    return _scalar_options(make, kind)


OPTION_TABLES: dict[int, str] = {v: k for k, v in vars(BuiltinOptions).items() if not k.startswith("_")}
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _scalar_options(make: Any, kind: int) -> dict[str, Any]:
    """Any other options table, generically: each scalar field under its schema name in snake case (BlockSize ->
    block_size), a fused activation also by name under `activation`, as the tables above do. The operator modules
    of the registry (nn/ops/) read their options from here; vector fields are not decoded."""
    cls = getattr(tflite, OPTION_TABLES.get(kind, ""), None)
    if cls is None:
        return {}
    o = make(cls)
    out: dict[str, Any] = {}
    for attr in dir(cls):
        if attr.startswith(("_", "GetRootAs", "Init")) or attr.endswith(("BufferHasIdentifier", "Length", "IsNone")):
            continue
        if attr.endswith("AsNumpy") or hasattr(cls, attr + "Length"):
            continue  # a vector: needs an index
        value = getattr(o, attr)()
        if isinstance(value, bool | int | float):
            out[_CAMEL.sub("_", attr).lower()] = value
    if "fused_activation_function" in out:
        out["activation"] = ACTIVATIONS.get(out["fused_activation_function"], "?")
    return out


def read_tflite(path: Path) -> RawModel:
    path = Path(path)
    # core.inputs: regular files only (a FIFO or /dev/zero is refused before opening), size bounded.
    buf = read_input_bytes(path, what="model", max_bytes=MAX_TFLITE_BYTES)
    return parse_tflite(buf, path)


# A Git LFS pointer is what a clone without `git lfs` leaves in place of the model: a few lines of text.
LFS_POINTER = b"version https://git-lfs.github.com/spec/v1"
# Model files of other formats, by their first bytes, so the refusal can say what the file is.
FOREIGN_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89HDF\r\n\x1a\n", "a Keras HDF5 (.h5) file"),
    (b"PK\x03\x04", "a zip archive (a Keras .keras file or a zipped model?)"),
)


def parse_tflite(buf: bytes, path: Path = Path("<bytes>")) -> RawModel:
    if buf.startswith(LFS_POINTER):
        raise BadInput(
            f"{path}: this is a Git LFS pointer file ({len(buf)} bytes of text), not the model: fetch the model "
            "itself with `git lfs pull` in its repository (needs git-lfs installed)"
        )
    for magic, what in FOREIGN_MAGIC:
        if buf.startswith(magic):
            raise BadInput(f"{path}: not a .tflite model: the file is {what}; convert it with the TFLite converter")
    if len(buf) < 8:
        raise BadInput(f"{path}: not a .tflite model: the file is {len(buf)} bytes, too short for a flatbuffer header")
    if buf[4:8] != b"TFL3":
        raise BadInput(
            f"{path}: not a .tflite model: file identifier is {bytes(buf[4:8])!r}, expected b'TFL3' "
            "(is this a TensorFlow SavedModel, an ONNX or a Keras file?)"
        )
    try:
        return _parse(buf, path)
    except BadInput:
        raise
    except Exception:  # the generated accessors raise struct/Index errors on out-of-range offsets
        # (their text names Python internals, not anything in the file, so it is left out)
        raise BadInput(
            f"{path}: corrupt or truncated .tflite file ({len(buf)} bytes): an offset in it points outside the file"
        ) from None


def _buffer_data(model: Any, buf: bytes, index: int, path: Path) -> bytes | None:
    if index <= 0 or index >= model.BuffersLength():
        return None
    b = model.Buffers(index)
    offset = b.Offset() if hasattr(b, "Offset") else 0
    if offset > 1:
        # Large-model layout: the data lives after the flatbuffer, addressed by offset and size.
        size = b.Size()
        if offset + size > len(buf):
            raise BadInput(
                f"{path}: truncated .tflite file: buffer {index} ends at byte {offset + size}, file has {len(buf)}"
            )
        return bytes(buf[offset : offset + size])
    if b.DataLength() == 0:
        return None
    data = b.DataAsNumpy()
    return data.tobytes()


def _tensor_data(raw: bytes, sparse: bool, type_code: int, shape: tuple[int, ...], what: str, path: Path) -> np.ndarray:
    """A constant tensor's contents as an array of its shape (raw bytes when sparse or of a type numpy lacks)."""
    np_dtype = DTYPES.get(type_code, ("", None))[1]
    if sparse or np_dtype is None:
        # compressed (block-sparse) contents are shorter than the shape: kept raw for the refusal to name
        return np.frombuffer(raw, dtype=np.uint8).copy()
    count = int(np.prod(shape)) if shape else 1
    need = count * np.dtype(np_dtype).itemsize
    if len(raw) < need:
        raise BadInput(f"{path}: corrupt .tflite file: {what} needs {need} bytes of data, its buffer has {len(raw)}")
    return np.frombuffer(raw[:need], dtype=np_dtype).reshape(shape).copy()


def _parse(buf: bytes, path: Path) -> RawModel:
    model = tflite.Model.GetRootAs(buf, 0)
    if model.SubgraphsLength() < 1:
        raise BadInput(f"{path}: the model has no subgraph")
    if model.SubgraphsLength() > 1:
        raise BadInput(
            f"{path}: the model has {model.SubgraphsLength()} subgraphs; control flow (IF/WHILE/CALL_ONCE) is not "
            "supported: only single-subgraph models compile"
        )
    g = model.Subgraphs(0)
    tensors: list[RawTensor] = []
    for i in range(g.TensorsLength()):
        t = g.Tensors(i)
        type_code = t.Type()
        dtype = DTYPES.get(type_code, (f"type{type_code}", None))[0]
        shape = tuple(int(v) for v in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        q = t.Quantization()
        scales: list[float] = []
        zps: list[int] = []
        qdim = 0
        if q is not None:
            if q.ScaleLength():
                scales = [float(v) for v in q.ScaleAsNumpy()]
            if q.ZeroPointLength():
                zps = [int(v) for v in q.ZeroPointAsNumpy()]
            qdim = q.QuantizedDimension()
        raw = _buffer_data(model, buf, t.Buffer(), path)
        sparse = t.Sparsity() is not None
        data = None if raw is None else _tensor_data(raw, sparse, type_code, shape, f"tensor {i} '{_name(t)}'", path)
        tensors.append(RawTensor(i, _name(t), shape, dtype, scales, zps, qdim, data, sparse, bool(t.IsVariable())))

    operators: list[RawOperator] = []
    for i in range(g.OperatorsLength()):
        op = g.Operators(i)
        oc_index = op.OpcodeIndex()
        if oc_index >= model.OperatorCodesLength():
            raise BadInput(
                f"{path}: corrupt .tflite file: operator {i} uses opcode {oc_index}, the model has "
                f"{model.OperatorCodesLength()}"
            )
        oc = model.OperatorCodes(oc_index)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        name = OP_NAMES.get(code, f"BUILTIN_{code}")
        if name == "CUSTOM":
            custom = oc.CustomCode()
            name = f"CUSTOM:{custom.decode(errors='replace') if custom else '?'}"
        ins = [int(v) for v in op.InputsAsNumpy()] if op.InputsLength() else []
        outs = [int(v) for v in op.OutputsAsNumpy()] if op.OutputsLength() else []
        mids = [int(v) for v in op.IntermediatesAsNumpy()] if op.IntermediatesLength() else []
        for t in ins + outs + mids:
            if t >= len(tensors) or t < -1:
                raise BadInput(
                    f"{path}: corrupt .tflite file: operator {i} ({name}) refers to tensor {t}, the model "
                    f"has {len(tensors)}"
                )
        custom_opts = op.CustomOptionsAsNumpy().tobytes() if op.CustomOptionsLength() else None
        operators.append(RawOperator(i, name, oc.Version(), ins, outs, _options(op, name), mids, custom_opts))

    inputs = [int(v) for v in g.InputsAsNumpy()] if g.InputsLength() else []
    outputs = [int(v) for v in g.OutputsAsNumpy()] if g.OutputsLength() else []
    desc = model.Description()
    return RawModel(
        path=path,
        file_bytes=len(buf),
        tensors=tensors,
        operators=operators,
        inputs=inputs,
        outputs=outputs,
        description=desc.decode(errors="replace") if desc else "",
    )


def _name(t: Any) -> str:
    n = t.Name()
    return n.decode(errors="replace") if n else ""
