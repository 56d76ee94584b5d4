"""The committed LeNet-5: golden model vs hls4ml C simulation vs the quantized Keras model, bit for bit.

Every output element of every image is compared (the logits, not only the argmax).
"""

import numpy as np
import pytest

from golden_checks import csim, mismatch_report
from lenet5_hls.core.fixed_point import to_float
from lenet5_hls.golden import GoldenModel
from lenet5_hls.model.lenet5 import quantizer_bits
from lenet5_hls.model.mnist import to_model_input

N_MNIST = 1000


def synthetic_inputs(t, n_random: int = 600) -> dict[str, np.ndarray]:
    """Real-valued 28x28x1 inputs hitting the input type's edges, rounding ties and overflow."""
    rng = np.random.default_rng(7)
    lsb = 2.0**-t.frac
    top = t.raw_max * lsb
    shape = (28, 28, 1)
    cases = {
        'zeros': np.zeros((1, *shape)),
        'all-max': np.full((1, *shape), top),
        'all-min': np.full((1, *shape), t.raw_min * lsb),
        'random': rng.integers(t.raw_min, t.raw_max + 1, (n_random, *shape)) * lsb,
        # half an LSB above a representable value: the input cast's rounding tie
        'ties': (rng.integers(t.raw_min, t.raw_max, (200, *shape)) + 0.5) * lsb,
        # sparse bright strokes on black: realistic activations pushed to their largest values
        'sparse-max': np.where(rng.random((100, *shape)) < 0.2, top, 0.0),
        # beyond the input range on both sides: exercises the input type's overflow mode
        'out-of-range': rng.uniform(-2 * top, 3 * top, (100, *shape)),
    }
    return cases


def test_committed_model_bit_budget(lenet5):
    bits = quantizer_bits(lenet5.keras_model)
    assert bits and max(bits.values()) <= 8, bits
    spec = lenet5.spec
    assert spec.input.type.width <= 8
    for layer in spec.layers:
        if layer.kind in ('relu', 'maxpool2d', 'flatten'):
            assert layer.types['output'].width <= 8, (layer.name, layer.types['output'])
        if layer.kind in ('conv2d', 'dense'):
            assert layer.types['weight'].width <= 8, (layer.name, layer.types['weight'])


def test_golden_equals_csim_and_keras_on_mnist(lenet5, mnist_data):
    x = to_model_input(mnist_data.x_test[:N_MNIST])
    golden = GoldenModel(lenet5.spec).predict(x)
    c = csim(lenet5, x)
    k = lenet5.keras_model.predict(x, batch_size=500, verbose=0).astype(np.float64)
    assert golden.shape == (N_MNIST, 10)
    assert not mismatch_report(golden, c, 'golden vs C simulation')
    assert not mismatch_report(golden, k, 'golden vs Keras')
    # sanity: these are real predictions, not a degenerate constant
    assert np.mean(golden.argmax(1) == mnist_data.y_test[:N_MNIST]) > 0.97


def test_golden_equals_csim_on_synthetic_inputs(lenet5):
    spec = lenet5.spec
    cases = synthetic_inputs(spec.input.type)
    x = np.concatenate(list(cases.values()))
    assert len(x) >= 1000
    golden = GoldenModel(spec).predict(x)
    c = csim(lenet5, x)
    start = 0
    for name, xs in cases.items():
        sl = slice(start, start + len(xs))
        assert not mismatch_report(golden[sl], c[sl], f'{name}: golden vs C simulation')
        start += len(xs)


def test_golden_equals_keras_on_in_range_synthetic_inputs(lenet5):
    cases = synthetic_inputs(lenet5.spec.input.type)
    x = np.concatenate([cases[k] for k in ('zeros', 'all-max', 'random', 'ties', 'sparse-max')])
    golden = GoldenModel(lenet5.spec).predict(x)
    k = lenet5.keras_model.predict(x, batch_size=500, verbose=0).astype(np.float64)
    assert not mismatch_report(golden, k, 'golden vs Keras')


def test_trace_matches_csim_trace_per_layer(lenet5, mnist_data):
    """Every intermediate tensor, not only the output: what mismatch localization relies on."""
    x = to_model_input(mnist_data.x_test[:20]).astype(np.float64)
    model = GoldenModel(lenet5.spec)
    _, trace = model.run(model.quantize_input(x), trace=True)
    _, csim_trace = lenet5.graph.trace(x)
    compared = [layer for layer in lenet5.spec.layers if layer.name in csim_trace]
    assert len(compared) >= len(lenet5.spec.layers) - 1, f'hls4ml traced only {sorted(csim_trace)}'
    for layer in compared:
        expected = np.asarray(csim_trace[layer.name], dtype=np.float64).reshape(len(x), -1)
        got = to_float(trace[layer.name], layer.types['output']).reshape(len(x), -1)
        assert not mismatch_report(expected, got, f'layer {layer.name}')


@pytest.mark.slow  # a second C-simulation build of LeNet-5 (about 20 s); the suite's fuzz seeds draw Vivado
def test_vivado_backend_also_matches(lenet5, mnist_data, tmp_path):
    """The older Vivado HLS backend writes the same arithmetic: its spec and C simulation agree too."""
    from lenet5_hls.frontend.convert import build_project

    graph, spec = build_project(lenet5.keras_model, tmp_path / 'vivado', backend='Vivado', progress=lambda *_: None)
    assert spec.source['backend'] == 'Vivado'
    x = to_model_input(mnist_data.x_test[:200])
    golden = GoldenModel(spec).predict(x)
    c = np.asarray(graph.predict(np.ascontiguousarray(x, dtype=np.float64)), dtype=np.float64).reshape(len(x), -1)
    assert not mismatch_report(golden, c, 'Vivado backend: golden vs C simulation')
    assert np.array_equal(golden, GoldenModel(lenet5.spec).predict(x)), 'Vitis and Vivado pipelines compute differently'
