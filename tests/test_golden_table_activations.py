"""sigmoid and tanh (hls4ml's lookup tables) golden vs hls4ml C simulation, Vitis and Vivado backends.

Two models are a single activation on a 16x16x16 input whose type makes every table index reachable and
inputs fall beyond both ends of the table (narrow saturating types, a table smaller than the default, an
unsigned table type): one synthetic input enumerates every raw input value, 1,000 more are random. A
LeNet-like CNN (conv + tanh with a table size that is not a power of two, dense + sigmoid with hls4ml's
defaults) runs on 1,000 real MNIST test images and 1,000 random inputs. Every output element compared.
"""

import numpy as np
import pytest

from golden_checks import mismatch_report
from lenet5_hls.core.fixed_point import to_float
from lenet5_hls.core.kind import KINDS
from lenet5_hls.golden import GoldenModel

N = 1000
COVER_SHAPE = (16, 16, 16)  # 4,096 elements per input, 16 per stream beat


def single_activation(function: str):
    import keras

    inputs = keras.Input(COVER_SHAPE)
    return keras.Model(inputs, keras.layers.Activation(function, name='act')(inputs))


def lenet_like():
    import keras

    keras.utils.set_random_seed(5)
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(4, 5, activation='tanh', name='c1')(inputs)
    x = keras.layers.AveragePooling2D(2, name='avg')(x)
    x = keras.layers.Flatten(name='flat')(x)
    x = keras.layers.Dense(12, activation='sigmoid', name='fc')(x)
    return keras.Model(inputs, keras.layers.Dense(10, name='out')(x))


MODELS = {
    # x * 1024 / 8 + 512 at 8 fractional bits: index = trunc(raw / 2) + 512, raw in -2048..2047
    'tanh-cover': (
        lambda: single_activation('tanh'),
        {
            'Model': {'Precision': 'ap_fixed<12,4>'},
            # a 24-bit table kept as the output: single-precision tanhf decides its last bits (NumPy's
            # float32 tanh differs in 71 of the 1024 entries)
            'LayerName': {
                'act': {
                    'table_t': 'ap_fixed<24,2,AP_RND,AP_SAT>',
                    'Precision': {'result': 'ap_fixed<24,2,AP_RND,AP_SAT>'},
                }
            },
        },
    ),
    # table of 256: index = raw + 128 for raw in -256..255, unsigned table and output types
    'sigmoid-cover': (
        lambda: single_activation('sigmoid'),
        {
            'Model': {'Precision': 'ap_fixed<9,5>'},
            'LayerName': {
                'act': {
                    'table_size': 256,
                    'table_t': 'ap_ufixed<8,0,AP_RND,AP_SAT>',
                    'Precision': {'result': 'ap_ufixed<6,0>'},
                }
            },
        },
    ),
    # 1000 / 8 = 125 is exact, 1024 / 16 too; the narrow input of fc's sigmoid saturates the index
    'lenet-like': (
        lenet_like,
        {
            'Model': {'Precision': 'ap_fixed<16,6>'},
            'LayerName': {
                'c1_tanh': {
                    'table_size': 1000,
                    'table_t': 'ap_fixed<12,2,AP_RND_CONV,AP_SAT>',
                    'Precision': {'result': 'ap_fixed<8,2,AP_RND,AP_SAT>'},
                },
                'fc': {'Precision': {'result': 'ap_fixed<10,5,AP_RND,AP_SAT>'}},
            },
        },
    ),
}
BACKENDS = ('Vitis', 'Vivado')  # Vivado: in the slow set, for time (the suite's fuzz seeds draw it)
# hls4ml's layer configuration keys for the table: table_size and table_t (not a 'Precision' entry)


@pytest.fixture(
    scope='module',
    params=[
        pytest.param((m, b), id=f'{m}-{b}', marks=() if b == 'Vitis' else pytest.mark.slow)
        for b in BACKENDS
        for m in MODELS
    ],
)
def project(request, tmp_path_factory):
    from lenet5_hls.frontend.convert import build_project

    name, backend = request.param
    make_model, config = MODELS[name]
    out = tmp_path_factory.mktemp(f'{name}-{backend}') / 'hls'
    graph, spec = build_project(make_model(), out, backend=backend, precision_config=config, progress=lambda *_: None)
    return name, graph, spec


def _inputs(name: str, spec, mnist_data) -> dict[str, np.ndarray]:
    """Raw inputs per input set: real MNIST or the enumeration of every raw value, and random ones."""
    t = spec.input.type
    rng = np.random.default_rng(13)
    random = rng.integers(t.raw_min, t.raw_max + 1, (N, *spec.input.shape))
    if name == 'lenet-like':
        from lenet5_hls.model.mnist import to_model_input

        real = GoldenModel(spec).quantize_input(to_model_input(mnist_data.x_test[:N]))
        return {'real MNIST': real, 'random': random}
    every = np.resize(np.arange(t.raw_min, t.raw_max + 1), spec.input.shape)[None]
    return {'every input value': every, 'random': random}


def _check_table_indices_hit(name: str, spec, raw_inputs: np.ndarray) -> None:
    """The single-activation models reach every table index and fall beyond both ends."""
    layer = spec.layers[0]
    act = KINDS[layer.kind]
    size = layer.attrs['table_size']
    index = act.index(raw_inputs, layer.types['input'], size)
    hit = np.unique(np.clip(index, 0, size - 1))
    assert len(hit) == size, f'{name}: {size - len(hit)} of {size} table indices never reached'
    assert index.min() < 0 and index.max() > size - 1, f'{name}: inputs do not go beyond both table ends'


def test_table_activation_golden_equals_csim(project, mnist_data):
    name, graph, spec = project
    kinds = {layer.kind for layer in spec.layers}
    assert kinds & {'tanh', 'sigmoid'}, kinds
    golden = GoldenModel(spec)
    for what, raw in _inputs(name, spec, mnist_data).items():
        if name != 'lenet-like' and what == 'every input value':
            _check_table_indices_hit(name, spec, raw)
        x = to_float(raw, spec.input.type)
        expected = to_float(golden.run(raw), spec.output.type).reshape(len(raw), -1)
        c = np.asarray(graph.predict(np.ascontiguousarray(x)), dtype=np.float64).reshape(len(raw), -1)
        assert not mismatch_report(expected, c, f'{name} {graph.config.backend.name}, {what}: golden vs C simulation')
        assert np.unique(expected).size > 16, f'{name} {what}: outputs barely vary, the test would prove little'
