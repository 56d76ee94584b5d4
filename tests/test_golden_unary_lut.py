"""HGQ2 table functions golden vs hls4ml C simulation, Vitis and Vivado backends: QUnaryFunctionLUT (hls4ml:
UnaryLUT, kind unary_lut) and tanh / sigmoid in HGQ2 models (kinds tanh, sigmoid).

'luts' (16x16x16 feature map, 16 elements per stream beat): a QUnaryFunctionLUT with a signed 8-bit input
quantizer, which one input enumerating all 256 raw values reads at every table entry (asserted); a second
one whose input quantizer rounds the first one's table (a rounding output cast); a Keras sigmoid; a third
LUT, which hls4ml reads at the sigmoid's unsigned output, narrower than its input quantizer. 1,000 random
inputs more. 'lenet-like': an HGQ2 CNN, QConv2D(activation='tanh'), a LUT on the feature map, dense, a
separate sigmoid Activation, a LUT, dense, on 1,000 real MNIST test images and 1,000 random inputs; its RTL
runs under Verilator. Every output element compared, Keras vs golden too: hls4ml promises it only for
HGQ2 models without table functions, but it holds here (the tables are sampled at every input value and
their types are finer than the outputs'); the counts are printed (-s). What hls4ml 1.3 cannot convert is
refused naming the layer. A hand-written network of two LUTs alone (no multipliers) goes through the RTL
under Icarus. The default suite runs 'luts' on Vitis and that network; the rest is marked slow.
"""

import numpy as np
import pytest

from golden_checks import mismatch_report
from lenet5_hls.core.fixed_point import to_float
from lenet5_hls.core.kind import KINDS
from lenet5_hls.golden import GoldenModel
from lenet5_hls.verify.fuzz import unary_lut

N = 1000
COVER_SHAPE = (16, 16, 16)
BACKENDS = ('Vitis', 'Vivado')


def luts():
    import keras

    inputs = keras.Input(COVER_SHAPE)
    # ap_fixed<8,4> -> exp(-x^2) at ap_ufixed<7,1,RND,SAT>
    x = unary_lut(
        lambda v: keras.ops.exp(-v * v),
        'lut_gauss',
        [1, 3, 4],
        [0, 1, 6],
        round_mode='RND',
        overflow_mode='SAT',
    )(inputs)
    # input quantizer ap_fixed<7,2>: the first table is cast to it by rounding; log saturates symmetrically
    x = unary_lut(
        lambda v: keras.ops.log(v * v + 0.05),
        'lut_log',
        [1, 1, 5],
        [1, 1, 5],
        round_mode='RND_CONV',
        overflow_mode='SAT_SYM',
    )(x)
    x = keras.layers.Activation('sigmoid', name='sig')(x)
    # a signed input quantizer, ap_fixed<9,3>; the bit-exact pass narrows the input to the sigmoid's range
    x = unary_lut(lambda v: keras.ops.sin(3 * v), 'lut_sin', [1, 2, 6], [1, 1, 6])(x)
    return keras.Model(inputs, x)


def lenet_like():
    import keras
    from hgq.config import QuantizerConfig, QuantizerConfigScope
    from hgq.layers import QConv2D, QDense, QMaxPool2D

    keras.utils.set_random_seed(5)
    pixels = QuantizerConfig('kif', 'datalane', k0=0, i0=0, f0=6, overflow_mode='SAT', trainable=False)
    with (
        QuantizerConfigScope(place='datalane', default_q_type='kbi', q_type='kbi', b0=6, heterogeneous_axis=()),
        QuantizerConfigScope(place=('weight', 'bias'), default_q_type='kbi', q_type='kbi', b0=3, i0=0),
    ):
        inputs = keras.Input((28, 28, 1))
        x = QConv2D(4, 5, activation='tanh', iq_conf=pixels, name='c1')(inputs)
        x = QMaxPool2D(2, name='pool')(x)
        x = unary_lut(keras.ops.sin, 'lut', [1, 1, 4], [1, 1, 5])(x)
        x = keras.layers.Flatten(name='flat')(x)
        x = QDense(12, name='fc')(x)
        x = keras.layers.Activation('sigmoid', name='sig')(x)
        # a signed input quantizer; the bit-exact pass narrows the input to the sigmoid's unsigned range
        x = unary_lut(lambda v: 1.5 * v * v - 0.5, 'lut_sq', [1, 2, 4], [1, 1, 6])(x)
        outputs = QDense(10, name='out')(x)
    return keras.Model(inputs, outputs)


