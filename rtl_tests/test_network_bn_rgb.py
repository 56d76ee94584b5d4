"""A CIFAR-like network through the whole flow: a 32x32x3 input, BatchNormalization on the input channels, fused
into a conv, after a conv whose output is 1x1 (textbook LeNet's C5) and after a Dense; hls4ml (Vitis, io_stream)
-> spec -> golden model (against the C simulation) -> generated RTL under Verilator (hdl driver,
verify.simulate): every output element of 20 synthetic images bit-exact, the measured II and latency equal to
the analytical ones. Folded for a target II of 8 times the input rate, to keep the Verilator build small.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness import SIM_BUILD
from lenet5_hls.core.fixed_point import to_float
from lenet5_hls.golden import GoldenModel

N_IMAGES = 20
TARGET_II = 8192  # 8 x the 1,024 input beats per image
CONFIG = {
    'Model': {'Precision': 'ap_fixed<12,4,AP_RND,AP_SAT>'},
    'LayerName': {
        'image': {'Precision': {'result': 'ap_ufixed<8,0>'}},
        'bn_in': {'Precision': {'scale': 'ap_fixed<8,3>', 'bias': 'ap_fixed<8,3>', 'result': 'ap_fixed<9,3>'}},
        # result 'auto' (the config replaces a layer's whole Precision entry): bn_c1 is fused into c1
        'c1': {'Precision': {'weight': 'ap_fixed<8,2>', 'bias': 'ap_fixed<8,3>', 'result': 'auto'}},
        'r1': {'Precision': {'result': 'ap_ufixed<8,3,AP_RND,AP_SAT>'}},
        'p1': {'Precision': {'result': 'ap_ufixed<8,3,AP_RND,AP_SAT>'}},
        'c2': {'Precision': {'weight': 'ap_fixed<8,2>', 'accum': 'ap_fixed<20,8>', 'result': 'ap_fixed<12,5>'}},
        'bn_c2': {
            'Precision': {'scale': 'ap_fixed<8,3>', 'bias': 'ap_fixed<8,3>', 'result': 'ap_fixed<10,4,AP_RND,AP_SAT>'}
        },
        'fc': {'Precision': {'weight': 'ap_fixed<8,2>', 'accum': 'ap_fixed<20,8>', 'result': 'ap_fixed<12,5>'}},
        'bn_fc': {
            'Precision': {
                'scale': 'ap_fixed<8,3>',
                'bias': 'ap_fixed<8,3>',
                'result': 'ap_fixed<10,4,AP_RND_CONV,AP_SAT_SYM>',
            }
        },
    },
}


def rgb_cnn():
    import keras

    keras.utils.set_random_seed(11)
    layers = keras.layers
    inputs = keras.Input((32, 32, 3), name='image')  # named: the config refers to it
    x = layers.BatchNormalization(name='bn_in')(inputs)
    x = layers.Conv2D(4, 5, name='c1')(x)
    x = layers.BatchNormalization(name='bn_c1')(x)
    x = layers.Activation('relu', name='r1')(x)
    x = layers.MaxPooling2D(4, name='p1')(x)
    x = layers.Conv2D(16, 7, name='c2')(x)  # 7x7x4 -> 1x1x16
    x = layers.BatchNormalization(name='bn_c2')(x)
    x = layers.Flatten(name='flat')(x)
    x = layers.Dense(10, name='fc')(x)
    model = keras.Model(inputs, layers.BatchNormalization(name='bn_fc')(x))
    rng = np.random.default_rng(11)
    for layer in model.layers:
        if type(layer).__name__ == 'BatchNormalization':
            n = layer.moving_mean.shape[0]
            gamma = rng.uniform(0.5, 2, n) * np.where(np.arange(n) % 2, -1.0, 1.0)
            layer.set_weights([gamma, rng.uniform(-1, 1, n), rng.uniform(0, 0.5, n), rng.uniform(0.25, 2, n)])
    return model


@pytest.fixture(scope='module')
def rgb_project(tmp_path_factory):
    from lenet5_hls.frontend.convert import build_project

    out = tmp_path_factory.mktemp('rgb')
    graph, spec = build_project(rgb_cnn(), out / 'hls', precision_config=CONFIG, progress=lambda *_: None)
    return out, graph, spec


def test_rgb_network_golden_and_rtl(rgb_project):
    from lenet5_hls.rtl.generator import generate
    from lenet5_hls.verify.simulate import simulate

    out, graph, spec = rgb_project
    assert spec.input.shape == (32, 32, 3) and spec.input.elements_per_beat == 3
    assert [la.name for la in spec.layers if la.kind == 'batchnorm'] == ['bn_in', 'bn_c2', 'bn_fc']
    assert spec.layer('c2').output_shape == (1, 1, 16) and spec.layer('flat').input_shape == (1, 1, 16)
    golden = GoldenModel(spec)
    raw = golden.quantize_input(np.random.default_rng(12).uniform(0, 1, (N_IMAGES, 32, 32, 3)))
    expected = golden.run(raw)
    c = np.asarray(graph.predict(np.ascontiguousarray(to_float(raw, spec.input.type))), dtype=np.float64)
    got = to_float(expected, spec.output.type).reshape(N_IMAGES, -1)
    assert np.array_equal(got, c.reshape(N_IMAGES, -1)), 'golden model vs C simulation'
    assert np.unique(expected).size > 50, 'outputs barely vary: the test would prove little'

    desc = generate(spec, out / 'rtl', target_ii=TARGET_II)
    result = simulate(
        out / 'rtl' / f'{desc.top}.json',
        raw,
        expected,
        out / 'sim',
        sim='verilator',
        jobs=1,
        cache_dir=SIM_BUILD / 'network_bn_rgb',
        progress=lambda *_: None,
        optimize=False,  # 20 images: the C++ compile is the cost
    )
    assert result['images'] == N_IMAGES and result['elements'] == expected.size
    assert result['mismatches'] == 0 and result['extra_beats'] == 0, result
    assert result['ii_cycles'] == desc.ii_cycles, (result['ii_cycles'], desc.ii_cycles)
    assert result['latency_cycles'] == desc.timing.latency_cycles, (result['latency_cycles'], desc.timing)
    assert np.array_equal(np.load(out / 'sim' / 'rtl_outputs.npy').reshape(expected.shape), expected)
