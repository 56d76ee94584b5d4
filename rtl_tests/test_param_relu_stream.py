"""param_relu_stream: every element bit-exact to the leaky_relu, thresholded_relu and linear kinds' golden functions
under random idle cycles and backpressure, inputs around the threshold included; one beat per clock and
latency 1 under a continuous stream, as rtl/timing.py models it.

The cocotb side reads the parameters back from the DUT, rebuilds the layer (the kind from which of THETA and
ALPHA is set; the parameter type's modes do not matter, its raw value is given) and computes the expected
outputs with the kind's golden function.
"""

from __future__ import annotations

import cocotb
import numpy as np
import pytest

from harness import cases, check_elementwise, dut_type, param, rtl_sources, run_cocotb
from lenet5_hls.core.fixed_point import FixedType
from lenet5_hls.core.kind import KINDS
from lenet5_hls.core.spec import Layer
from lenet5_hls.rtl.params import param_relu_params

MODULE = 'param_relu_stream'
N_BEATS = 300
F = FixedType


def _layer(kind: str, n: int, value: int | None, types: dict[str, FixedType]) -> Layer:
    return Layer(kind, kind, (n,), (n,), types, {} if value is None else {KINDS[kind].param: value})


# kind, raw parameter (None: linear has none), elements per beat, types
CASES = {
    # LeakyReLU(0.1) as hls4ml types it: param ufixed<8,-3> (0.1 -> raw 204), a wide input
    'leaky-0.1': ('leaky_relu', 204, 4, dict(input=F(16, 6), param=F(8, -3, False), output=F(10, 4))),
    # a negative slope of magnitude > 1 (raw -3 at frac 0: -3.0), unsigned output with rounding and saturation
    'leaky-neg-sat': (
        'leaky_relu',
        -3,
        3,
        dict(input=F(8, 4), param=F(3, 3), output=F(6, 3, False, 'RND', 'SAT')),
    ),
    # ReLU(threshold=-1.5) at the input's type (hls4ml's default param_t), narrowing with RND_CONV / SAT_SYM
    'thresholded-neg': (
        'thresholded_relu',
        -96,
        2,
        dict(input=F(10, 4), param=F(10, 4), output=F(7, 3, True, 'RND_CONV', 'SAT_SYM')),
    ),
    # ReLU() (theta 0) on an unsigned input with integer bits outside the word
    'thresholded-zero-unsigned': (
        'thresholded_relu',
        0,
        5,
        dict(input=F(6, 8, False), param=F(6, 8, False), output=F(5, 7, True, 'RND_INF', 'SAT_ZERO')),
    ),
    # linear (a Dropout kept as a cast): slope 1, narrowing with rounding and saturation
    'linear-cast': ('linear', None, 3, dict(input=F(10, 5), output=F(6, 2, True, 'RND', 'SAT'))),
}
VERILATOR_CASES = ('leaky-0.1', 'thresholded-neg', 'linear-cast')


def _inputs(rng: np.random.Generator, layer: Layer) -> np.ndarray:
    """Random raw inputs, the first beats: extremes, 0, +-1 and the values around the threshold."""
    t, n = layer.types['input'], layer.input_shape[0]
    t_p, theta, _ = KINDS[layer.kind].piecewise(layer)
    near = round(theta * 2.0 ** (t.frac - t_p.frac))
    edges = [t.raw_min, t.raw_max, 0, 1, -1, near - 1, near, near + 1]
    x = rng.integers(t.raw_min, t.raw_max + 1, size=(N_BEATS, n), dtype=np.int64)
    edges = [v for v in edges if t.raw_min <= v <= t.raw_max]
    x.reshape(-1)[: len(edges)] = edges
    return x


def _layer_from_dut(dut) -> Layer:
    theta, alpha, t_p = param(dut, 'THETA'), param(dut, 'ALPHA'), dut_type(dut, 'P')
    assert theta == 0 or alpha == 0, 'a case sets both THETA and ALPHA'
    types = {'input': dut_type(dut, 'IN'), 'output': dut_type(dut, 'OUT', True)}
    if KINDS['linear'].piecewise(None) == (t_p, theta, alpha):
        return _layer('linear', param(dut, 'N'), None, types)
    kind, value = ('leaky_relu', alpha) if alpha else ('thresholded_relu', theta)
    return _layer(kind, param(dut, 'N'), value, types | {'param': t_p})


@cocotb.test(timeout_time=2, timeout_unit='ms')
@cocotb.parametrize(idle=[False, True], backpressure=[False, True])
async def param_relu_random(dut, idle, backpressure):
    layer = _layer_from_dut(dut)
    seed = cocotb.RANDOM_SEED + 2 * idle + backpressure
    await check_elementwise(dut, MODULE, layer, _inputs(np.random.default_rng(seed), layer), idle, backpressure, seed)


@pytest.mark.parametrize('sim, case_id, case', cases(CASES, VERILATOR_CASES))
def test_param_relu_stream(sim, case_id, case):
    kind, value, n, types = case
    layer = _layer(kind, n, value, types)
    KINDS[kind].check(layer, case_id)
    params = param_relu_params(layer, n, *KINDS[kind].piecewise(layer))
    sources = rtl_sources(MODULE)
    run_cocotb(MODULE, 'test_param_relu_stream', sim, case_id, params, sources)
