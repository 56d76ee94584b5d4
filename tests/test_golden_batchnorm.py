"""BatchNormalization golden vs hls4ml C simulation (Vitis and Vivado), and where hls4ml fuses it.

One LeNet-like model holds every case: a BatchNormalization after a Conv2D and after a Dense whose result
types are hls4ml's 'auto' (fuse_batch_normalization folds them into the weights and biases: no batchnorm
layer is left, and the conv's weights are the Keras kernel times the BN scale), one after an activation and
one after a Conv2D and a Dense whose result types the config sets (all three stay layers: per channel of an
(H, W, C) stream, and per feature of a Dense output), the standalone ones with narrow rounding/saturating
scale, bias and result types. 1,000 real MNIST test images and 1,000 random inputs, every output element
compared; the standalone layers' outputs reach both ends of their types. What hls4ml cannot convert
correctly in io_stream is refused with the layer's name (conversion only, no C simulation).
"""

import numpy as np
import pytest

from golden_checks import mismatch_report
from lenet5_hls.core.fixed_point import from_float, to_float
from lenet5_hls.golden import GoldenModel

N = 1000
BACKENDS = ('Vitis', pytest.param('Vivado', marks=pytest.mark.slow))  # Vivado: in the slow set, for time
STANDALONE = ['bn_r1', 'bn_c2', 'bn_fc1']
FUSED = {'bn_c1': 'c1', 'bn_out': 'out'}  # BN -> the layer it is fused into
CONFIG = {
    'Model': {'Precision': 'ap_fixed<16,6>'},
    'LayerName': {
        'r1': {'Precision': {'result': 'ap_ufixed<8,3,AP_RND,AP_SAT>'}},
        'bn_r1': {
            'Precision': {
                'scale': 'ap_fixed<6,2,AP_RND,AP_SAT>',
                'bias': 'ap_fixed<6,3,AP_RND_CONV,AP_SAT>',
                'result': 'ap_fixed<8,3,AP_RND_CONV,AP_SAT_SYM>',
            }
        },
        'p1': {'Precision': {'result': 'ap_fixed<8,3,AP_RND_CONV,AP_SAT_SYM>'}},
        'c2': {'Precision': {'accum': 'ap_fixed<20,8>', 'result': 'ap_fixed<12,5,AP_RND,AP_SAT>'}},
        'bn_c2': {
            'Precision': {
                'scale': 'ap_ufixed<7,2>',
                'bias': 'ap_fixed<8,2>',
                'result': 'ap_fixed<9,3,AP_RND,AP_SAT_ZERO>',
            }
        },
        'fc1': {'Precision': {'accum': 'ap_fixed<20,8>', 'result': 'ap_fixed<12,5,AP_RND,AP_SAT>'}},
        'bn_fc1': {
            'Precision': {
                'scale': 'ap_fixed<8,3>',
                'bias': 'ap_fixed<8,3>',
                'result': 'ap_fixed<8,3,AP_RND_INF,AP_SAT>',
            }
        },
        'r2': {'Precision': {'result': 'ap_ufixed<8,3,AP_RND,AP_SAT>'}},
    },
}


