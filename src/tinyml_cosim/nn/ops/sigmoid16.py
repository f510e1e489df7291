"""TFLM's int16 logistic and tanh as its reference kernels compute them: linear interpolation in a 256-entry table
of sigmoid(i / 24) in unsigned Q0.16 (the values of TFLM's sigmoid_table_uint16: data, as neither a formula nor its
rounding reproduces every entry). Shared by the LSTM's gates and the int16 LOGISTIC / TANH operators; the C twin
is firmware/nn/ref/sigmoid16.c (tests/ops/test_sigmoid16.py keeps the two tables equal). Inputs are already
scaled (the logistic: 9 fraction bits per table step; the tanh: 8); outputs are Q0.15. int32 values in int64."""

from __future__ import annotations

import numpy as np

from tinyml_cosim.nn.quant import I32

# sigmoid(i / 24) in unsigned Q0.16 for i in 0..255: the values of TFLM's sigmoid_table_uint16, which its int16
# logistic and tanh interpolate (data: neither a formula nor its rounding reproduces every entry)
# fmt: off
SIGMOID_TABLE = np.array(
    [
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794, 41432,
    42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443, 48964, 49475,
    49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169, 53581, 53983, 54374, 54755, 55125, 55485,
    55834, 56174, 56503, 56823, 57133, 57433, 57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519,
    59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110, 61279, 61441, 61599, 61750, 61896, 62036,
    62172, 62302, 62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186, 63279, 63368, 63454, 63536,
    63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308, 64357, 64405,
    64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786, 64816, 64845, 64873, 64900,
    64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079, 65097, 65115, 65132, 65149, 65164, 65179,
    65194, 65208, 65221, 65234, 65246, 65258, 65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337,
    65345, 65352, 65360, 65367, 65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425,
    65429, 65433, 65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474,
    65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498, 65500, 65501,
    65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513, 65514, 65515, 65516, 65517,
    65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524, 65525, 65525,
    65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530,
    65530, 65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533,
    65533, 65533, 65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534,
    65534, 65534, 65534, 65535,
    ],
    np.int64,
)
# fmt: on


def sigmoid16_lut(v: I32) -> I32:
    """cosim_sigmoid16_lut: the logistic of an input with 9 fraction bits per table step, in Q0.15."""
    a = np.abs(v)
    uh, ut = a >> 9, a & 0x1FF
    lo, hi = SIGMOID_TABLE[np.minimum(uh, 254)], SIGMOID_TABLE[np.minimum(uh + 1, 255)]
    r = np.where(uh >= 255, 0x7FFF << 10, (lo << 9) + ut * (hi - lo))
    r = np.where(v >= 0, r + (1 << 9), (1 << 25) - r + (1 << 9) - 1)
    return r >> 10


def tanh16_lut(v: I32) -> I32:
    """cosim_tanh16_lut: the tanh of an input with 8 fraction bits per table step, in Q0.15."""
    a = np.abs(v)
    uh, ut = a >> 8, a & 0xFF
    lo, hi = SIGMOID_TABLE[np.minimum(uh, 254)], SIGMOID_TABLE[np.minimum(uh + 1, 255)]
    r = np.where(uh >= 255, 0xFFFF << 8, (lo << 8) + ut * (hi - lo))
    r = np.where(v >= 0, r - (1 << 23) + (1 << 7), -r + (1 << 23) + (1 << 7) - 1)
    return r >> 8
