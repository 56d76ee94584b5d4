"""Every ReLU form hls4ml converts for io_stream, and Dropout, golden vs hls4ml C simulation (Vitis and Vivado).

One LeNet-like model holds them all: `keras.layers.ReLU()` (hls4ml: thresholded_relu, theta 0),
`LeakyReLU(0.1)` (leaky_relu, alpha in the default param_t), `Activation('leaky_relu')` (alpha 0.2
in a rounding, saturating param_t set by the config), `ReLU(threshold=0.3)` (theta in a coarse param_t: its
quantization matters) and two Dropouts: hls4ml removes the one whose input already has the default type and
keeps the other as a linear activation casting to it (kind linear). Narrow rounding/saturating result types make
the casts after the comparisons and products matter. 1,000 real MNIST test images and 1,000 random inputs
over the whole input type; every output element compared (hls4ml's per-layer trace would recompile
the project), and every form's inputs fall on both sides of its threshold.
"""

import numpy as np
import pytest

from golden_checks import mismatch_report
from lenet5_hls.core.fixed_point import to_float
from lenet5_hls.core.kind import KINDS
from lenet5_hls.golden import GoldenModel

N = 1000
BACKENDS = ('Vitis', pytest.param('Vivado', marks=pytest.mark.slow))  # Vivado: in the slow set, for time
FORMS = {
    'relu_layer': 'thresholded_relu',
    'leaky': 'leaky_relu',
    'leaky_act': 'leaky_relu',
    'thr': 'thresholded_relu',
    'drop2': 'linear',
}
CONFIG = {
    'Model': {'Precision': 'ap_fixed<12,5>'},
    'LayerName': {
        'relu_layer': {'Precision': {'result': 'ap_ufixed<8,3,AP_RND,AP_SAT>'}},
        'leaky': {'Precision': {'result': 'ap_fixed<9,3,AP_RND_CONV,AP_SAT>'}},
        'leaky_act': {
            'Precision': {'param': 'ap_ufixed<3,0,AP_RND,AP_SAT>', 'result': 'ap_fixed<8,2,AP_TRN,AP_SAT_SYM>'}
        },
        'thr': {'Precision': {'param': 'ap_fixed<4,1>', 'result': 'ap_fixed<8,3,AP_RND_INF,AP_WRAP>'}},
    },
}


def relu_forms_cnn():
    import keras

    keras.utils.set_random_seed(7)
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(4, 5, name='c1')(inputs)
    x = keras.layers.ReLU(name='relu_layer')(x)
    x = keras.layers.MaxPooling2D(2, name='pool')(x)
    x = keras.layers.Dropout(0.25, name='drop1')(x)
    x = keras.layers.Conv2D(6, 3, name='c2')(x)
    x = keras.layers.LeakyReLU(negative_slope=0.1, name='leaky')(x)
    x = keras.layers.Flatten(name='flat')(x)
    x = keras.layers.Dense(24, bias_initializer=keras.initializers.Constant(1.25), name='fc1')(x)  # both signs
    x = keras.layers.Activation('leaky_relu', name='leaky_act')(x)
    x = keras.layers.Dense(16, name='fc2')(x)
    x = keras.layers.ReLU(threshold=0.3, name='thr')(x)
    x = keras.layers.Dropout(0.5, name='drop2')(x)
    return keras.Model(inputs, keras.layers.Dense(10, name='out')(x))


@pytest.fixture(scope='module', params=BACKENDS)
def project(request, tmp_path_factory):
    from lenet5_hls.frontend.convert import build_project

    out = tmp_path_factory.mktemp(f'relu-forms-{request.param}') / 'hls'
    graph, spec = build_project(
        relu_forms_cnn(), out, backend=request.param, precision_config=CONFIG, progress=lambda *_: None
    )
    return graph, spec


def test_relu_forms_and_dropout_extracted(project):
    _, spec = project
    kinds = {layer.name: layer.kind for layer in spec.layers}
    assert {name: kinds.get(name) for name in FORMS} == FORMS, kinds
    assert 'drop1' not in kinds, 'hls4ml removes a Dropout that keeps the type; the spec must not hold it'
    layers = {layer.name: layer for layer in spec.layers}
    params = {name: (layers[name].types['param'].cpp(), layers[name].attrs) for name in FORMS if name != 'drop2'}
    # a layer named in the config gets the model's default param_t unless it sets its own
    assert params['leaky'] == ('ap_fixed<12,5,AP_TRN,AP_WRAP,0>', {'alpha': 12}), params  # 0.1 * 128 = 12.8
    assert params['leaky_act'][1] == {'alpha': 2}, params  # 0.2 * 8 = 1.6, rounded
    assert params['thr'][1] == {'theta': 2}, params  # 0.3 * 8 = 2.4, truncated: theta 0.25
    assert params['relu_layer'][1] == {'theta': 0}, params


def test_relu_forms_golden_equals_csim(project, mnist_data):
    from lenet5_hls.model.mnist import to_model_input

    graph, spec = project
    golden = GoldenModel(spec)
    t = spec.input.type
    inputs = {
        'real MNIST': golden.quantize_input(to_model_input(mnist_data.x_test[:N])),
        'random': np.random.default_rng(17).integers(t.raw_min, t.raw_max + 1, (N, *spec.input.shape)),
    }
    for what, raw in inputs.items():
        x = np.ascontiguousarray(to_float(raw, t))
        out, trace = golden.run(raw, trace=True)
        c = np.asarray(graph.predict(x), dtype=np.float64).reshape(len(raw), -1)
        where = f'{graph.config.backend.name} {what}'
        assert not mismatch_report(to_float(out, spec.output.type).reshape(len(raw), -1), c, where)
        for i, layer in enumerate(spec.layers):  # every form takes both branches: the comparison proves something
            if layer.name in FORMS:
                t_p, theta, _ = KINDS[layer.kind].piecewise(layer)
                x_in = to_float(trace[spec.layers[i - 1].name], layer.types['input'])
                below = int(np.count_nonzero(x_in <= to_float(theta, t_p)))
                # at least 10 elements each side, whichever MNIST the run has (the full set or the subset)
                assert 10 <= below <= x_in.size - 10, (
                    f'{where}, layer {layer.name}: {below} of {x_in.size} at/below theta'
                )
                assert np.unique(trace[layer.name]).size > 8, f'{where}, layer {layer.name}: outputs barely vary'


def test_wide_relu_layer_of_a_float_model():
    """keras ReLU() after a Conv2D of a float model: hls4ml gives input and param_t ap_fixed<37,17>, whose
    product would not fit int64; theta 0 is held in 2 bits, so the spec is valid and the golden model exact."""
    from lenet5_hls.core.fixed_point import FixedType, cast
    from lenet5_hls.core.spec import Layer, _check_layer

    wide, out = FixedType(37, 17), FixedType(16, 6)
    types = {'input': wide, 'param': wide, 'output': out}
    layer = Layer('relu1', 'thresholded_relu', (4, 4, 8), (4, 4, 8), types, attrs={'theta': 0})
    _check_layer(layer, 'relu1')
    x = np.random.default_rng(3).integers(wide.raw_min, wide.raw_max + 1, (5, 4, 4, 8))
    assert np.array_equal(KINDS['thresholded_relu'].golden(x, layer), np.where(x > 0, cast(x, wide.frac, out), 0))
    assert KINDS['thresholded_relu'].narrowest(layer)[0].width == 2
