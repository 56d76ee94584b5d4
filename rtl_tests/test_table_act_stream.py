"""table_act_stream: every element bit-exact to the sigmoid / tanh (INDEX_MODE 0) and unary_lut (INDEX_MODE 1)
kinds' golden functions under random idle cycles and backpressure, every table index the input type can reach
hit and, for sigmoid / tanh, inputs beyond both table ends; one beat per clock and latency 1 under a continuous
stream, as rtl/timing.py models it.

The pytest side writes the table file with lenet5_hls.rtl.params (the generator's code path) from the
kind's own table (unary_lut: random raw table_t values, the type's extremes included, seeded by the case);
the cocotb side reads the parameters back from the DUT, rebuilds the layer (the table again, with the table
type's rounding and overflow modes from the case, which the parameters do not carry) and computes the
expected outputs with the kind's golden function.
"""

from __future__ import annotations

import dataclasses
import os

import cocotb
import numpy as np
import pytest

from harness import case_dir, cases, check_elementwise, dut_type, param, rtl_sources, run_cocotb
from lenet5_hls.core.fixed_point import FixedType
from lenet5_hls.core.kind import KINDS
from lenet5_hls.core.spec import Layer
from lenet5_hls.rtl import params as rtl_params

MODULE = 'table_act_stream'
N_RANDOM = 200  # random elements after the covering ones
F = FixedType

# kind, elements per beat, table size, types; full: the input type reaches every index and both ends
CASES = {
    # hls4ml's defaults: table of 1024 at ap_fixed<18,8>, a wide input (16 raw steps per index)
    'sigmoid-1024-s16i6': dict(
        kind='sigmoid', n=4, size=1024, full=True, types=dict(input=F(16, 6), table=F(18, 8), output=F(16, 6))
    ),
    # a small table, a narrow input (two raw steps per index), rounding and saturating casts
    'tanh-64-s8i4-rnd': dict(
        kind='tanh',
        n=3,
        size=64,
        full=True,
        types=dict(input=F(8, 4), table=F(10, 2, True, 'RND', 'SAT'), output=F(6, 1, True, 'RND_CONV', 'SAT_SYM')),
    ),
    # unsigned input (upper half of the table only), unsigned table, a right shift in the scaling
    'sigmoid-8-u5i3': dict(
        kind='sigmoid',
        n=2,
        size=8,
        full=False,
        types=dict(
            input=F(5, 3, False), table=F(8, 0, False, 'RND', 'SAT'), output=F(7, 1, True, 'TRN_ZERO', 'SAT_ZERO')
        ),
    ),
    # integer bits beyond the word (raw steps of 4): the index is a left shift of the input
    'tanh-16-s6i8': dict(
        kind='tanh', n=1, size=16, full=False, types=dict(input=F(6, 8), table=F(9, 3), output=F(9, 3))
    ),
    # unary_lut as in an HGQ2 model: signed 8-bit input, one table entry per raw value, a rounding cast
    'lut-256-s8i4': dict(
        kind='unary_lut',
        n=4,
        size=256,
        full=True,
        types=dict(input=F(8, 4), table=F(8, 2), output=F(7, 3, True, 'RND')),
    ),
    # an unsigned input narrower than the table (the bit-exact pass narrows it after a sigmoid), saturating casts
    'lut-128-u6i2-satsym': dict(
        kind='unary_lut',
        n=3,
        size=128,
        full=False,
        types=dict(input=F(6, 2, False), table=F(10, 3), output=F(6, 1, True, 'RND_CONV', 'SAT_SYM')),
    ),
    # negative fractional bits (raw steps of 4), one element per beat, an unsigned table and output
    'lut-32-s5i7-unsigned': dict(
        kind='unary_lut',
        n=1,
        size=32,
        full=True,
        types=dict(input=F(5, 7), table=F(7, 1, False), output=F(5, 2, False, 'RND', 'SAT')),
    ),
}
# Verilator builds are slow: both index shifts (right, left) and a raw-bit index narrower than the table in the
# suite, the exact raw-bit index and the rounding table in the slow set; every case runs under Icarus
VERILATOR_CASES = ('sigmoid-1024-s16i6', 'tanh-16-s6i8', 'lut-128-u6i2-satsym')
SLOW_VERILATOR_CASES = ('tanh-64-s8i4-rnd', 'lut-256-s8i4')


