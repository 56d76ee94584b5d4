"""sigmoid, tanh: hls4ml's lookup-table activations (nnet_activation_stream.h, table_act_stream).

The table (init_sigmoid_table / init_tanh_table in nnet_activation.h, used by every backend we convert for):
entry i samples the function at the float x_i = (float)(2 * R * (i - N/2.0) / N), R = 8 (sigmoid) or 4
(tanh), evaluated in single precision (1.0 / (1 + std::exp(-x)) and tanh(float)) and assigned to table_t.
The index of an input x (ap_fixed with F fractional bits, raw r):
`int data_round = x * table_size / D; int index = data_round + R*table_size/D` with D = 2R (16 or 8):
x * table_size is exact, `/ D` is ap_fixed division (the quotient keeps F fractional bits, truncated
toward zero), the conversion to int truncates toward zero too; the index is clamped to 0..N-1 and the
table entry assigned to the output type.

The spec carries the table as raw table_t integers, so the golden model and the RTL ROM read the same
array; extraction computes it with the C library's single-precision expf/tanhf, which the C simulation
calls (NumPy's float32 exp/tanh differ from them in the last bit).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache

import numpy as np

from lenet5_hls.core.fixed_point import FixedType, from_float
from lenet5_hls.core.kind import register
from lenet5_hls.core.spec import Layer, SpecError
from lenet5_hls.kinds.elementwise import TableLookup
from lenet5_hls.rtl.generator import RtlGenerationError

INT_MAX = 2**31 - 1  # data_round and index are C ints


@cache
def libm() -> ctypes.CDLL:
    libm = ctypes.CDLL(ctypes.util.find_library('m'))
    for name in ('expf', 'tanhf'):
        getattr(libm, name).restype = ctypes.c_float
        getattr(libm, name).argtypes = [ctypes.c_float]
    return libm


def _trunc_div(a: np.ndarray, d: int) -> np.ndarray:
    """a / d rounded toward zero, as C and ap_fixed's sdiv do (d > 0)."""
    q = np.abs(a) // d
    return np.where(a < 0, -q, q)


class TableActivation(TableLookup):
    """One function sampled on [-R, R) by hls4ml's table; subclasses set R and the function."""

    keras_exact = False  # Keras computes the function in float
    half_range: int  # R: the table covers [-R, R)

    @property
    def div_log2(self) -> int:
        """log2 of the divisor D = 2R in the index (table_act_stream's DIV_LOG2)."""
        return (2 * self.half_range).bit_length() - 1

    def function(self, x: np.float32) -> float:
        """The single-precision function value the C++ computes for one table point."""
        raise NotImplementedError

    def table(self, table_size: int, table_t: FixedType) -> np.ndarray:
        """Raw table_t entries, as init_<fn>_table computes them."""
        i = np.arange(table_size, dtype=np.float64)
        points = (2 * float(self.half_range) * (i - table_size / 2.0) / table_size).astype(np.float32)
        values = np.array([self.function(x) for x in points], dtype=np.float64)
        return from_float(values, table_t)

    def index(self, raw, t_in, table_size):
        d = 2 * self.half_range
        q = _trunc_div(np.asarray(raw, dtype=np.int64) * table_size, d)  # quotient at t_in.frac fractional bits
        data_round = _trunc_div(q, 1 << t_in.frac) if t_in.frac >= 0 else q << -t_in.frac
        return data_round + self.half_range * table_size // d

    def extract(self, hls_layer, common, types, input_type):
        size = self.read_table(hls_layer, types)
        attrs = {'table_size': size}
        return Layer(
            kind=self.name, types=types, attrs=attrs, arrays={'table': self.table(size, types['table'])}, **common
        )

    def check(self, layer, where):
        super().check(layer, where)
        size = layer.attrs['table_size']
        t_in = layer.types['input']
        if max(-t_in.raw_min, t_in.raw_max) * size >= 2**62:
            raise SpecError(f'{where}.types.input: {t_in.cpp()} times table_size {size} exceeds 62 bits')
        ends = self.index(np.array([t_in.raw_min, t_in.raw_max]), t_in, size)
        if np.abs(ends).max() > INT_MAX:
            raise SpecError(f'{where}.types.input: {t_in.cpp()} makes the table index overflow a C int')

    def check_rtl(self, spec, index, where):
        size = spec.layers[index].attrs['table_size']
        if size < 2 or size & (size - 1):
            raise RtlGenerationError(
                f'{where}: table_size {size} is not a power of two >= 2; the RTL computes the index with shifts only'
            )


@register
class Sigmoid(TableActivation):
    name = 'sigmoid'
    hls4ml_classes = ('Activation',)
    hls4ml_activations = ('sigmoid',)
    half_range = 8

    def function(self, x):
        # 1.0 / (1 + std::exp(-x)): float exp, float sum, double quotient rounded to the float result
        return float(np.float32(1.0 / float(np.float32(1.0) + np.float32(libm().expf(float(-x))))))


@register
class Tanh(TableActivation):
    name = 'tanh'
    hls4ml_classes = ('Activation',)
    hls4ml_activations = ('tanh',)
    half_range = 4

    def function(self, x):
        return float(libm().tanhf(float(x)))
