"""fxp_requant: bit-exact to fixed_point.cast for all 7 rounding x 4 overflow modes, signed/unsigned in and out.

The toplevel is rtl_tests/hdl/fxp_requant_modes.v, which holds one fxp_requant per mode pair for the same
types, so one build covers the 28 modes of a type pair. Inputs are exhaustive for narrow inputs; wide inputs
get random values plus the edges (ties of both signs, the values around every output limit, min/max).
"""

from __future__ import annotations

import cocotb
import numpy as np
import pytest
from cocotb.triggers import Timer

from harness import TESTS_DIR, cases, param, rtl_sources, run_cocotb
from lenet5_hls.core.fixed_point import OVERFLOW_MODES, ROUNDING_MODES, FixedType, cast
from lenet5_hls.rtl.params import OVERFLOW_CODES, ROUNDING_CODES, type_params
from lenet5_hls.verify.benches.streams import resolvable, unpack

MODULE = 'fxp_requant'
TOPLEVEL = 'fxp_requant_modes'
EXHAUSTIVE_BITS = 12  # inputs up to this width are tested with every value
N_RANDOM = 1500


def _pair(t_in: FixedType, t_out: FixedType) -> dict:
    return {**type_params('IN', t_in), **type_params('OUT', t_out)}


CASES = {
    # signed -> signed, 4 bits rounded off, overflow on both sides
    's10i4-s6i4': _pair(FixedType(10, 4), FixedType(6, 4)),
    # unsigned -> signed, 3 fractional bits appended (left shift)
    'u8i6-s9i4': _pair(FixedType(8, 6, False), FixedType(9, 4)),
    # signed -> unsigned, shift (8) larger than the input width (6)
    's6im3-u4i3': _pair(FixedType(6, -3), FixedType(4, 3, False)),
    # unsigned -> unsigned, rounding
    'u9i2-u5i2': _pair(FixedType(9, 2, False), FixedType(5, 2, False)),
    # negative fractional bits on both sides (integer bits beyond the width)
    's7i9-s5i9': _pair(FixedType(7, 9), FixedType(5, 9)),
    # output with more fractional bits than its width
    's8i5-s6im4': _pair(FixedType(8, 5), FixedType(6, -4)),
    # shift equal to the input width, same width signed -> unsigned
    's12i0-u12i12': _pair(FixedType(12, 0), FixedType(12, 12, False)),
    # 1-bit words
    'u1i1-s1i1': _pair(FixedType(1, 1, False), FixedType(1, 1)),
    # wide input (random + edges), 13 bits rounded off
    's40i20-s16i9': _pair(FixedType(40, 20), FixedType(16, 9)),
    # wide unsigned input into a narrow signed output, large right shift
    'u33i3-s7i2': _pair(FixedType(33, 3, False), FixedType(7, 2)),
}
VERILATOR_CASES = ('s40i20-s16i9',)
SLOW_VERILATOR_CASES = ('s10i4-s6i4', 's6im3-u4i3')  # for time: every case runs under Icarus in the suite


def _types(dut) -> tuple[FixedType, FixedType]:
    w_in, w_out = param(dut, 'IN_W'), param(dut, 'OUT_W')
    t_in = FixedType(w_in, w_in - param(dut, 'IN_FRAC'), bool(param(dut, 'IN_SIGNED')))
    t_out = FixedType(w_out, w_out - param(dut, 'OUT_FRAC'), bool(param(dut, 'OUT_SIGNED')))
    return t_in, t_out


def _edge_inputs(t_in: FixedType, t_out: FixedType) -> set[int]:
    """Ties (both signs), values around every output limit and around zero, input min/max."""
    shift = t_in.frac - t_out.frac
    limits = [t_out.raw_min, t_out.raw_max, t_out.raw_min + 1, 0]
    quotients = {q + d for q in limits for d in (-2, -1, 0, 1, 2)}
    vals = {t_in.raw_min, t_in.raw_max, t_in.raw_min + 1, t_in.raw_max - 1, 0, 1, -1}
    if shift > 0:
        half = 1 << (shift - 1)
        for q in quotients:
            for r in {0, 1, half - 1, half, half + 1, (1 << shift) - 1}:
                vals.add((q << shift) + r)
    else:
        for q in quotients:
            base = q >> -shift
            vals.update({base - 1, base, base + 1})
    return {v for v in vals if t_in.raw_min <= v <= t_in.raw_max}


