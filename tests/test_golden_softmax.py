"""softmax (stable, latency, argmax) golden vs hls4ml C simulation, Vitis and Vivado backends, io_stream.

Per implementation two models:
- a cover model, a single softmax on a 10-element input, with narrow, saturating and wrapping table types
  and a table size below the default: 1,000+ synthetic vectors picked from a random pool so that every exp
  table index and every inverse table index is reached (asserted with the golden index functions), argmax
  with the maximum at every position and ties;
- an MNIST model (average pooling, dense 10 from the digits' class means, softmax with hls4ml's default
  table types) on 1,000 real test images.
Every output element is compared. Each project compiles its C simulation (~20 s), so the default suite
runs the stable cover model on Vitis; the rest of the matrix is marked slow.
"""

import numpy as np
import pytest

from golden_checks import mismatch_report
from lenet5_hls.core.fixed_point import to_float
from lenet5_hls.golden import GoldenModel
from lenet5_hls.kinds.softmax import cover_vectors, coverage_keys

N = 1000
WIDTH = 10  # elements per softmax vector


def single_softmax():
    import keras

    inputs = keras.Input((WIDTH,))
    return keras.Model(inputs, keras.layers.Softmax(name='sm')(inputs))


def mnist_model(data):
    """Average pooling to 7x7, dense 10 whose weights are the training digits' pooled class means (centred), so
    the classes differ from image to image, softmax."""
    import keras

    inputs = keras.Input((28, 28, 1))
    x = keras.layers.AveragePooling2D(4, name='avg')(inputs)
    x = keras.layers.Flatten(name='flat')(x)
    x = keras.layers.Dense(WIDTH, name='fc')(x)
    model = keras.Model(inputs, keras.layers.Activation('softmax', name='sm')(x))
    pooled = data.x_train[:3000].reshape(-1, 7, 4, 7, 4).mean(axis=(2, 4)).reshape(-1, 49) / 256
    means = np.stack([pooled[data.y_train[:3000] == c].mean(axis=0) for c in range(WIDTH)], axis=1)
    model.get_layer('fc').set_weights([8 * (means - means.mean(axis=1, keepdims=True)), np.zeros(WIDTH)])
    return model


COVER = {
    # input ap_fixed<10,4>: inp_norm_t = ap_ufixed<9,3> wraps max - x modulo 8, the top 8 of its 9 bits index
    # the 256-entry exp table; the sum wraps modulo 4 in ap_ufixed<10,2> (its top 8 bits index 1/x, whose
    # 1/0 = inf wraps to 0 and whose large entries wrap too), the output saturates.
    'stable': {
        'Model': {'Precision': 'ap_fixed<10,4>'},
        'LayerName': {
            'sm': {
                'Implementation': 'stable',
                'table_size': 256,
                'exp_table_t': 'ap_ufixed<10,1,AP_RND,AP_SAT>',
                'inv_table_t': 'ap_ufixed<12,6,AP_RND>',
                'inv_inp_t': 'ap_ufixed<10,2>',
                'accum_t': 'ap_fixed<16,6>',
                'Precision': {'result': 'ap_fixed<12,4,AP_RND_CONV,AP_SAT>'},
            }
        },
    },
    # input ap_fixed<8,3>: its top 7 bits index a 128-entry exp table whose exp(x) >= 8 wraps (to negative values
    # too), so the sum, saturating in accum_t at +-16, depends on nnet::reduce's order; its top 7 bits in
    # ap_ufixed<8,5> (negative sums wrap) index 1/x (1/0 saturates).
    'latency': {
        'Model': {'Precision': 'ap_fixed<8,3>'},
        'LayerName': {
            'sm': {
                'Implementation': 'latency',
                'table_size': 128,
                'exp_table_t': 'ap_fixed<10,4>',
                'inv_table_t': 'ap_ufixed<12,1,AP_RND_CONV,AP_SAT>',
                'inv_inp_t': 'ap_ufixed<8,5>',
                'accum_t': 'ap_fixed<12,5,AP_TRN,AP_SAT>',
                'Precision': {'result': 'ap_fixed<10,2,AP_RND,AP_SAT>'},
            }
        },
    },
    # 16 input values, so ties are frequent; (res_T)1 saturates to 0.875 in ap_fixed<4,1>
    'argmax': {
        'Model': {'Precision': 'ap_fixed<4,2>'},
        'LayerName': {'sm': {'Implementation': 'argmax', 'Precision': {'result': 'ap_fixed<4,1,AP_RND,AP_SAT>'}}},
    },
}
BACKENDS = ('Vitis', 'Vivado')
DEFAULT = {('stable', 'cover', 'Vitis')}  # the one project the default suite builds


