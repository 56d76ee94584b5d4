"""Bit-exact NumPy model of the hls4ml io_stream pipeline, driven only by the pipeline spec.

Each layer runs its kind's golden function (lenet5_hls.kinds), which follows hls4ml's nnet_utils headers
written into the HLS project; this module holds the arithmetic several kinds share (multiply-accumulate,
padding, sliding windows, nnet::reduce's tree).

Values are raw integers (int64) at their type's scale. Matrix products use float64 BLAS when every
partial sum is provably below 2**53 (so exact), and fall back to per-term integer accumulation when
a saturating accumulator could overflow mid-sum or a product does not fit accum_t exactly.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from lenet5_hls.core.errors import UserError
from lenet5_hls.core.fixed_point import FixedType, cast, from_float, to_float
from lenet5_hls.core.kind import kind
from lenet5_hls.core.spec import Spec

_EXACT_FLOAT = 2**53


class InputError(UserError):
    """Input data that does not match the pipeline's input port."""


def _abs_max(t: FixedType) -> int:
    return max(abs(t.raw_min), abs(t.raw_max))


def _mac(x: np.ndarray, w: np.ndarray, b: np.ndarray, types: dict[str, FixedType]) -> np.ndarray:
    """res = cast_out(bias + sum_k cast_acc(x[:, k] * w[k, :])) with dense_latency's cast points."""
    t_in, t_w, t_b, t_acc = types['input'], types['weight'], types['bias'], types['accum']
    f_prod = t_in.frac + t_w.frac
    shift = t_acc.frac - f_prod
    bias = cast(b, t_b.frac, t_acc)
    x_max = _abs_max(t_in)
    # Largest |product| and |partial sum| in accumulator units, from the actual weights.
    col_bound = x_max * np.abs(w).sum(axis=0) * (2.0**shift) + np.abs(bias)
    prod_fits = shift >= 0 and x_max * int(np.abs(w).max(initial=0)) << shift <= t_acc.raw_max
    never_overflows = float(col_bound.max(initial=0)) <= t_acc.raw_max
    if prod_fits and (t_acc.overflow == 'WRAP' or never_overflows):
        # Products are exact in accum_t and wrapping is addition mod 2**W: one matmul, one wrap.
        if float(col_bound.max(initial=0)) < _EXACT_FLOAT:
            acc = (x.astype(np.float64, copy=False) @ (w.astype(np.float64) * 2.0**shift)).astype(np.int64)
        else:
            acc = x.astype(np.int64, copy=False) @ (w << shift)
        acc = cast(acc + bias, t_acc.frac, t_acc)
    else:
        x = x.astype(np.int64, copy=False)
        acc = np.broadcast_to(bias, (x.shape[0], w.shape[1])).copy()
        for k in range(w.shape[0]):  # sequential, in nnet's input order, casting at every step
            prod = cast(x[:, k : k + 1] * w[k : k + 1, :], f_prod, t_acc)
            acc = cast(acc + prod, t_acc.frac, t_acc)
    return cast(acc, t_acc.frac, types['output'])


def _pad(x: np.ndarray, padding) -> np.ndarray:
    top, bottom, left, right = padding
    if not any(padding):
        return x
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))


def _windows(x: np.ndarray, kernel, stride) -> np.ndarray:
    """(N, H, W, C) -> (N, OH, OW, KH, KW, C) views of every window."""
    v = sliding_window_view(x, tuple(kernel), axis=(1, 2))  # (N, H', W', C, KH, KW)
    v = v[:, :: stride[0], :: stride[1]]
    return v.transpose(0, 1, 2, 4, 5, 3)


def _tree_reduce(vals: list[np.ndarray], op) -> np.ndarray:
    """nnet::reduce: split at the largest power of two below N, recurse."""
    n = len(vals)
    if n == 1:
        return vals[0]
    if n == 2:
        return op(vals[0], vals[1])
    left = 1 << ((n - 1).bit_length() - 1)
    return op(_tree_reduce(vals[:left], op), _tree_reduce(vals[left:], op))


class GoldenModel:
    """Runs a spec on batches of raw fixed-point inputs."""

    def __init__(self, spec: Spec):
        self.spec = spec

    def quantize_input(self, x) -> np.ndarray:
        """Real-valued inputs -> raw input integers, as hls4ml's C simulation converts them."""
        return from_float(self._check_shape(np.asarray(x, dtype=np.float64)), self.spec.input.type)

    def _check_shape(self, x: np.ndarray) -> np.ndarray:
        shape = self.spec.input.shape
        if x.shape == shape:
            x = x[None]
        if x.shape[1:] != shape:
            if x.ndim >= 2 and int(np.prod(x.shape[1:])) == int(np.prod(shape)):
                return x.reshape((x.shape[0], *shape))
            raise InputError(
                f'input has shape {x.shape}, expected (N, {", ".join(map(str, shape))}) for port {self.spec.input.name}'
            )
        return x

    def run(self, x_raw, trace: bool = False):
        """Raw inputs (N, *input shape) -> raw outputs; with trace=True also {layer name: raw output}."""
        x = self._check_shape(np.asarray(x_raw))
        if not np.issubdtype(x.dtype, np.integer):
            raise InputError(
                f'run() takes raw integers at the input type scale, got {x.dtype}; use predict() for real values'
            )
        t = self.spec.input.type
        if x.size and (x.min() < t.raw_min or x.max() > t.raw_max):
            raise InputError(f'raw input values {x.min()}..{x.max()} outside {t.cpp()} (raw {t.raw_min}..{t.raw_max})')
        x = x.astype(np.int64)
        outputs = {}
        for layer in self.spec.layers:
            x = kind(layer.kind).golden(x, layer)
            if trace:
                outputs[layer.name] = x
        return (x, outputs) if trace else x

    def predict(self, x) -> np.ndarray:
        """Real inputs -> real outputs (float64), like hls4ml's ModelGraph.predict."""
        return to_float(self.run(self.quantize_input(x)), self.spec.output.type)
