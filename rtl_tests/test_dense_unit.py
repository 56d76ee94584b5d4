"""dense_unit: every output element bit-exact to the dense / conv2d kinds' golden functions under random
idle cycles and backpressure; FINN-style check of the simulated cycles per vector against the analytical
N_IN*N_OUT/MULTS under a continuous stream.

The pytest side draws random integer weights and biases per case, writes the $readmemh ROM images with
lenet5_hls.rtl.params (the generator's code path) and the raw arrays as NPZ beside them; the cocotb side
rebuilds the fixed-point types from the HDL parameters it reads back from the DUT and computes the expected
outputs with the golden model.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import zlib
from pathlib import Path

import cocotb
import numpy as np
import pytest

from harness import HandshakeLog, StreamBench, case_dir, cases, param, rtl_sources, run_cocotb
from lenet5_hls.core.fixed_point import OVERFLOW_MODES, ROUNDING_MODES, FixedType
from lenet5_hls.core.kind import KINDS
from lenet5_hls.core.spec import Layer
from lenet5_hls.rtl import params as rtl_params
from lenet5_hls.rtl.timing import stream_timing
from lenet5_hls.verify.benches.streams import assert_cycles, pack, unpack
from lenet5_hls.verify.sim_runner import PRIMITIVE_MODELS, PRIMITIVE_MODELS_DEFINE, VERILATOR_QUICK

MODULE = 'dense_unit'
N_VECTORS = 40
F = FixedType

# kind, (n_in, n_out) or conv (kh, kw, cin, cout), MULTS, types, properties the data must exhibit
CASES = {
    # exact products, wrapping accumulator that does wrap; PO=3 x PI=1, 16 cycles per vector
    'wrap-8x6-m3': dict(
        kind='dense',
        shape=(8, 6),
        mults=3,
        expect=('acc_overflow',),
        types=dict(
            input=F(6, 2, False), weight=F(5, 1), bias=F(8, 3), accum=F(11, 3), output=F(9, 4, True, 'RND', 'SAT')
        ),
    ),
    # products rounded (RND_CONV) into a saturating accumulator that saturates mid-sum; PO=2 x PI=5, 2 cycles
    'sat-5x4-m10': dict(
        kind='dense',
        shape=(5, 4),
        mults=10,
        expect=('acc_overflow', 'acc_rounding'),
        types=dict(
            input=F(7, 3),
            weight=F(6, 1),
            bias=F(6, 2),
            accum=F(8, 3, True, 'RND_CONV', 'SAT'),
            output=F(5, 2, True, 'RND_INF', 'SAT_SYM'),
        ),
    ),
    # fully parallel (1 cycle per vector), unsigned bias, SAT_SYM accumulator, unsigned wrapping output
    'full-4x3-m12': dict(
        kind='dense',
        shape=(4, 3),
        mults=12,
        expect=('acc_overflow', 'acc_rounding'),
        types=dict(
            input=F(8, 4),
            weight=F(4, 2),
            bias=F(5, 3, False),
            accum=F(9, 4, True, 'TRN_ZERO', 'SAT_SYM'),
            output=F(6, 3, False, 'RND_MIN_INF', 'WRAP'),
        ),
    ),
    # one multiplier (18 cycles per vector), unsigned weights, SAT_ZERO accumulator
    'seq-6x3-m1': dict(
        kind='dense',
        shape=(6, 3),
        mults=1,
        expect=('acc_overflow', 'acc_rounding'),
        types=dict(
            input=F(6, 1),
            weight=F(4, 0, False),
            bias=F(10, 2),
            accum=F(9, 2, True, 'RND_ZERO', 'SAT_ZERO'),
            output=F(7, 3, True, 'RND', 'SAT'),
        ),
    ),
    # a 3x3x2 -> 4 convolution window (input index (ky*KW + kx)*C + c), checked against conv2d's golden function
    'conv3x3x2-4-m6': dict(
        kind='conv2d',
        shape=(3, 3, 2, 4),
        mults=6,
        expect=(),
        types=dict(
            input=F(8, 3, False), weight=F(6, 1), bias=F(8, 2), accum=F(20, 8), output=F(12, 6, True, 'RND', 'SAT')
        ),
    ),
    # a weight ROM deeper than one block RAM bank (1,040 steps: 3 banks of 347 words, the last part-filled):
    # the banks' words side by side, a register stage before the bank multiplexer
    'banked-40x26-m1': dict(
        kind='dense',
        shape=(40, 26),
        mults=1,
        expect=(),
        types=dict(input=F(6, 2), weight=F(5, 2), bias=F(8, 3), accum=F(14, 5), output=F(10, 4, True, 'RND', 'SAT')),
    ),
    # the ECP5 DSP primitives (MULT18X18D with their registers, on the primitive's model): the widest
    # operands they take (17-bit unsigned input, 18-bit weight; a 37-bit product), PO=4 x PI=2
    'ecp5-widest-6x4-m8': dict(
        kind='dense',
        shape=(6, 4),
        mults=8,
        expect=(),
        target='ecp5',
        types=dict(
            input=F(17, 5, False), weight=F(18, 9), bias=F(12, 4), accum=F(40, 14), output=F(16, 6, True, 'RND', 'SAT')
        ),
    ),
}
# ... and a saturating accumulator (in-order chain) behind them
CASES['ecp5-sat-5x4-m10'] = dict(CASES['sat-5x4-m10'], target='ecp5')
VERILATOR_CASES = ('sat-5x4-m10', 'ecp5-widest-6x4-m8')
SLOW_VERILATOR_CASES = ('wrap-8x6-m3', 'full-4x3-m12')  # for time: every case runs under Icarus in the suite


def _layer(kind: str, shape: tuple, types: dict, weight: np.ndarray, bias: np.ndarray) -> Layer:
    if kind == 'conv2d':
        kh, kw, cin, cout = shape
        return Layer(
            'conv',
            'conv2d',
            (kh, kw, cin),
            (1, 1, cout),
            types,
            attrs={'kernel': [kh, kw], 'stride': [1, 1], 'padding': [0, 0, 0, 0]},
            arrays={'weight': weight, 'bias': bias},
        )
    n_in, n_out = shape
    return Layer('dense', 'dense', (n_in,), (n_out,), types, arrays={'weight': weight, 'bias': bias})


def _random_raw(rng: np.random.Generator, t: FixedType, shape) -> np.ndarray:
    """Uniform raw values, with the extremes forced into the first entries."""
    a = rng.integers(t.raw_min, t.raw_max + 1, size=shape, dtype=np.int64)
    flat = a.reshape(-1)
    edges = [t.raw_min, t.raw_max, 0][: flat.size]
    flat[: len(edges)] = edges
    return a


# ---------------------------------------------------------------------------------------------
# cocotb side
# ---------------------------------------------------------------------------------------------


def _types_from_dut(dut) -> dict[str, FixedType]:
    def t(prefix: str, modes: bool = False) -> FixedType:
        w = param(dut, f'{prefix}_W')
        kw = {}
        if modes:
            kw = dict(
                rounding=ROUNDING_MODES[param(dut, f'{prefix}_ROUNDING')],
                overflow=OVERFLOW_MODES[param(dut, f'{prefix}_OVERFLOW')],
            )
        return FixedType(w, w - param(dut, f'{prefix}_FRAC'), bool(param(dut, f'{prefix}_SIGNED')), **kw)

    return {'input': t('IN'), 'weight': t('W'), 'bias': t('B'), 'accum': t('ACC', True), 'output': t('OUT', True)}


def _golden(layer: Layer, x: np.ndarray) -> np.ndarray:
    """Expected output vectors for input vectors x (conv: x are flattened (KH, KW, C) windows)."""
    if layer.kind == 'conv2d':
        return KINDS['conv2d'].golden(x.reshape((len(x), *layer.input_shape)), layer).reshape(len(x), -1)
    return KINDS['dense'].golden(x, layer)


def _check_data_exercises(layer: Layer, x: np.ndarray, expected: np.ndarray, expect: list[str]) -> None:
    """Make sure the random data reaches the behaviour the case is meant to test (else the test could not fail)."""
    t_acc = layer.types['accum']
    for prop in expect:
        if prop == 'acc_overflow':
            other = dataclasses.replace(t_acc, overflow='SAT' if t_acc.overflow == 'WRAP' else 'WRAP')
        elif prop == 'acc_rounding':
            other = dataclasses.replace(t_acc, rounding='RND' if t_acc.rounding == 'TRN' else 'TRN')
        else:
            raise ValueError(prop)
        alt = _golden(dataclasses.replace(layer, types={**layer.types, 'accum': other}), x)
        assert np.any(alt != expected), f'test data never exercises {prop}: golden is the same with accum {other.cpp()}'


@cocotb.test(timeout_time=5, timeout_unit='ms')
@cocotb.parametrize(idle=[False, True], backpressure=[False, True])
async def dense_random(dut, idle, backpressure):
    n_in, n_out, mults = param(dut, 'N_IN'), param(dut, 'N_OUT'), param(dut, 'MULTS')
    steps = n_in * n_out // mults  # analytical compute cycles per vector
    types = _types_from_dut(dut)
    case = json.loads(Path(os.environ['DENSE_CASE']).read_text())
    arrays = np.load(case['arrays'])
    layer = _layer(case['kind'], tuple(case['shape']), types, arrays['weight'], arrays['bias'])
    seed = cocotb.RANDOM_SEED + 2 * idle + backpressure
    rng = np.random.default_rng(seed)

    # pauses up to twice a vector's compute time: the output register stays blocked across whole vectors
    tb = StreamBench(dut, idle, backpressure, seed=random.Random(seed).random(), max_burst=2 * steps + 2)
    log = HandshakeLog(dut)
    await tb.reset()

    x = _random_raw(rng, types['input'], (N_VECTORS, n_in))
    expected = _golden(layer, x)
    _check_data_exercises(layer, x, expected, case['expect'])
    await tb.send([pack(v, types['input'].width) for v in x])
    words, _ = await tb.recv(N_VECTORS, timeout_cycles=40 * steps + 50)
    await tb.expect_quiet(4 * steps + 20)
    log.check()

    got = np.array([unpack(w, n_out, types['output'].width, types['output'].signed) for w in words], dtype=np.int64)
    bad = np.argwhere(got != expected)
    assert bad.size == 0, f'{len(bad)} of {expected.size} outputs differ from the golden model; first: ' + ', '.join(
        f'vector {v} output {j}: got {got[v, j]} expected {expected[v, j]}' for v, j in bad[:5]
    )
    assert len(log.in_cycles) == N_VECTORS and len(log.out_cycles) == N_VECTORS, (
        f'{len(log.in_cycles)} s_axis / {len(log.out_cycles)} m_axis handshakes for {N_VECTORS} vectors'
    )
    if not idle and not backpressure:
        # analytical: one vector per STEPS cycles, latency STEPS + ACC_STAGE + 3 (input -> output handshake)
        latency = log.out_cycles[0] - log.in_cycles[0]
        span = log.out_cycles[-1] - log.out_cycles[0]
        dut._log.info(
            'cycles per vector: simulated %.3f, analytical %d (N_IN*N_OUT/MULTS = %d*%d/%d); latency %d',
            span / (N_VECTORS - 1),
            steps,
            n_in,
            n_out,
            mults,
            latency,
        )
        Path('cycles.json').write_text(
            json.dumps(
                {
                    'simulated_per_vector': span / (N_VECTORS - 1),
                    'analytical': steps,
                    'latency': latency,
                    'vectors': N_VECTORS,
                }
            )
            + '\n'
        )
        assert_cycles(span, (N_VECTORS - 1) * steps, f'{MODULE} {N_VECTORS} back-to-back vectors, MULTS={mults}')
        p = {k: param(dut, k) for k in ('N_IN', 'N_OUT', 'MULTS', 'ACC_OVERFLOW', 'ADD_LEVELS')}
        acc_stage, _ = rtl_params.dense_pipeline(p)
        model = stream_timing([(MODULE, p)], 1, N_VECTORS)[0]
        assert latency == model['out'][0] - model['in'][0] == steps + acc_stage + 3, (
            f'latency {latency} cycles, documented STEPS + ACC_STAGE + 3 = {steps + acc_stage + 3}'
        )
        log.assert_model([(MODULE, p)], 1, N_VECTORS)


# ---------------------------------------------------------------------------------------------
# pytest side
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize('sim, case_id, case', cases(CASES, VERILATOR_CASES, SLOW_VERILATOR_CASES))
def test_dense_unit(sim, case_id, case):
    rng = np.random.default_rng(zlib.crc32(case_id.encode()))  # fixed weights per case
    t = case['types']
    shape = case['shape']
    weight = _random_raw(rng, t['weight'], shape)
    bias = _random_raw(rng, t['bias'], (shape[-1],))
    layer = _layer(case['kind'], tuple(shape), t, weight, bias)

    bdir = case_dir(MODULE, sim, case_id)
    bdir.mkdir(parents=True, exist_ok=True)
    wfile, bfile = rtl_params.write_mem_files(layer, case['mults'], bdir / 'weights.mem', bdir / 'biases.mem')
    np.savez(bdir / 'arrays.npz', weight=weight, bias=bias)
    case_file = bdir / 'case.json'
    case_file.write_text(
        json.dumps(
            {
                'kind': case['kind'],
                'shape': list(shape),
                'expect': list(case['expect']),
                'arrays': str(bdir / 'arrays.npz'),
            }
        )
        + '\n'
    )
    params = rtl_params.dense_params(layer, case['mults'], wfile, bfile)
    sources, build_args = rtl_sources(MODULE), None
    if 'target' in case:  # the device's primitives, simulated on their models
        params['MULT_TARGET'] = rtl_params.MULT_TARGETS[case['target']]
        sources += PRIMITIVE_MODELS
        build_args = [*(VERILATOR_QUICK if sim == 'verilator' else []), f'-D{PRIMITIVE_MODELS_DEFINE}']
    run_cocotb(
        MODULE,
        'test_dense_unit',
        sim,
        case_id,
        params,
        sources,
        extra_env={'DENSE_CASE': str(case_file)},
        build_args=build_args,
    )
