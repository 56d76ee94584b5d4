"""softmax (stable, latency, argmax) golden vs hls4ml C simulation, Vitis and Vivado backends, io_stream.

Per implementation two models:
- a cover model, a single softmax on a 10-element input, with narrow, saturating and wrapping table types
  and a table size below the default: 1,000+ synthetic vectors picked from a random pool so that every exp
  table index and every inverse table index is reached (asserted with the golden index functions), argmax
  with the maximum at every position and ties;
- an MNIST model (average pooling, dense 10, softmax with hls4ml's default table types) on 1,000 real test
  images.
Every output element is compared. Each project compiles its C simulation (~20 s), so the default suite
runs the stable cover model on Vitis; the rest of the matrix is marked slow.
"""

import numpy as np
import pytest

from golden_checks import mismatch_report
from lenet5_hls.core.fixed_point import to_float
from lenet5_hls.core.kind import KINDS
from lenet5_hls.golden import GoldenModel

N = 1000
WIDTH = 10  # elements per softmax vector


def single_softmax():
    import keras

    inputs = keras.Input((WIDTH,))
    return keras.Model(inputs, keras.layers.Softmax(name='sm')(inputs))


def mnist_model():
    import keras

    keras.utils.set_random_seed(7)
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.AveragePooling2D(4, name='avg')(inputs)
    x = keras.layers.Flatten(name='flat')(x)
    x = keras.layers.Dense(WIDTH, name='fc', kernel_initializer=keras.initializers.RandomNormal(0, 1))(x)
    return keras.Model(inputs, keras.layers.Activation('softmax', name='sm')(x))


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
    # input ap_fixed<8,3>: its top 7 bits index a 128-entry exp table whose exp(x) > 16 wraps; the sum saturates
    # in accum_t at 128, its top 7 bits in ap_ufixed<10,7> index 1/x (1/0 saturates).
    'latency': {
        'Model': {'Precision': 'ap_fixed<8,3>'},
        'LayerName': {
            'sm': {
                'Implementation': 'latency',
                'table_size': 128,
                'exp_table_t': 'ap_ufixed<10,4>',
                'inv_table_t': 'ap_ufixed<12,1,AP_RND_CONV,AP_SAT>',
                'inv_inp_t': 'ap_ufixed<10,7>',
                'accum_t': 'ap_fixed<14,8,AP_TRN,AP_SAT>',
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
def project(request, tmp_path_factory):
    from lenet5_hls.frontend.convert import build_project

    impl, inputs, backend = request.param
    if inputs == 'cover':
        model, config = single_softmax(), COVER[impl]
    else:
        config = {'LayerName': {'sm': {'Implementation': impl}, 'fc': {'Precision': {'result': 'ap_fixed<12,4>'}}}}
        model = mnist_model()
    out = tmp_path_factory.mktemp(f'{impl}-{inputs}-{backend}') / 'hls'
    graph, spec = build_project(model, out, backend=backend, precision_config=config, progress=lambda *_: None)
    return impl, inputs, graph, spec


def cover_inputs(layer, t, rng) -> np.ndarray:
    """>= N raw vectors from a random pool: first those reaching exp / inverse table indices (or argmax
    positions) not reached yet, then random ones up to N."""
    lo, hi = t.raw_min, t.raw_max + 1
    centre = rng.integers(lo, hi, (40_000, 1))
    spread = rng.integers(1, hi - lo + 1, (40_000, 1))
    pool = np.concatenate(
        [
            rng.integers(lo, hi, (20_000, WIDTH)),  # any value anywhere
            np.clip(centre + rng.integers(0, spread, (40_000, WIDTH)) - spread // 2, lo, hi - 1),  # clustered
        ]
    )
    keys = coverage_keys(layer, pool)
    chosen, seen = [], [set() for _ in keys]
    for i in range(len(pool)):
        new = [set(k[i].ravel()) - s for k, s in zip(keys, seen)]
        if any(new):
            chosen.append(i)
            for s, n in zip(seen, new):
                s |= n
    rest = np.setdiff1d(np.arange(len(pool)), chosen)
    chosen += list(rng.choice(rest, max(0, N - len(chosen)), replace=False))
    return pool[np.array(chosen)]


def coverage_keys(layer, x: np.ndarray) -> list[np.ndarray]:
    """Per vector, what the cover inputs must reach: exp and inverse table indices, or the argmax position."""
    kind = KINDS['softmax']
    if layer.attrs['implementation'] == 'argmax':
        return [x.argmax(axis=-1)]
    return [kind.exp_index(x, layer), kind.inv_index(x, layer)[1]]


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
        raw = cover_inputs(layer, spec.input.type, rng)
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
    assert np.unique(expected).size > (1 if impl == 'argmax' else 50), 'outputs barely vary: the test proves little'


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