def set_batchnorm_weights(model, seed: int) -> None:
    """Moving statistics and gammas of both signs, so the folded scales and biases are far from 1 and 0."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if type(layer).__name__ == 'BatchNormalization':
            n = layer.moving_mean.shape[0]
            sign = np.where(np.arange(n) % 2, -1.0, 1.0)
            gamma = rng.uniform(0.5, 2, n) * sign
            layer.set_weights([gamma, rng.uniform(-1, 1, n), rng.uniform(-0.5, 0.5, n), rng.uniform(0.25, 2, n)])


def bn_cnn():
    import keras

    keras.utils.set_random_seed(7)
    layers = keras.layers
    inputs = keras.Input((28, 28, 1))
    x = layers.Conv2D(4, 5, name='c1')(inputs)
    x = layers.BatchNormalization(name='bn_c1')(x)
    x = layers.Activation('relu', name='r1')(x)
    x = layers.BatchNormalization(name='bn_r1')(x)
    x = layers.MaxPooling2D(2, name='p1')(x)
    x = layers.Conv2D(6, 3, name='c2')(x)
    x = layers.BatchNormalization(name='bn_c2')(x)
    x = layers.Flatten(name='flat')(x)
    x = layers.Dense(16, name='fc1')(x)
    x = layers.BatchNormalization(name='bn_fc1')(x)
    x = layers.Activation('relu', name='r2')(x)
    x = layers.Dense(10, name='out')(x)
    model = keras.Model(inputs, layers.BatchNormalization(name='bn_out')(x))
    set_batchnorm_weights(model, 7)
    return model


@pytest.fixture(scope='module', params=BACKENDS)
def project(request, tmp_path_factory):
    from lenet5_hls.frontend.convert import build_project

    model = bn_cnn()
    out = tmp_path_factory.mktemp(f'bn-{request.param}') / 'hls'
    graph, spec = build_project(model, out, backend=request.param, precision_config=CONFIG, progress=lambda *_: None)
    return model, graph, spec


def test_batchnorm_fused_or_kept(project):
    """hls4ml fuses a BN into a Conv2D or Dense with an 'auto' result type; the spec's conv weights are then the
    Keras kernel times the BN scale, as hls4ml computes them (within one LSB of the weight type)."""
    model, _, spec = project
    assert [la.name for la in spec.layers if la.kind == 'batchnorm'] == STANDALONE
    assert not set(FUSED) & {la.name for la in spec.layers}
    for bn_name, name in FUSED.items():
        bn, layer = model.get_layer(bn_name), spec.layer(name)
        gamma, _, _, var = bn.get_weights()
        scale = gamma / np.sqrt(var + bn.epsilon)
        kernel = model.get_layer(name).get_weights()[0]
        t = layer.types['weight']
        fused = from_float(kernel * scale, t)
        assert np.abs(layer.arrays['weight'] - fused).max() <= 1, f'{name}: weights are not kernel * scale'
        assert np.mean(layer.arrays['weight'] != from_float(kernel, t)) > 0.5, f'{name}: weights look unfused'
    by_name = {la.name: la for la in spec.layers}
    assert by_name['bn_r1'].arrays['scale'].shape == (4,) and by_name['bn_r1'].in_elements_per_beat == 4
    assert by_name['bn_fc1'].arrays['scale'].shape == (16,) and by_name['bn_fc1'].input_shape == (16,)


def _inputs(spec, mnist_data) -> dict[str, np.ndarray]:
    from lenet5_hls.model.mnist import to_model_input

    golden = GoldenModel(spec)
    t = spec.input.type
    rng = np.random.default_rng(17)
    four = 4 << t.frac  # random values in [-4, 4): beyond MNIST's range on both sides
    return {
        'real MNIST': golden.quantize_input(to_model_input(mnist_data.x_test[:N])),
        'random': rng.integers(-four, four, (N, *spec.input.shape)),
    }


def test_batchnorm_golden_equals_csim(project, mnist_data):
    _, graph, spec = project
    golden = GoldenModel(spec)
    rails = {name: set() for name in STANDALONE}
    for what, raw in _inputs(spec, mnist_data).items():
        out, trace = golden.run(raw, trace=True)
        expected = to_float(out, spec.output.type).reshape(len(raw), -1)
        x = to_float(raw, spec.input.type)
        c = np.asarray(graph.predict(np.ascontiguousarray(x)), dtype=np.float64).reshape(len(raw), -1)
        assert not mismatch_report(expected, c, f'{graph.config.backend.name}, {what}: golden vs C simulation')
        assert np.unique(expected).size > N, f'{what}: outputs barely vary, the test would prove little'
        for name in STANDALONE:
            t = spec.layer(name).types['output']
            low = t.raw_min + (t.overflow == 'SAT_SYM')
            rails[name] |= {'max' for v in [trace[name].max()] if v == t.raw_max}
            rails[name] |= {'min' for v in [trace[name].min()] if v == low}
            if t.overflow == 'SAT_ZERO':  # saturation to zero: values beyond both ends
                rails[name] = {'max', 'min'} if (trace[name] == 0).mean() > 0.02 else rails[name]
    assert all(r == {'max', 'min'} for r in rails.values()), f'the narrow types do not reach both ends: {rails}'


# ---------------------------------------------------------------------------------------------
# what hls4ml 1.3 cannot convert correctly in io_stream
# ---------------------------------------------------------------------------------------------


def _extract(model, config=None):
    from lenet5_hls.frontend.convert import convert
    from lenet5_hls.frontend.extract import extract

    return extract(convert(model, None, precision_config=config))


def _small(after_flatten: bool = False, axis: int = -1):
    import keras

    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(3, 3, activation='relu', name='c')(inputs)
    if after_flatten:
        x = keras.layers.Flatten(name='flat')(x)
    x = keras.layers.BatchNormalization(axis=axis, name='bn')(x)
    x = keras.layers.Flatten(name='flat2')(x) if not after_flatten else x
    return keras.Model(inputs, keras.layers.Dense(2, name='fc')(x))


def test_batchnorm_after_flatten_refused():
    """hls4ml gives the BN 3 elements per input beat and 48 per output beat; its C simulation is wrong."""
    from lenet5_hls.frontend.extract import UnsupportedLayer

    with pytest.raises(UnsupportedLayer, match=r"layer 'bn' \(BatchNormalization\): hls4ml 1.3 gives it 3 elements"):
        _extract(_small(after_flatten=True))


def test_batchnorm_axis_refused():
    from lenet5_hls.frontend.convert import ConversionError

    with pytest.raises(ConversionError, match=r"layer 'bn' \(BatchNormalization\): axis=1 is not supported"):
        _extract(_small(axis=1))


def test_ternary_product_refused():
    """A 2-bit signed integer scale or weight makes hls4ml multiply with its ternary product (-2 acts as +1):
    refused for a BatchNormalization's scale and a Dense's weights alike."""
    from lenet5_hls.frontend.extract import UnsupportedLayer

    for name, key, what in (('bn', 'scale', 'BatchNormalization'), ('fc', 'weight', 'Dense')):
        config = {'LayerName': {name: {'Precision': {key: 'ap_int<2>'}}}}
        with pytest.raises(
            UnsupportedLayer, match=rf"layer '{name}' \({what}\): {key} type \S*int<2> .*weight_ternary"
        ):
            _extract(_small(), config)
