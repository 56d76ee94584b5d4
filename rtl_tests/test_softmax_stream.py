"""softmax_stream: every output element bit-exact to the softmax kind's golden function (stable, latency,
argmax) under random idle cycles and backpressure; the cover cases reach every exp and inverse table index
(argmax: the maximum at every position, and ties); handshake cycles as rtl/timing.py models them.

Both sides build the layer from CASES with lenet5_hls.kinds.softmax.make_layer (the tables as extraction
computes them); the pytest side writes the ROM files with lenet5_hls.rtl.params (the generator's code path),
the cocotb side checks that the DUT's parameters are the case's and streams the vectors.
"""

from __future__ import annotations

import os

import cocotb
import numpy as np
import pytest

from harness import case_dir, cases, check_elementwise, param, rtl_sources, run_cocotb
from lenet5_hls.core.fixed_point import FixedType
from lenet5_hls.kinds.softmax import cover_vectors, coverage_keys, make_layer, softmax_busy_cycles
from lenet5_hls.rtl import params as rtl_params

MODULE = 'softmax_stream'
N_RANDOM = 60  # vectors after the covering ones
F = FixedType

# implementation, elements per vector, make_layer's types and table sizes; full: every table index is reachable
CASES = {
    # the golden test's stable cover types, 11 elements (the reduce tree's blocks 8 + 2 + 1)
    'stable-11-cover': dict(
        impl='stable',
        n=11,
        full=True,
        types=dict(
            t_in=F(10, 4),
            t_out=F(12, 4, True, 'RND_CONV', 'SAT'),
            exp_size=256,
            inv_size=256,
            exp_t=F(10, 1, False, 'RND', 'SAT'),
            inv_t=F(12, 6, False, 'RND'),
            inv_inp_t=F(10, 2, False),
            accum_t=F(16, 6),
        ),
    ),
    # the golden test's latency cover types (an exp table wrapping to negative values, a sum saturating at +-16:
    # the reduce tree's order matters), 7 elements (its blocks 4 + 2 + 1)
    'latency-7-cover': dict(
        impl='latency',
        n=7,
        full=True,
        types=dict(
            t_in=F(8, 3),
            t_out=F(10, 2, True, 'RND', 'SAT'),
            exp_size=128,
            inv_size=128,
            exp_t=F(10, 4),
            inv_t=F(12, 1, False, 'RND_CONV', 'SAT'),
            inv_inp_t=F(8, 5, False),
            accum_t=F(12, 5, True, 'TRN', 'SAT'),
        ),
    ),
    # 16 input values: many ties; (res_T)1 saturates to 0.875
    'argmax-10': dict(impl='argmax', n=10, full=True, types=dict(t_in=F(4, 2), t_out=F(4, 1, True, 'RND', 'SAT'))),
    # hls4ml's default table types and sizes after a Dense(10) with ap_fixed<16,6> everywhere
    'stable-10-default': dict(impl='stable', n=10, full=False, types=dict(t_in=F(16, 6), t_out=F(16, 6))),
    # one element per vector, an unsigned input and unsigned types throughout
    'latency-1-unsigned': dict(
        impl='latency',
        n=1,
        full=False,
        types=dict(
            t_in=F(6, 2, False),
            t_out=F(8, 1, False, 'RND', 'SAT'),
            exp_size=64,
            inv_size=16,
            exp_t=F(8, 3, False, 'RND', 'SAT'),
            inv_t=F(8, 2, False, 'RND', 'SAT'),
            inv_inp_t=F(6, 3, False),
            accum_t=F(10, 4, False),
        ),
    ),
}
VERILATOR_CASES = ('stable-11-cover', 'latency-7-cover', 'argmax-10')
# the default suite's cases (the stable implementation runs there in the whole network, on Verilator)
DEFAULT_CASES = ('icarus-latency-7-cover', 'icarus-argmax-10')


def _marked(params):
    """The cases outside DEFAULT_CASES marked slow."""
    return [p if p.id in DEFAULT_CASES else pytest.param(*p.values, id=p.id, marks=pytest.mark.slow) for p in params]


def _layer(case: dict):
    return make_layer('sm', case['impl'], case['n'], **case['types'])


def _check_coverage(layer, x: np.ndarray) -> None:
    if layer.attrs['implementation'] == 'argmax':
        n = layer.in_elements_per_beat
        assert len(np.unique(x.argmax(axis=-1))) == n, 'the maximum is not at every position'
        assert ((x == x.max(axis=-1, keepdims=True)).sum(axis=-1) > 1).any(), 'no tied maximum'
        return
    for what, keys in zip(('exp', 'inv'), coverage_keys(layer, x)):
        size = layer.attrs[f'{what}_table_size']
        assert len(np.unique(keys)) == size, f'{size - len(np.unique(keys))} of {size} {what} table indices missed'


# ---------------------------------------------------------------------------------------------
# cocotb side
# ---------------------------------------------------------------------------------------------


@cocotb.test(timeout_time=50, timeout_unit='ms')
@cocotb.parametrize(idle=[False, True], backpressure=[False, True])
async def softmax_random(dut, idle, backpressure):
    case = CASES[os.environ['SOFTMAX_CASE']]
    layer = _layer(case)
    p = rtl_params.softmax_params(layer)
    assert {k: param(dut, k) for k in ('N', 'IMPL')} == {'N': p['N'], 'IMPL': p['IMPL']}, 'DUT parameters'
    seed = cocotb.RANDOM_SEED + 2 * idle + backpressure
    rng, t = np.random.default_rng(seed), layer.types['input']
    x = rng.integers(t.raw_min, t.raw_max + 1, (N_RANDOM, layer.in_elements_per_beat))
    if case['full'] and not idle and not backpressure:  # the covering vectors once, with the cycle check
        x = np.concatenate([cover_vectors(layer, rng, 0, pool=20_000), x])
        _check_coverage(layer, x)
    timing = {'N': p['N'], 'IMPL': p['IMPL']}
    timeout = 20 * (softmax_busy_cycles(timing) + 2)
    await check_elementwise(dut, MODULE, layer, x, idle, backpressure, seed, timing, timeout)