MODELS = {'luts': luts, 'lenet-like': lenet_like}
EXPECTED_KINDS = {
    'luts': ['unary_lut', 'unary_lut', 'sigmoid', 'unary_lut'],
    'lenet-like': ['conv2d', 'tanh', 'maxpool2d', 'unary_lut', 'flatten', 'dense', 'sigmoid', 'unary_lut', 'dense'],
}


def _project_params():
    """'luts' on Vitis in the default suite; the rest (Vivado: the same nnet_activation_stream.h) marked slow."""
    return [
        pytest.param((m, b), id=f'{m}-{b}', marks=() if (m, b) == ('luts', 'Vitis') else pytest.mark.slow)
        for b in BACKENDS
        for m in MODELS
    ]


@pytest.fixture(scope='module', params=_project_params())
def project(request, tmp_path_factory):
    from lenet5_hls.frontend.convert import build_project

    name, backend = request.param
    model = MODELS[name]()
    out = tmp_path_factory.mktemp(f'{name}-{backend}') / 'hls'
    graph, spec = build_project(model, out, backend=backend, progress=lambda *_: None)
    return name, model, graph, spec


def _inputs(name: str, spec, mnist_data) -> dict[str, np.ndarray]:
    """Raw inputs per input set: real MNIST or the enumeration of every raw value, and random ones."""
    t = spec.input.type
    random = np.random.default_rng(13).integers(t.raw_min, t.raw_max + 1, (N, *spec.input.shape))
    if name == 'lenet-like':
        from lenet5_hls.model.mnist import to_model_input

        real = GoldenModel(spec).quantize_input(to_model_input(mnist_data.x_test[:N]))
        return {'real MNIST': real, 'random': random}
    every = np.resize(np.arange(t.raw_min, t.raw_max + 1), spec.input.shape)[None]
    return {'every input value': every, 'random': random}


def test_hgq2_table_functions_extracted(project):
    name, _, _, spec = project
    kinds = [layer.kind for layer in spec.layers]
    assert kinds == EXPECTED_KINDS[name], kinds
    luts = [layer for layer in spec.layers if layer.kind == 'unary_lut']
    first, last = luts[0], luts[-1]
    assert first.attrs['table_size'] == 1 << first.types['input'].width, 'the first LUT: a table entry per raw value'
    # the LUT after the sigmoid reads its table at an unsigned input narrower than its quantizer
    assert not last.types['input'].signed, last.types['input']
    assert 1 << last.types['input'].width < last.attrs['table_size'], 'expected a narrower input'
    if name == 'luts':
        assert first.types['output'].frac < first.types['table'].frac, 'the first LUT output cast should round'


def test_hgq2_table_functions_golden_equals_csim_and_keras(project, mnist_data):
    name, model, graph, spec = project
    golden = GoldenModel(spec)
    backend = graph.config.backend.name
    for what, raw in _inputs(name, spec, mnist_data).items():
        where = f'{name} {backend}, {what}'
        x = to_float(raw, spec.input.type)
        out, trace = golden.run(raw, trace=True)
        expected = to_float(out, spec.output.type).reshape(len(raw), -1)
        c = np.asarray(graph.predict(np.ascontiguousarray(x)), dtype=np.float64).reshape(len(raw), -1)
        assert not mismatch_report(expected, c, f'{where}: golden vs C simulation')
        for layer in spec.layers:
            if layer.kind in ('unary_lut', 'tanh', 'sigmoid'):
                assert np.unique(trace[layer.name]).size > 8, f'{where}, {layer.name}: outputs barely vary'
        if what == 'every input value':
            first = spec.layers[0]
            index = np.unique(KINDS[first.kind].index(raw, first.types['input'], first.attrs['table_size']))
            assert np.array_equal(index, np.arange(first.attrs['table_size'])), f'{where}: table entries never read'
        k = np.asarray(model.predict(x, verbose=0), dtype=np.float64).reshape(len(raw), -1)
        print(f'\n{where}: Keras vs golden: {int((expected != k).sum())} of {k.size} elements differ')
        assert not mismatch_report(expected, k, f'{where}: golden vs Keras')


