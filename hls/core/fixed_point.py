"""Xilinx ap_fixed semantics on integer NumPy arrays.

A fixed-point value is held as its raw two's-complement integer (int64) plus the number of fractional
bits. `cast` reproduces an ap_fixed assignment exactly: quantization (7 rounding modes) on the dropped
bits, then overflow (4 modes) on the kept ones, as in ap_fixed_base.h's quantization_adjust /
overflow_adjust. We do not use the float-based `quantizers` package here: it has no SAT_ZERO and works
in float64, while accumulators and products need exact integers (it serves as a cross-check in tests).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np

ROUNDING_MODES = ('TRN', 'TRN_ZERO', 'RND', 'RND_ZERO', 'RND_MIN_INF', 'RND_INF', 'RND_CONV')
OVERFLOW_MODES = ('WRAP', 'SAT', 'SAT_ZERO', 'SAT_SYM')
MAX_WIDTH = 62  # raw values and their products of partial sums must stay inside int64


@dataclass(frozen=True)
class FixedType:
    """ap_[u]fixed<width, integer, rounding, overflow>: `integer` counts the sign bit, as ap_fixed does."""

    width: int
    integer: int
    signed: bool = True
    rounding: str = 'TRN'
    overflow: str = 'WRAP'

    def __post_init__(self):
        if not isinstance(self.width, int) or not 1 <= self.width <= MAX_WIDTH:
            raise ValueError(f'fixed-point width must be an integer in 1..{MAX_WIDTH}, got {self.width!r}')
        if not isinstance(self.integer, int):
            raise ValueError(f'fixed-point integer bits must be an integer, got {self.integer!r}')
        if self.rounding not in ROUNDING_MODES:
            raise ValueError(f'rounding mode {self.rounding!r} unknown; one of {", ".join(ROUNDING_MODES)}')
        if self.overflow not in OVERFLOW_MODES:
            raise ValueError(f'overflow mode {self.overflow!r} unknown; one of {", ".join(OVERFLOW_MODES)}')

    @property
    def frac(self) -> int:
        return self.width - self.integer

    @property
    def raw_min(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def raw_max(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    def cpp(self) -> str:
        """The C++ type, as hls4ml writes it (the `0` is ap_fixed's saturation-bits argument)."""
        base = 'ap_fixed' if self.signed else 'ap_ufixed'
        return f'{base}<{self.width},{self.integer},AP_{self.rounding},AP_{self.overflow},0>'

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def parse(cls, text: str) -> FixedType:
        """Parse 'ap_fixed<8,3,AP_RND,AP_SAT>' / 'fixed<8,3,RND,SAT,0>' / 'ufixed<8,0>' / 'ap_int<4>'."""
        m = re.fullmatch(r'\s*(?:ap_)?(u?)(fixed|int)<([^>]*)>\s*', text)
        if not m:
            raise ValueError(f'cannot parse fixed-point type {text!r}')
        unsigned, kind, args = m.group(1) == 'u', m.group(2), [a.strip() for a in m.group(3).split(',')]
        width = int(args[0])
        integer = width if kind == 'int' else int(args[1])
        rest = args[1:] if kind == 'int' else args[2:]
        rounding = rest[0].removeprefix('AP_') if len(rest) > 0 else 'TRN'
        overflow = rest[1].removeprefix('AP_') if len(rest) > 1 else 'WRAP'
        if len(rest) > 2 and int(rest[2]) != 0:
            raise ValueError(f'{text}: saturation bits N={rest[2]} are not supported (only 0)')
        return cls(width, integer, not unsigned, rounding, overflow)


def wide(t: FixedType) -> FixedType:
    """t's LSB and rounding with 62 bits: a cast to it rounds like a cast to t but never overflows."""
    return FixedType(MAX_WIDTH, MAX_WIDTH - t.frac, True, t.rounding, 'WRAP')


def _round_shift(raw: np.ndarray, shift: int, mode: str) -> np.ndarray:
    """Drop `shift` low bits of raw (shift > 0) with ap_fixed rounding `mode`."""
    q = raw >> shift  # floor division by 2**shift
    if mode == 'TRN':
        return q
    r = raw - (q << shift)  # 0 <= r < 2**shift: the dropped bits
    half = 1 << (shift - 1)
    neg = raw < 0
    if mode == 'TRN_ZERO':
        return q + (neg & (r != 0))
    above, tie = r > half, r == half
    if mode == 'RND':
        return q + (r >= half)
    if mode == 'RND_ZERO':
        return q + (above | (tie & neg))
    if mode == 'RND_MIN_INF':
        return q + above
    if mode == 'RND_INF':
        return q + (above | (tie & ~neg))
    if mode == 'RND_CONV':
        return q + (above | (tie & ((q & 1) == 1)))
    raise ValueError(f'rounding mode {mode!r} unknown')


def _overflow(v: np.ndarray, t: FixedType) -> np.ndarray:
    lo, hi = t.raw_min, t.raw_max
    # SAT_SYM treats the most negative value as an overflow too (ap_fixed maps it to -max).
    lo_ok = lo + 1 if t.overflow == 'SAT_SYM' and t.signed else lo
    if v.size == 0 or (lo_ok <= v.min() and v.max() <= hi):  # common case, two cheap reductions
        return v
    if t.overflow == 'WRAP':
        span = 1 << t.width
        wrapped = v & (span - 1)
        if t.signed:
            wrapped = np.where(wrapped > hi, wrapped - span, wrapped)
        return wrapped
    if t.overflow == 'SAT':
        return np.clip(v, lo, hi)
    if t.overflow == 'SAT_SYM':
        return np.clip(v, lo + 1 if t.signed else lo, hi)
    if t.overflow == 'SAT_ZERO':
        return np.where((v < lo) | (v > hi), 0, v)
    raise ValueError(f'overflow mode {t.overflow!r} unknown')


def cast(raw, frac_in: int, t: FixedType) -> np.ndarray:
    """Assign a fixed-point value (raw integers with frac_in fractional bits) to type t; returns t's raw.
    raw is int64, or an object array of Python integers for values wider than int64 (exact, slower)."""
    raw = np.asarray(raw)
    if raw.dtype != object:
        raw = raw.astype(np.int64, copy=False)
    shift = frac_in - t.frac
    if shift > 0:
        raw = _round_shift(raw, shift, t.rounding)
    elif shift < 0:
        raw = raw << -shift
    return _overflow(raw, t).astype(np.int64, copy=False)


def from_float(x, t: FixedType) -> np.ndarray:
    """Quantize real numbers to t (as ap_fixed's constructor from double does); returns raw integers."""
    x = np.asarray(x, dtype=np.float64)
    # 30 guard bits below t's LSB plus a sticky bit for anything further down decide every rounding
    # mode exactly: only "below / at / above the tie" and "exact or not" matter.
    guard = 30
    scaled = x * 2.0 ** (t.frac + guard)
    if not np.all(np.isfinite(scaled)) or np.any(np.abs(scaled) >= 2.0**62):
        raise ValueError(
            f'value out of range for conversion to {t.cpp()} (|x| must stay below 2**{61 - t.frac - guard})'
        )
    floor = np.floor(scaled)
    raw = floor.astype(np.int64) | (scaled != floor)
    return cast(raw, t.frac + guard, t)


def to_float(raw, t_or_frac) -> np.ndarray:
    """Raw integers -> float64 values (exact for widths <= 53)."""
    frac = t_or_frac.frac if isinstance(t_or_frac, FixedType) else int(t_or_frac)
    return np.asarray(raw, dtype=np.float64) * 2.0 ** (-frac)