# ---------------------------------------------------------------------------------------------
# pytest side
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize('sim, case_id, case', _marked(cases(CASES, VERILATOR_CASES)))
def test_softmax_stream(sim, case_id, case):
    layer = _layer(case)
    files = ()
    if case['impl'] != 'argmax':
        bdir = case_dir(MODULE, sim, case_id)
        bdir.mkdir(parents=True, exist_ok=True)
        files = rtl_params.write_softmax_files(layer, bdir / 'exp_table.mem', bdir / 'inv_table.mem')
    params = rtl_params.softmax_params(layer, *files)
    sources = rtl_sources(MODULE)
    run_cocotb(MODULE, 'test_softmax_stream', sim, case_id, params, sources, extra_env={'SOFTMAX_CASE': case_id})


NETWORK_IMAGES = 24


@pytest.mark.parametrize(
    'impl',
    [
        pytest.param('stable'),
        pytest.param('latency', marks=pytest.mark.slow),
        pytest.param('argmax', marks=pytest.mark.slow),
    ],
)
def test_network_ending_in_softmax(impl, tmp_path):
    """MNIST images through a generated network (average pooling, dense 10, softmax) on Verilator: every
    output element equal to the golden model's, the measured II and latency equal to the analytical ones."""
    import keras

    from lenet5_hls.frontend.convert import convert
    from lenet5_hls.frontend.extract import extract
    from lenet5_hls.golden import GoldenModel
    from lenet5_hls.model.mnist import load_mnist, to_model_input
    from lenet5_hls.rtl.generator import generate
    from lenet5_hls.verify.simulate import simulate

    data = load_mnist(quiet=True)
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.AveragePooling2D(4, name='avg')(inputs)
    x = keras.layers.Flatten(name='flat')(x)
    x = keras.layers.Dense(10, name='fc')(x)
    model = keras.Model(inputs, keras.layers.Softmax(name='sm')(x))
    # the training digits' pooled class means (centred) as weights: the class differs from image to image
    pooled = data.x_train[:3000].reshape(-1, 7, 4, 7, 4).mean(axis=(2, 4)).reshape(-1, 49) / 256
    means = np.stack([pooled[data.y_train[:3000] == c].mean(axis=0) for c in range(10)], axis=1)
    model.get_layer('fc').set_weights([8 * (means - means.mean(axis=1, keepdims=True)), np.zeros(10)])
    config = {'LayerName': {'sm': {'Implementation': impl}, 'fc': {'Precision': {'result': 'ap_fixed<12,4>'}}}}
    spec = extract(convert(model, None, precision_config=config))
    assert spec.layers[-1].kind == 'softmax' and spec.layers[-1].attrs['implementation'] == impl
    desc = generate(spec, tmp_path / 'rtl')
    golden = GoldenModel(spec)
    raw = golden.quantize_input(to_model_input(data.x_test[:NETWORK_IMAGES]))
    expected = golden.run(raw)
    assert len(np.unique(expected.argmax(axis=1))) > 5, 'the outputs barely vary: the check would prove little'
    result = simulate(
        tmp_path / 'rtl' / f'{desc.top}.json',
        raw,
        expected,
        tmp_path / 'sim',
        sim='verilator',
        jobs=1,
        progress=lambda *_: None,
        optimize=False,  # 24 images: the C++ compile is the cost
    )
    assert result['images'] == NETWORK_IMAGES and result['mismatches'] == 0 and result['extra_beats'] == 0, result
    assert result['ii_cycles'] == desc.timing.ii_cycles == desc.folding.ii_cycles, result
    assert result['latency_cycles'] == desc.timing.latency_cycles, result


def test_softmax_bound_pipeline_ii(tmp_path):
    """A softmax on the input stream itself (6 vectors of 4 per image, 17 cycles each): slower than the input,
    the folding plan's II (6 x 17) is the timing model's and the simulated one; outputs bit-exact (Icarus)."""
    from lenet5_hls.core.spec import Port, Spec
    from lenet5_hls.golden import GoldenModel
    from lenet5_hls.rtl.generator import generate
    from lenet5_hls.verify.simulate import simulate

    layer = make_layer('sm', 'stable', 4, F(8, 3), F(8, 1, True, 'RND', 'SAT'), 64, 64, vectors=6)
    spec = Spec('tiny', Port('x', (6, 4), F(8, 3), 4), Port('y', (6, 4), layer.types['output'], 4), [layer])
    desc = generate(spec, tmp_path / 'rtl')
    assert desc.folding.ii_cycles == desc.timing.ii_cycles == 6 * (softmax_busy_cycles({'N': 4, 'IMPL': 2}) + 2)
    raw = np.random.default_rng(5).integers(-128, 128, (8, 6, 4))
    result = simulate(
        tmp_path / 'rtl' / 'tiny.json',
        raw,
        GoldenModel(spec).run(raw),
        tmp_path / 'sim',
        sim='icarus',
        jobs=1,
        progress=lambda *_: None,
    )
    assert result['mismatches'] == 0 and result['extra_beats'] == 0, result
    # the bench's latency ends at the image's last output beat (the model's latency_cycles at its first)
    last = desc.timing.stages[-1].last_out - desc.timing.stages[0].first_in
    assert result['ii_cycles'] == desc.timing.ii_cycles and result['latency_cycles'] == last, result
