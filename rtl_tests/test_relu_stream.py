"""relu_stream: every element bit-exact to the relu kind's golden function (ReLU + ap_fixed cast) under random
idle cycles and backpressure; one beat per clock, latency 1, when the stream is continuous."""

from __future__ import annotations

import random

import cocotb
import numpy as np
import pytest

from harness import HandshakeLog, StreamBench, cases, param, rtl_sources, run_cocotb
from lenet5_hls.core.fixed_point import OVERFLOW_MODES, ROUNDING_MODES, FixedType
from lenet5_hls.core.kind import KINDS
from lenet5_hls.core.spec import Layer
from lenet5_hls.rtl.params import OVERFLOW_CODES, ROUNDING_CODES, requant_params
from lenet5_hls.verify.benches.streams import assert_cycles, pack, unpack

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
VERILATOR_CASES = ('n4-s8i4-u8i4', 'n3-s10i4-u6i3-rnd-sat', 'n5-s6im2-s5i7-inf-satzero')


def _types(dut) -> tuple[int, FixedType, FixedType]:
    """N and the input/output types, read back from the HDL parameters."""
    rounding = ROUNDING_MODES[param(dut, 'ROUNDING')]
    overflow = OVERFLOW_MODES[param(dut, 'OVERFLOW')]
    w_in, w_out = param(dut, 'IN_W'), param(dut, 'OUT_W')
    t_in = FixedType(w_in, w_in - param(dut, 'IN_FRAC'), bool(param(dut, 'IN_SIGNED')))
    t_out = FixedType(w_out, w_out - param(dut, 'OUT_FRAC'), bool(param(dut, 'OUT_SIGNED')), rounding, overflow)
    return param(dut, 'N'), t_in, t_out


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
    n, t_in, t_out = _types(dut)
    assert (ROUNDING_CODES[t_out.rounding], OVERFLOW_CODES[t_out.overflow]) == (
        param(dut, 'ROUNDING'),
        param(dut, 'OVERFLOW'),
    )
    seed = cocotb.RANDOM_SEED + 2 * idle + backpressure
    rng = np.random.default_rng(seed)
    layer = Layer('relu', 'relu', (n,), (n,), {'input': t_in, 'output': t_out})

    tb = StreamBench(dut, idle, backpressure, seed=random.Random(seed).random())
    log = HandshakeLog(dut)
    await tb.reset()

    x = _random_inputs(rng, N_BEATS, n, t_in)
    expected = KINDS['relu'].golden(x, layer)
    await tb.send([pack(row, t_in.width) for row in x])
    words, _ = await tb.recv(N_BEATS, timeout_cycles=50)
    await tb.expect_quiet(20)
    log.check()

    got = np.array([unpack(w, n, t_out.width, t_out.signed) for w in words], dtype=np.int64)
    bad = np.argwhere(got != expected)
    assert bad.size == 0, (
        f'{len(bad)} of {expected.size} elements differ from the relu golden function ({t_in.cpp()} -> {t_out.cpp()}); '
        'first: '
        + ', '.join(f'beat {b} elem {e}: x={x[b, e]} got {got[b, e]} expected {expected[b, e]}' for b, e in bad[:5])
    )
    assert len(log.in_cycles) == N_BEATS, f'{len(log.in_cycles)} s_axis handshakes for {N_BEATS} beats'
    assert len(log.out_cycles) == N_BEATS, f'{len(log.out_cycles)} m_axis handshakes for {N_BEATS} beats'
    if not idle and not backpressure:
        # analytical: one beat per clock, latency 1 -> first input to last output spans N_BEATS + 1 cycles
        assert_cycles(
            log.out_cycles[-1] - log.in_cycles[0] + 1, N_BEATS + 1, f'{MODULE} continuous stream of {N_BEATS} beats'
        )
        gaps = [(a, b) for a, b in zip(log.in_cycles, log.in_cycles[1:]) if b != a + 1]
        assert not gaps, f's_axis stalled under continuous input and a ready sink: gaps {gaps[:5]}'


@pytest.mark.parametrize('sim, case_id, params', cases(CASES, VERILATOR_CASES))
def test_relu_stream(sim, case_id, params):
    run_cocotb(MODULE, 'test_relu_stream', sim, case_id, params, rtl_sources(MODULE, 'fxp_requant'))
