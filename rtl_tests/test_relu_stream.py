"""relu_stream: every element bit-exact to the relu kind's golden function (ReLU + ap_fixed cast) under random
idle cycles and backpressure; one beat per clock, latency 1, when the stream is continuous (rtl/timing.py)."""

from __future__ import annotations

import cocotb
import numpy as np
import pytest

from harness import cases, check_elementwise, dut_type, param, rtl_sources, run_cocotb
from lenet5_hls.core.fixed_point import FixedType
from lenet5_hls.core.spec import Layer
from lenet5_hls.rtl.params import requant_params

MODULE = 'relu_stream'
N_BEATS = 300


def _params(n: int, t_in: FixedType, t_out: FixedType) -> dict:
    return {'N': n, **requant_params(t_in, t_out)}


CASES = {
    # hls4ml's usual ReLU: signed in, unsigned out of the same format
    'n4-s8i4-u8i4': _params(4, FixedType(8, 4), FixedType(8, 4, False)),
    # narrowing with rounding and saturation
    'n3-s10i4-u6i3-rnd-sat': _params(3, FixedType(10, 4), FixedType(6, 3, False, 'RND', 'SAT')),
    # unsigned input, more fractional bits out (left shift), signed output with SAT_SYM
    'n1-u7i5-s9i4-conv-satsym': _params(1, FixedType(7, 5, False), FixedType(9, 4, True, 'RND_CONV', 'SAT_SYM')),
    # integer bits outside the word: all-fractional input (integer -2), negative-fraction output
    'n5-s6im2-s5i7-inf-satzero': _params(5, FixedType(6, -2), FixedType(5, 7, True, 'RND_INF', 'SAT_ZERO')),
}
VERILATOR_CASES = ('n3-s10i4-u6i3-rnd-sat',)
# for time: every case runs under Icarus in the suite
SLOW_VERILATOR_CASES = ('n4-s8i4-u8i4', 'n5-s6im2-s5i7-inf-satzero')


def _random_inputs(rng: np.random.Generator, n_beats: int, n: int, t: FixedType) -> np.ndarray:
    x = rng.integers(t.raw_min, t.raw_max + 1, size=(n_beats, n), dtype=np.int64)
    # edge values in the first beats: extremes, zero, +-1 LSB
    edges = [v for v in (t.raw_min, t.raw_max, 0, 1, -1, t.raw_min + 1, t.raw_max - 1) if t.raw_min <= v <= t.raw_max]
    flat = x.reshape(-1)
    flat[: len(edges)] = edges
    return x


@cocotb.test(timeout_time=2, timeout_unit='ms')
@cocotb.parametrize(idle=[False, True], backpressure=[False, True])
async def relu_random(dut, idle, backpressure):
    n, t_in = param(dut, 'N'), dut_type(dut, 'IN')
    layer = Layer('relu', 'relu', (n,), (n,), {'input': t_in, 'output': dut_type(dut, 'OUT', True)})
    seed = cocotb.RANDOM_SEED + 2 * idle + backpressure
    x = _random_inputs(np.random.default_rng(seed), N_BEATS, n, t_in)
    await check_elementwise(dut, MODULE, layer, x, idle, backpressure, seed)


@pytest.mark.parametrize('sim, case_id, params', cases(CASES, VERILATOR_CASES, SLOW_VERILATOR_CASES))
def test_relu_stream(sim, case_id, params):
    run_cocotb(MODULE, 'test_relu_stream', sim, case_id, params, rtl_sources(MODULE))