def _inputs(t_in: FixedType, t_out: FixedType, rng: np.random.Generator) -> np.ndarray:
    if t_in.width <= EXHAUSTIVE_BITS:
        return np.arange(t_in.raw_min, t_in.raw_max + 1, dtype=np.int64)
    vals = _edge_inputs(t_in, t_out)
    vals.update(int(v) for v in rng.integers(t_in.raw_min, t_in.raw_max + 1, size=N_RANDOM, dtype=np.int64))
    return np.array(sorted(vals), dtype=np.int64)


@cocotb.test(timeout_time=10, timeout_unit='ms')
async def all_modes(dut):
    t_in, t_out = _types(dut)
    rng = np.random.default_rng(cocotb.RANDOM_SEED)
    x = _inputs(t_in, t_out, rng)
    shift = t_in.frac - t_out.frac
    # the stimulus must hold the cases that tell the modes apart, wherever the input range allows them
    assert x.min() == t_in.raw_min and x.max() == t_in.raw_max, 'stimulus misses the input min/max'
    if shift > 0:
        half = 1 << (shift - 1)
        rem = x & ((1 << shift) - 1)
        if half <= t_in.raw_max:
            assert np.any((rem == half) & (x >= 0)), 'stimulus has no positive tie'
        if -half >= t_in.raw_min:
            assert np.any((rem == half) & (x < 0)), 'stimulus has no negative tie'
        aligned, first_over, last_under = x >> shift, t_out.raw_max + 1, t_out.raw_min - 1
        reachable = (t_in.raw_min >> shift, t_in.raw_max >> shift)
    else:  # aligned values are the inputs times 2**-shift
        aligned = x << -shift
        first_over = ((t_out.raw_max >> -shift) + 1) << -shift
        last_under = ((t_out.raw_min - 1) >> -shift) << -shift
        reachable = (t_in.raw_min << -shift, t_in.raw_max << -shift)
    for edge in (first_over, last_under):  # the first value beyond each output limit (floor rounding)
        if reachable[0] <= edge <= reachable[1]:
            assert np.any(aligned == edge), f'stimulus misses the overflow edge {edge} (output raw units)'

    got = np.empty((len(x), 28), dtype=np.int64)
    mask = (1 << t_in.width) - 1
    for i, v in enumerate(x):
        dut.in_data.value = int(v) & mask
        await Timer(1, unit='ns')
        out = dut.out_data.value
        assert resolvable(out), f'X/Z on out_data for in_data={v}: {out}'
        got[i] = unpack(int(out), 28, t_out.width, t_out.signed)

    failures = []
    for rounding in ROUNDING_MODES:
        for overflow in OVERFLOW_MODES:
            col = ROUNDING_CODES[rounding] * 4 + OVERFLOW_CODES[overflow]
            t = FixedType(t_out.width, t_out.integer, t_out.signed, rounding, overflow)
            expected = cast(x, t_in.frac, t)
            bad = np.flatnonzero(got[:, col] != expected)
            if bad.size:
                i = bad[0]
                failures.append(
                    f'{t_in.cpp()} -> {t.cpp()}: {bad.size} of {len(x)} differ, e.g. in raw {x[i]}: '
                    f'got {got[i, col]}, expected {expected[i]}'
                )
    assert not failures, '\n'.join(failures)
    dut._log.info('%d inputs x 28 modes bit-exact (%s -> %s)', len(x), t_in.cpp(), t_out.cpp())


@pytest.mark.parametrize('sim, case_id, params', cases(CASES, VERILATOR_CASES, SLOW_VERILATOR_CASES))
def test_fxp_requant(sim, case_id, params):
    sources = rtl_sources(MODULE) + [TESTS_DIR / 'hdl' / f'{TOPLEVEL}.v']
    run_cocotb(TOPLEVEL, 'test_fxp_requant', sim, case_id, params, sources)
