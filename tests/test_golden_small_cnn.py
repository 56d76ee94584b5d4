"""Other CNNs than LeNet-5 ('same' padding, average pooling, stride 2, other channel counts), both an
HGQ2 model and a float model quantized post-training with a precision config that exercises saturating
and rounding modes. Golden vs hls4ml C simulation, every element of 1,000 inputs.
"""

import numpy as np
import pytest

from golden_checks import mismatch_report
from lenet5_hls.golden import GoldenModel

N = 1000
SHAPE = (16, 16, 3)


def hgq_cnn():
    import keras
    from hgq.config import QuantizerConfigScope
    from hgq.layers import QAvgPool2D, QConv2D, QDense, QMaxPool2D

    keras.utils.set_random_seed(3)
    with QuantizerConfigScope(place='datalane', default_q_type='kbi', q_type='kbi', b0=6, heterogeneous_axis=()):
        inputs = keras.Input(SHAPE)
        x = QConv2D(4, 3, padding='same', activation='relu', name='conv_same')(inputs)
        x = QAvgPool2D(2, name='avg')(x)
        x = QConv2D(8, 3, strides=2, activation='relu', name='conv_s2')(x)
        x = QMaxPool2D(2, name='max')(x)
        x = keras.layers.Flatten(name='flat')(x)
        outputs = QDense(5, name='out')(x)
    return keras.Model(inputs, outputs)


def float_cnn():
    import keras

    keras.utils.set_random_seed(4)
    inputs = keras.Input(SHAPE)
    x = keras.layers.Conv2D(3, 3, padding='same', activation='relu', name='c1')(inputs)
    x = keras.layers.AveragePooling2D(2, name='avg')(x)
    x = keras.layers.Conv2D(6, 2, strides=2, activation='relu', name='c2')(x)
    x = keras.layers.Flatten(name='flat')(x)
    outputs = keras.layers.Dense(4, name='out')(x)
    return keras.Model(inputs, outputs)


# Narrow saturating accumulators force the golden model's exact per-term accumulation path.
PTQ_CONFIG = {
    'Model': {'Precision': 'ap_fixed<10,4,AP_RND,AP_SAT>'},
    'LayerName': {
        'c1': {
            'Precision': {
                'weight': 'ap_fixed<6,1,AP_RND_CONV,AP_SAT>',
                'accum': 'ap_fixed<9,3,AP_RND_ZERO,AP_SAT_SYM>',
                'result': 'ap_fixed<8,3,AP_RND_INF,AP_SAT>',
            }
        },
        'c1_relu': {'Precision': {'result': 'ap_ufixed<6,2,AP_RND_MIN_INF,AP_SAT_ZERO>'}},
        'avg': {'Precision': {'accum': 'ap_ufixed<8,3,AP_TRN_ZERO,AP_SAT>', 'result': 'ap_ufixed<6,2,AP_RND,AP_WRAP>'}},
        'c2': {'Precision': {'accum': 'ap_fixed<14,5,AP_TRN,AP_WRAP>', 'result': 'ap_fixed<9,4,AP_RND,AP_SAT>'}},
        'out': {
            'Precision': {
                'weight': 'ap_fixed<5,1>',
                'accum': 'ap_fixed<12,5,AP_RND,AP_SAT>',
                'result': 'ap_fixed<12,5>',
            }
        },
    },
}


@pytest.fixture(scope='module', params=['hgq2', 'ptq'])
def small_project(request, tmp_path_factory):
    from lenet5_hls.frontend.convert import build_project

    out = tmp_path_factory.mktemp(request.param) / 'hls'
    if request.param == 'hgq2':
        model = hgq_cnn()
        graph, spec = build_project(model, out, progress=lambda *_: None)
    else:
        model = float_cnn()
        graph, spec = build_project(model, out, precision_config=PTQ_CONFIG, progress=lambda *_: None)
    return request.param, model, graph, spec


def test_small_cnn_golden_equals_csim(small_project):
    name, model, graph, spec = small_project
    kinds = [layer.kind for layer in spec.layers]
    assert {'zeropad2d', 'avgpool2d', 'conv2d', 'dense'} <= set(kinds), kinds
    assert any(layer.attrs.get('stride') == [2, 2] for layer in spec.layers if layer.kind == 'conv2d')
    if name == 'ptq':  # the precision config really reached the project
        modes = {(t.rounding, t.overflow) for layer in spec.layers for t in layer.types.values()}
        assert {('RND_ZERO', 'SAT_SYM'), ('RND_MIN_INF', 'SAT_ZERO'), ('TRN_ZERO', 'SAT')} <= modes, modes
    rng = np.random.default_rng(11)
    x = np.concatenate([rng.uniform(-1, 2, (N - 2, *SHAPE)), np.zeros((1, *SHAPE)), np.full((1, *SHAPE), 4.0)])
    golden = GoldenModel(spec).predict(x)
    c = np.asarray(graph.predict(np.ascontiguousarray(x)), dtype=np.float64).reshape(N, -1)
    assert not mismatch_report(golden, c, f'{name}: golden vs C simulation')
    assert np.unique(golden, axis=0).shape[0] > N // 2, 'outputs barely vary: the test would prove little'
    if name == 'hgq2':
        k = model.predict(x, verbose=0).astype(np.float64)
        assert not mismatch_report(golden, k, 'golden vs Keras')
