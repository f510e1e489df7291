"""Which operators TensorFlow Lite Micro itself can run, so that a refusal can say whether the model runs under TFLM.

Read from tflite-micro's `tensorflow/lite/micro/micro_mutable_op_resolver.h` (every `AddBuiltin(BuiltinOperator_X)`
and `AddCustom("name")`) at tensorflow/tflite-micro commit 90b983c2b3f1480642e040bbd2ddb37b998f3424 (2026-08-20), the
source of the pinned PyPI tflite-micro 0.dev20261023182759. Checked in (not read at run time) because tflite-micro is
an optional dependency; tests/test_models_errors.py checks the table against the installed runtime's registrations.
"""

from __future__ import annotations

TFLM_VERSION = "tflite-micro 90b983c2b3f1 (2026-08-20)"

# BuiltinOperator names that MicroMutableOpResolver can register (100 of them).
TFLM_BUILTINS: frozenset[str] = frozenset(
    [
        "ABS",
        "ADD",
        "ADD_N",
        "ARG_MAX",
        "ARG_MIN",
        "ASSIGN_VARIABLE",
        "AVERAGE_POOL_2D",
        "BATCH_MATMUL",
        "BATCH_TO_SPACE_ND",
        "BROADCAST_ARGS",
        "BROADCAST_TO",
        "CALL_ONCE",
        "CAST",
        "CEIL",
        "CONCATENATION",
        "CONV_2D",
        "COS",
        "CUMSUM",
        "DEPTHWISE_CONV_2D",
        "DEPTH_TO_SPACE",
        "DEQUANTIZE",
        "DIV",
        "DYNAMIC_UPDATE_SLICE",
        "ELU",
        "EMBEDDING_LOOKUP",
        "EQUAL",
        "EXP",
        "EXPAND_DIMS",
        "FILL",
        "FLOOR",
        "FLOOR_DIV",
        "FLOOR_MOD",
        "FULLY_CONNECTED",
        "GATHER",
        "GATHER_ND",
        "GREATER",
        "GREATER_EQUAL",
        "HARD_SWISH",
        "IF",
        "L2_NORMALIZATION",
        "L2_POOL_2D",
        "LEAKY_RELU",
        "LESS",
        "LESS_EQUAL",
        "LOG",
        "LOGICAL_AND",
        "LOGICAL_NOT",
        "LOGICAL_OR",
        "LOGISTIC",
        "LOG_SOFTMAX",
        "MAXIMUM",
        "MAX_POOL_2D",
        "MEAN",
        "MINIMUM",
        "MIRROR_PAD",
        "MUL",
        "NEG",
        "NOT_EQUAL",
        "PACK",
        "PAD",
        "PADV2",
        "PRELU",
        "QUANTIZE",
        "READ_VARIABLE",
        "REDUCE_ALL",
        "REDUCE_MAX",
        "REDUCE_MIN",
        "RELU",
        "RELU6",
        "RESHAPE",
        "RESIZE_BILINEAR",
        "RESIZE_NEAREST_NEIGHBOR",
        "REVERSE_V2",
        "ROUND",
        "RSQRT",
        "SELECT_V2",
        "SHAPE",
        "SIN",
        "SLICE",
        "SOFTMAX",
        "SPACE_TO_BATCH_ND",
        "SPACE_TO_DEPTH",
        "SPLIT",
        "SPLIT_V",
        "SQRT",
        "SQUARE",
        "SQUARED_DIFFERENCE",
        "SQUEEZE",
        "STRIDED_SLICE",
        "SUB",
        "SUM",
        "SVDF",
        "TANH",
        "TRANSPOSE",
        "TRANSPOSE_CONV",
        "UNIDIRECTIONAL_SEQUENCE_LSTM",
        "UNPACK",
        "VAR_HANDLE",
        "WHILE",
        "ZEROS_LIKE",
    ]
)

# Custom operators TFLM ships a kernel for (the application still has to register them).
TFLM_CUSTOM_OPS: frozenset[str] = frozenset(
    [
        "CIRCULAR_BUFFER",
        "TFLite_Detection_PostProcess",
        "TFLM_DECODE",
        "ethos-u",
        "SignalDelay",
        "SignalEnergy",
        "SignalFftAutoScale",
        "SignalFilterBank",
        "SignalFilterBankLog",
        "SignalFilterBankSpectralSubtraction",
        "SignalFilterBankSquareRoot",
        "SignalFramer",
        "SignalIrfft",
        "SignalOverlapAdd",
        "SignalPCAN",
        "SignalRfft",
        "SignalStacker",
        "SignalWindow",
    ]
)

# Custom operators that mean the model went through an accelerator's compiler: the operator is the accelerator's
# command stream, which no Cortex-M kernel can run; the model from before that step can be compiled.
ACCELERATOR_COMPILERS: dict[str, str] = {
    "ethos-u": "Vela (Arm Ethos-U NPU)",
    "edgetpu-custom-op": "the Edge TPU compiler (Coral Edge TPU)",
}


def tflm_support(op_name: str) -> str:
    """A phrase saying whether TFLM runs `op_name` (a builtin name, or CUSTOM:<code> as tflite_reader names it)."""
    if op_name.startswith("CUSTOM:"):
        code = op_name.split(":", 1)[1]
        if code in TFLM_CUSTOM_OPS:
            return f"TFLM ({TFLM_VERSION}) ships a kernel for it, registered as a custom operator"
        return "it is not part of TFLM either: it needs the application's own kernel"
    if op_name in TFLM_BUILTINS:
        return f"TFLM supports it ({TFLM_VERSION})"
    return f"TFLM does not support it either ({TFLM_VERSION})"