def _table(kind: str, size: int, table_t: FixedType) -> np.ndarray:
    """The kind's table; unary_lut's is any function: random raw values with both extremes, seeded by the size."""
    if kind != 'unary_lut':
        return KINDS[kind].table(size, table_t)
    table = np.random.default_rng(size).integers(table_t.raw_min, table_t.raw_max + 1, size)
    table[:2] = table_t.raw_min, table_t.raw_max
    return table


def _layer(kind: str, n: int, size: int, types: dict[str, FixedType]) -> Layer:
    table = _table(kind, size, types['table'])
    return Layer(kind, kind, (n,), (n,), types, {'table_size': size}, arrays={'table': table})


def _covering_inputs(layer: Layer) -> np.ndarray:
    """Raw inputs at least one per table index the input type reaches (and beyond the ends), then random ones."""
    act, t, size = KINDS[layer.kind], layer.types['input'], layer.attrs['table_size']
    # raw steps per index (unary_lut: every raw value is an index)
    per_index = 1 if layer.kind == 'unary_lut' else max(1, (2 * act.half_range << max(t.frac, 0)) // size)
    cover = np.append(np.arange(t.raw_min, t.raw_max + 1, per_index), t.raw_max)
    rng = np.random.default_rng(len(cover))
    return np.concatenate([cover, rng.integers(t.raw_min, t.raw_max + 1, N_RANDOM)])


def _check_coverage(layer: Layer, x: np.ndarray, full: bool) -> None:
    act, t, size = KINDS[layer.kind], layer.types['input'], layer.attrs['table_size']
    index = act.index(x, t, size)
    reachable = np.unique(np.clip(act.index(np.arange(t.raw_min, t.raw_max + 1), t, size), 0, size - 1))
    hit = np.unique(np.clip(index, 0, size - 1))
    assert np.array_equal(hit, reachable), f'{len(reachable) - len(hit)} reachable table indices never hit'
    if full:
        assert len(hit) == size, f'only {len(hit)} of {size} table indices reachable'
        if layer.kind != 'unary_lut':  # its index is never outside the table
            assert index.min() < 0 and index.max() > size - 1, 'the inputs do not go beyond both table ends'


# ---------------------------------------------------------------------------------------------
# cocotb side
# ---------------------------------------------------------------------------------------------


def _layer_from_dut(dut) -> Layer:
    if param(dut, 'INDEX_MODE') == 1:
        kind = 'unary_lut'
    else:
        kind = next(k for k in ('sigmoid', 'tanh') if KINDS[k].div_log2 == param(dut, 'DIV_LOG2'))
    table_t = CASES[os.environ['TABLE_CASE']]['types']['table']
    assert dataclasses.replace(table_t, rounding='TRN', overflow='WRAP') == dut_type(dut, 'TABLE'), 'TABLE_* parameters'
    types = {'input': dut_type(dut, 'IN'), 'table': table_t, 'output': dut_type(dut, 'OUT', True)}
    return _layer(kind, param(dut, 'N'), param(dut, 'TABLE_SIZE'), types)


@cocotb.test(timeout_time=20, timeout_unit='ms')
@cocotb.parametrize(idle=[False, True], backpressure=[False, True])
async def table_act_random(dut, idle, backpressure):
    layer = _layer_from_dut(dut)
    n = layer.input_shape[0]
    seed = cocotb.RANDOM_SEED + 2 * idle + backpressure
    x = _covering_inputs(layer)
    x = np.resize(np.random.default_rng(seed).permutation(x), (-(-len(x) // n), n))  # whole beats, order shuffled
    await check_elementwise(dut, MODULE, layer, x, idle, backpressure, seed)


# ---------------------------------------------------------------------------------------------
# pytest side
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize('sim, case_id, case', cases(CASES, VERILATOR_CASES, SLOW_VERILATOR_CASES))
def test_table_act_stream(sim, case_id, case):
    layer = _layer(case['kind'], case['n'], case['size'], case['types'])
    _check_coverage(layer, _covering_inputs(layer), case['full'])
    bdir = case_dir(MODULE, sim, case_id)
    bdir.mkdir(parents=True, exist_ok=True)
    table_file = rtl_params.write_table_file(layer, bdir / 'table.mem')
    params = rtl_params.table_act_params(layer, case['n'], KINDS[case['kind']].div_log2, table_file)
    sources = rtl_sources(MODULE)
    run_cocotb(MODULE, 'test_table_act_stream', sim, case_id, params, sources, extra_env={'TABLE_CASE': case_id})
