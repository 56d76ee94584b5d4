"""scale_bias_stream: every element bit-exact to the batchnorm kind's golden function under random idle cycles and
backpressure, with the scales and biases following the channels in stream order (one word per beat for an
(H, W, C) tensor, several for a flattened one, and a pattern that repeats over neither); the extreme inputs,
scales and biases included, so the casts round and saturate; one beat per clock and latency 2 under a
continuous stream, as rtl/timing.py models it.

The pytest side writes the scale and bias files with lenet5_hls.rtl.params (the generator's code path); the
cocotb side rebuilds the same layer from the case named in SCALE_BIAS_CASE, checks the DUT's parameters
against it and computes the expected outputs with the kind's golden function.
"""

from __future__ import annotations

import math
import os

import cocotb
import numpy as np
import pytest

from harness import case_dir, cases, check_elementwise, dut_type, param, rtl_sources, run_cocotb
from lenet5_hls.core.fixed_point import FixedType
from lenet5_hls.core.kind import KINDS
from lenet5_hls.core.spec import Layer
from lenet5_hls.rtl import params as rtl_params

MODULE = 'scale_bias_stream'
N_INPUTS = 60  # whole layer inputs per cocotb test
F = FixedType

# elements per beat, layer input shape, entries (C: element e uses entry e % C), types
CASES = {
    # a conv's (H, W, C) output, one pixel per beat (DEPTH 1); hls4ml's default 16-bit types, a wrapping output
    'pixel-6ch': dict(
        n=6, shape=(2, 3, 6), c=6, types=dict(input=F(16, 6), scale=F(16, 6), bias=F(16, 6), output=F(18, 8))
    ),
    # a flattened input with a scale per element, 4 per beat (DEPTH 3); unsigned input, rounding and saturation
    'flat-12-by-4': dict(
        n=4,
        shape=(12,),
        c=12,
        types=dict(input=F(8, 3, False), scale=F(6, 1), bias=F(8, 2), output=F(8, 4, True, 'RND', 'SAT')),
    ),
    # one element per beat; integer bits beyond the words (negative fractions), an unsigned bias finer than the
    # product, whose sum rounds to even
    'n1-negfrac': dict(
        n=1,
        shape=(3,),
        c=3,
        types=dict(input=F(6, 8), scale=F(5, 7), bias=F(8, 6, False), output=F(9, 13, True, 'RND_CONV', 'SAT_SYM')),
    ),
    # 6 entries over 4-element beats: the pattern repeats every 3 beats; unsigned saturating-to-zero output
    'repeat-6-over-4': dict(
        n=4,
        shape=(12,),
        c=6,
        types=dict(input=F(10, 4), scale=F(8, 2, False), bias=F(9, 5), output=F(10, 4, False, 'TRN_ZERO', 'SAT_ZERO')),
    ),
}
VERILATOR_CASES = ('pixel-6ch', 'flat-12-by-4', 'n1-negfrac')


def _extremes(t: FixedType, size: int, rng: np.random.Generator) -> np.ndarray:
    """Random raw values of t with its minimum, maximum, 0 and 1 among the first."""
    values = rng.integers(t.raw_min, t.raw_max + 1, size)
    edges = [v for v in (t.raw_max, t.raw_min, 0, 1) if t.raw_min <= v <= t.raw_max]
    values[: min(size, len(edges))] = edges[:size]
    return values


def _layer(case_id: str) -> Layer:
    case = CASES[case_id]
    rng = np.random.default_rng(list(CASES).index(case_id))
    types, c = case['types'], case['c']
    arrays = {k: _extremes(types[k], c, rng) for k in ('scale', 'bias')}
    arrays['bias'] = arrays['bias'][::-1].copy()  # the largest scale meets the smallest bias
    layer = Layer(case_id, 'batchnorm', case['shape'], case['shape'], types, arrays=arrays)
    KINDS['batchnorm'].check(layer, case_id)
    return layer


def _inputs(layer: Layer, n: int, seed: int) -> np.ndarray:
    """N_INPUTS whole inputs as (beats, n): random raw values, the extremes first."""
    t = layer.types['input']
    x = _extremes(t, N_INPUTS * math.prod(layer.input_shape), np.random.default_rng(seed))
    return x.reshape(-1, n)


# ---------------------------------------------------------------------------------------------
# cocotb side
# ---------------------------------------------------------------------------------------------


@cocotb.test(timeout_time=2, timeout_unit='ms')
@cocotb.parametrize(idle=[False, True], backpressure=[False, True])
async def scale_bias_random(dut, idle, backpressure):
    layer = _layer(os.environ['SCALE_BIAS_CASE'])
    n = param(dut, 'N')
    assert n == CASES[layer.name]['n'] and param(dut, 'DEPTH') == math.lcm(n, CASES[layer.name]['c']) // n
    for prefix, key in (('IN', 'input'), ('S', 'scale'), ('B', 'bias')):
        assert dut_type(dut, prefix) == layer.types[key], f'{prefix}_* parameters'
    assert dut_type(dut, 'OUT', True) == layer.types['output'], 'OUT_*, ROUNDING, OVERFLOW parameters'
    seed = cocotb.RANDOM_SEED + 2 * idle + backpressure
    await check_elementwise(dut, MODULE, layer, _inputs(layer, n, seed), idle, backpressure, seed)


# ---------------------------------------------------------------------------------------------
# pytest side
# ---------------------------------------------------------------------------------------------


def test_cases_saturate_and_vary():
    """The inputs drive every case's cast beyond its output range (or wrap it) and give many distinct outputs."""
    for case_id in CASES:
        layer = _layer(case_id)
        x = _inputs(layer, CASES[case_id]['n'], 1).reshape(-1, *layer.input_shape)
        t = layer.types
        frac = t['input'].frac + t['scale'].frac
        exact = x.reshape(len(x), -1, layer.arrays['scale'].size) * layer.arrays['scale']
        real = exact * 2.0**-frac + (layer.arrays['bias'] * 2.0 ** -t['bias'].frac)
        out = t['output']
        assert real.max() > out.raw_max * 2.0**-out.frac or real.min() < out.raw_min * 2.0**-out.frac, case_id
        assert np.unique(KINDS['batchnorm'].golden(x, layer)).size > 20, case_id


@pytest.mark.parametrize('sim, case_id, case', cases(CASES, VERILATOR_CASES))
def test_scale_bias_stream(sim, case_id, case):
    layer = _layer(case_id)
    bdir = case_dir(MODULE, sim, case_id)
    bdir.mkdir(parents=True, exist_ok=True)
    s_file, b_file = bdir / 'scale.mem', bdir / 'bias.mem'
    depth = rtl_params.write_scale_bias_files(layer, case['n'], s_file, b_file)
    params = rtl_params.scale_bias_params(layer, case['n'], depth, s_file, b_file)
    sources = rtl_sources(MODULE)
    run_cocotb(MODULE, 'test_scale_bias_stream', sim, case_id, params, sources, extra_env={'SCALE_BIAS_CASE': case_id})