def _params():
    for backend in BACKENDS:
        for impl in COVER:
            for inputs in ('cover', 'mnist'):
                marks = () if (impl, inputs, backend) in DEFAULT else (pytest.mark.slow,)
                yield pytest.param((impl, inputs, backend), id=f'{impl}-{inputs}-{backend}', marks=marks)


@pytest.fixture(scope='module', params=list(_params()))
def project(request, tmp_path_factory, mnist_data):
    from lenet5_hls.frontend.convert import build_project

    impl, inputs, backend = request.param
    if inputs == 'cover':
        model, config = single_softmax(), COVER[impl]
    else:
        config = {'LayerName': {'sm': {'Implementation': impl}, 'fc': {'Precision': {'result': 'ap_fixed<12,4>'}}}}
        model = mnist_model(mnist_data)
    out = tmp_path_factory.mktemp(f'{impl}-{inputs}-{backend}') / 'hls'
    graph, spec = build_project(model, out, backend=backend, precision_config=config, progress=lambda *_: None)
    return impl, inputs, graph, spec


def check_coverage(layer, x: np.ndarray) -> None:
    impl = layer.attrs['implementation']
    if impl == 'argmax':
        hit = np.unique(x.argmax(axis=-1))
        assert len(hit) == WIDTH, f'argmax at only {len(hit)} of {WIDTH} positions'
        ties = (x == x.max(axis=-1, keepdims=True)).sum(axis=-1) > 1
        assert ties.sum() > 100, f'only {ties.sum()} vectors with a tied maximum'
        return
    exp_index, inv_index = coverage_keys(layer, x)
    for what, index, size in (
        ('exp', exp_index, layer.attrs['exp_table_size']),
        ('inverse', inv_index, layer.attrs['inv_table_size']),
    ):
        hit = np.unique(index)
        assert len(hit) == size, f'{impl}: {size - len(hit)} of {size} {what} table indices never reached'


def test_softmax_golden_equals_csim(project, mnist_data):
    impl, inputs, graph, spec = project
    layer = spec.layers[-1]
    assert layer.kind == 'softmax' and layer.attrs['implementation'] == impl
    golden = GoldenModel(spec)
    rng = np.random.default_rng(11)
    if inputs == 'cover':
        raw = cover_vectors(layer, rng, N)
        check_coverage(layer, raw)
    else:
        from lenet5_hls.model.mnist import to_model_input

        raw = golden.quantize_input(to_model_input(mnist_data.x_test[:N]))
    assert len(raw) >= N
    expected = to_float(golden.run(raw), spec.output.type).reshape(len(raw), -1)
    c = np.asarray(graph.predict(np.ascontiguousarray(to_float(raw, spec.input.type))), dtype=np.float64)
    c = c.reshape(len(raw), -1)
    backend = graph.config.backend.name
    assert not mismatch_report(expected, c, f'{impl} {inputs} {backend}: golden vs C simulation')
    varies = len(np.unique(expected.argmax(axis=1))) > 5 if impl == 'argmax' else np.unique(expected).size > 50
    assert varies, 'the outputs barely vary: the test would prove little'


@pytest.mark.parametrize(
    'layer_config, message',
    [
        ({'Implementation': 'legacy'}, r"layer 'sm' \(Softmax\): softmax implementation 'legacy' is not supported"),
        ({'table_size': 1000}, r"layer 'sm' \(Softmax\): exp_table_size 1000 is not a power of two"),
        (
            {'inv_inp_t': 'ap_ufixed<6,3>', 'table_size': 128},
            r"layer 'sm' \(Softmax\): inv_table_size 128 needs 7 index bits, more than the ap_ufixed<6,3",
        ),
    ],
    ids=['legacy', 'table-size', 'index-bits'],
)
def test_unbuildable_softmax_is_refused_at_extraction(layer_config, message):
    """What the C++ leaves undefined, or lenet5-hls does not build, is refused naming the layer and the reason."""
    from lenet5_hls.frontend.convert import convert
    from lenet5_hls.frontend.extract import UnsupportedLayer, extract

    config = {'Model': {'Precision': 'ap_fixed<12,4>'}, 'LayerName': {'sm': layer_config}}
    graph = convert(single_softmax(), None, precision_config=config)
    with pytest.raises(UnsupportedLayer, match=message):
        extract(graph)