def _unconvertible(case: str):
    import keras
    from hgq.layers import QUnaryFunctionLUT

    shape, lut = (8,), None
    if case == 'heterogeneous-table':  # HGQ2's default: a table per element
        lut = QUnaryFunctionLUT('tanh', name='lut')
    elif case == 'feature-map':  # built on the 4x4x2 map it is called on
        shape, lut = (4, 4, 2), QUnaryFunctionLUT('tanh', allow_heterogeneous_table=False, name='lut')
    elif case == 'no-output-quantizer':
        lut = QUnaryFunctionLUT('tanh', allow_heterogeneous_table=False, enable_oq=False, name='lut')
    else:  # log of the negative half of a signed input quantizer, ap_fixed<5,3>: entries 16..31 are NaN
        lut = unary_lut(keras.ops.log, 'lut', [1, 2, 2], [1, 3, 4])
    inputs = keras.Input(shape)
    return keras.Model(inputs, lut(inputs))


UNCONVERTIBLE = {
    'heterogeneous-table': r"layer 'lut' \(QUnaryFunctionLUT\): .*pass allow_heterogeneous_table=False",
    'feature-map': r"layer 'lut' \(QUnaryFunctionLUT\): its output quantizer was built for a rank-4 input",
    'no-output-quantizer': r"layer 'lut' \(QUnaryFunctionLUT\): .*both quantizers enabled",
    'nan-table': r"layer 'lut' \(UnaryLUT\): table entries \[16, 17, .*\(16 in all\) are not finite",
}


@pytest.mark.parametrize('case', UNCONVERTIBLE)
def test_unconvertible_unary_lut_refused(case, tmp_path):
    """What hls4ml 1.3 fails on with a bare assertion, or converts into a table of NaNs: a UserError naming the
    layer and the reason, and no project left behind."""
    from lenet5_hls.core.errors import UserError
    from lenet5_hls.frontend.convert import build_project

    with pytest.raises(UserError, match=UNCONVERTIBLE[case]):
        build_project(_unconvertible(case), tmp_path / 'hls', progress=lambda *_: None)
    assert not (tmp_path / 'hls').exists()


RTL_IMAGES = 20


def _rtl_matches_golden(spec, raw: np.ndarray, tmp_path, sim: str):
    """Generate the spec's RTL and simulate raw inputs through it: every output element equals the golden
    model's, II and latency the generator's analytical figures. Returns the RTL description."""
    from lenet5_hls.rtl.generator import generate
    from lenet5_hls.verify.simulate import simulate

    desc = generate(spec, tmp_path / 'rtl')
    expected = GoldenModel(spec).run(raw)
    options = dict(sim=sim, jobs=1, cache_dir=tmp_path / 'cache', progress=lambda *_: None)
    result = simulate(tmp_path / 'rtl' / f'{desc.top}.json', raw, expected, tmp_path / 'sim', **options)
    assert result['images'] == len(raw) and result['extra_beats'] == 0, result
    assert result['mismatches'] == 0, f'{result["mismatches"]} of {result["elements"]} output elements differ'
    assert (result['ii_cycles'], result['latency_cycles']) == (desc.ii_cycles, desc.timing.latency_cycles), result
    return desc


@pytest.mark.slow  # the Verilator build takes about 1.5 min
@pytest.mark.parametrize('project', [('lenet-like', 'Vitis')], indirect=True, ids=['lenet-like-Vitis'])
def test_hgq2_table_functions_rtl_bit_exact(project, mnist_data, tmp_path):
    """The generated RTL of the LeNet-like model (two unary_lut and the tanh / sigmoid table_act_stream stages)
    under Verilator, on real MNIST images."""
    from lenet5_hls.model.mnist import to_model_input

    _, _, _, spec = project
    raw = GoldenModel(spec).quantize_input(to_model_input(mnist_data.x_test[:RTL_IMAGES]))
    _rtl_matches_golden(spec, raw, tmp_path, 'verilator')


def test_table_lookup_network_simulates(tmp_path):
    """A network of two unary_lut stages alone (no multipliers; the second reads a 64-entry table at 6 raw
    bits) under Icarus, over every raw input value."""
    from test_spec import lut_spec

    spec = lut_spec()
    t = spec.input.type
    raw = np.arange(t.raw_min, t.raw_max + 1).reshape(-1, *spec.input.shape)  # every table entry of the first
    desc = _rtl_matches_golden(spec, raw, tmp_path, 'icarus')
    assert desc.folding.multipliers == 0 and desc.folding.multipliers_over_lower_bound == 1.0
    assert [la.rom_bits for la in desc.folding.layers] == [32 * 8, 64 * 8], 'the tables, 8 bits an entry'
