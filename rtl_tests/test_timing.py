"""The analytical latency model (hls/timing.py) on small hand-written specs: module latencies, the MAC
serving queued windows one per cycles_per_vector, padding at no cost, backpressure onto the input, and
its place in the RTL description and the `rtl` command. Checked against simulation of the whole
LeNet-5 (Verilator, every stage boundary's handshakes) for the figures below."""

from dataclasses import replace

import numpy as np
import pytest

from lenet5_hls.core import spec as S
from lenet5_hls.core.fixed_point import FixedType
from lenet5_hls.rtl.generator import generate
from lenet5_hls.rtl.params import dense_pipeline
from lenet5_hls.rtl.timing import MODELLED_IMAGES, pipeline_timing, stream_timing, window_geometry

U4 = FixedType(4, 0, False)
W4 = FixedType(4, 1, True)
B6 = FixedType(6, 2, True)
ACC = FixedType(16, 6, True)
C8 = FixedType(8, 4, True, 'RND', 'SAT')
D12 = FixedType(12, 6, True)
RNG = np.random.default_rng(0)


def _dense(name, n_in, n_out, t_in, epb_in):
    return S.Layer(
        name,
        'dense',
        (n_in,),
        (n_out,),
        {'input': t_in, 'weight': W4, 'bias': B6, 'accum': ACC, 'output': D12},
        {},
        epb_in,
        n_out,
        name,
        {'weight': RNG.integers(-8, 8, (n_in, n_out)), 'bias': RNG.integers(-32, 32, n_out)},
    )


def dense_spec() -> S.Spec:
    """x (8 elements, one beat) -> dense 3."""
    return S.Spec('tiny', S.Port('x', (8,), U4, 8), S.Port('y', (3,), D12, 3), [_dense('fc', 8, 3, U4, 8)])


def conv_spec(size=6, pad=(0, 0, 0, 0)) -> S.Spec:
    """size x size x 1 -> conv 3x3x2 (padding pad) -> flatten -> dense 3."""
    oh, ow = size + pad[0] + pad[1] - 2, size + pad[2] + pad[3] - 2
    conv = S.Layer(
        'conv',
        'conv2d',
        (size, size, 1),
        (oh, ow, 2),
        {'input': U4, 'weight': W4, 'bias': B6, 'accum': ACC, 'output': C8},
        {'kernel': [3, 3], 'stride': [1, 1], 'padding': list(pad)},
        1,
        2,
        'l1',
        {'weight': RNG.integers(-8, 8, (3, 3, 1, 2)), 'bias': RNG.integers(-32, 32, 2)},
    )
    flat = S.Layer('flat', 'flatten', (oh, ow, 2), (oh * ow * 2,), {'input': C8, 'output': C8}, {}, 2, 2, 'l1')
    return S.Spec(
        'tiny',
        S.Port('x', (size, size, 1), U4, 1),
        S.Port('y', (3,), D12, 3),
        [conv, flat, _dense('fc', oh * ow * 2, 3, C8, 2)],
    )


@pytest.mark.parametrize('mults, steps', [(24, 1), (6, 4), (1, 24)], ids=['parallel', 'folded', 'one-mult'])
def test_single_dense_layer(tmp_path, mults, steps):
    """First vector: STEPS + ACC_STAGE + 3 (dense_unit's testbench asserts it); back to back the input skid
    holds one vector while the previous computes: STEPS - 1 cycles of waiting more, one vector per STEPS."""
    desc = generate(dense_spec(), tmp_path, overrides={'fc': mults})
    acc_stage, _ = dense_pipeline(desc.stages[-1].params)
    t = desc.timing
    assert t.latency_cycles == steps + acc_stage + 3
    assert t.ii_cycles == steps
    assert t.steady_state_latency_cycles == t.latency_cycles + steps - 1


def test_window_generator_first_window(tmp_path):
    """The first 3x3 window of a 6x6 image completes at scan position 2*6+2, leaves one clock later; the
    MAC adds STEPS + ACC_STAGE + 3; the dense layer waits for the whole flattened image."""
    desc = generate(conv_spec(), tmp_path)
    stages = {s.instance: s for s in desc.timing.stages}
    steps = {la.name: la.cycles_per_vector for la in desc.folding.layers}
    acc_stage = {s.instance: dense_pipeline(s.params)[0] for s in desc.stages if s.module == 'dense_unit'}
    assert stages['conv_window'].first_out == 2 * 6 + 2 + 1
    assert stages['conv_mac'].latency == steps['conv'] + acc_stage['conv_mac'] + 3
    assert stages['fc_gather'].first_out == stages['conv_mac'].last_out + 1
    assert desc.timing.latency_cycles == stages['fc_gather'].first_out + steps['fc'] + acc_stage['fc_mac'] + 3


def test_mac_serves_queued_windows_one_per_cycles_per_vector(tmp_path):
    """One multiplier: windows arrive 4 per row of 6 clocks and queue in the FIFO; the MAC takes them
    back to back, so its outputs are exactly STEPS apart."""
    desc = generate(conv_spec(), tmp_path, overrides={'conv': 1})
    steps = desc.folding.layers[0].cycles_per_vector
    stages = [(s.module, s.params) for s in desc.stages]
    mac = stream_timing(stages, 36, 1)[[s.instance for s in desc.stages].index('conv_mac')]
    assert np.diff(mac['out']).tolist() == [steps] * 15


def test_design_slower_than_its_input(tmp_path):
    """II 16 windows x 18 cycles > 36 input beats: the window FIFO holds only what the II needs, so the first
    image's input stalls; the model's II is the folding's, and in steady state an image's first beat is taken
    before the previous image drained."""
    desc = generate(conv_spec(), tmp_path, overrides={'conv': 1})
    t = desc.timing
    assert desc.folding.ii_cycles == t.ii_cycles == 16 * 18
    taken = stream_timing([(s.module, s.params) for s in desc.stages], 36, 2)[0]['in']
    assert taken[35] > 35 and taken[71] > 71
    assert t.steady_state_latency_cycles > t.latency_cycles


def two_conv_spec() -> S.Spec:
    """8x8x1 -> conv 3x3x2 -> conv 3x3x2 -> flatten -> dense 3: a folded MAC feeding another."""
    one = conv_spec(size=8)
    conv1 = one.layers[0]
    conv2 = S.Layer(
        **{
            **vars(conv1),
            'name': 'conv2',
            'input_shape': (6, 6, 2),
            'output_shape': (4, 4, 2),
            'types': {**conv1.types, 'input': C8},
            'in_elements_per_beat': 2,
            'stream': 'l2',
            'arrays': {'weight': RNG.integers(-8, 8, (3, 3, 2, 2)), 'bias': RNG.integers(-32, 32, 2)},
        }
    )
    flat = S.Layer(**{**vars(one.layers[1]), 'input_shape': (4, 4, 2), 'output_shape': (32,)})
    return S.Spec('tiny2', one.input, one.output, [conv1, conv2, flat, _dense('fc', 32, 3, C8, 2)])


def _ii_with_depth(stages, i: int, depth: int, beats: int) -> int:
    """The model's II with stage i (a FIFO) `depth` beats deep, or left out at 0."""
    stages = [replace(s, params={**s.params, 'DEPTH': depth}) if j == i else s for j, s in enumerate(stages)]
    stages = stages[:i] + stages[i + 1 :] if depth == 0 else stages
    return pipeline_timing([(s.instance, s.module, s.params) for s in stages], beats).ii_cycles


@pytest.mark.parametrize(
    'spec, overrides, queues',
    [
        (conv_spec, {'conv': 1}, []),
        (two_conv_spec, {'conv': 2, 'conv2': 2}, ['conv2_pixel_fifo']),
        (two_conv_spec, {}, ['conv2_window_fifo']),
    ],
    ids=['none-needed', 'pixels-queue', 'windows-queue'],
)
def test_fifos_are_as_shallow_as_the_ii_allows(tmp_path, spec, overrides, queues):
    """size_fifos: every FIFO a conv asks for has the fewest beats that keep the II of the folding: one beat
    fewer (or none at all) and the model's II is longer, four times as many and it is the same. Pixels queue
    where a folded MAC feeds the window generator, windows where the scan's rows without a window outlast the
    windows the generator's and the MAC's registers hold; a FIFO not needed is left out."""
    desc = generate(spec(), tmp_path, overrides=overrides)
    beats = desc.controller.params['IN_BEATS']
    ii = desc.timing.ii_cycles
    assert ii == max(la.cycles_per_image for la in desc.folding.layers)
    fifos = [i for i, s in enumerate(desc.stages) if s.module == 'axis_fifo']
    assert [desc.stages[i].instance for i in fifos] == queues
    for i in fifos:
        depth = desc.stages[i].params['DEPTH']
        assert _ii_with_depth(desc.stages, i, depth - 1, beats) > ii
        assert _ii_with_depth(desc.stages, i, 4 * depth, beats) == ii


def _keras_same(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """Keras/hls4ml 'same' padding of one axis: (before, after)."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


@pytest.mark.parametrize('kernel', [1, 2, 3, 5])
@pytest.mark.parametrize('stride', [1, 2, 3])
def test_scan_grid_emits_each_window_once(kernel, stride):
    """window_geometry's grid, over every padding the window generator takes and small images: each position
    emits at most one window (its own image's or the previous image's left-over one) and an image's windows
    are all emitted, over its grid and the next image's flush positions; 'same' padding costs no position
    over the input pixels."""
    for size_h, size_w in [(h, w) for h in range(1, 8) for w in range(1, 8)]:
        for pt, pb, pl, pr in np.ndindex(kernel, kernel, kernel, kernel):
            if size_h + pt + pb < kernel or size_w + pl + pr < kernel:
                continue
            p = dict(IN_H=size_h, IN_W=size_w, KH=kernel, KW=kernel, STRIDE_H=stride, STRIDE_W=stride)
            g = window_geometry(dict(p, PAD_T=pt, PAD_B=pb, PAD_L=pl, PAD_R=pr))
            where = f'{p} padding {(pt, pb, pl, pr)}'
            assert not any(own and prev for _, own, prev in g['grid']), where
            assert not any(prev for _, _, prev in g['grid'][g['flush'] :]), where
            emitted = sum(own for _, own, _ in g['grid']) + sum(prev for _, _, prev in g['grid'])
            assert emitted == g['out_h'] * g['out_w'], where
            same = (*_keras_same(size_h, kernel, stride), *_keras_same(size_w, kernel, stride))
            if (pt, pb, pl, pr) == same and min(size_h, size_w) >= kernel:
                assert g['ii'] == size_h * size_w, where


def test_fifo_sizing_checks_its_short_model(monkeypatch, tmp_path):
    """size_fifos tries depths on a model of SIZING_IMAGES images; when the depths it finds do not keep the II
    of the whole model (MODELLED_IMAGES), it sizes again on the whole model."""
    from lenet5_hls.rtl import generator as G

    real = G.pipeline_timing

    def short_model_needs_nothing(stages, beats, images=MODELLED_IMAGES):
        t = real(stages, beats, images)
        return replace(t, ii_cycles=0) if images == G.SIZING_IMAGES else t

    monkeypatch.setattr(G, 'pipeline_timing', short_model_needs_nothing)
    desc = generate(two_conv_spec(), tmp_path, overrides={'conv': 2, 'conv2': 2})
    assert [(s.instance, s.params['DEPTH']) for s in desc.stages if s.module == 'axis_fifo'] == [
        ('conv2_pixel_fifo', 3)
    ]


@pytest.mark.parametrize('pad', [(1, 1, 1, 1), (0, 2, 0, 1)], ids=['same', 'bottom-right'])
def test_padding_costs_no_clocks(tmp_path, pad):
    """Bottom/right zero padding is overlapped with the next row's and the next image's first positions: the
    II is the 36 input beats, as the folding plan counts (scanned position by position, it was more)."""
    desc = generate(conv_spec(pad=pad), tmp_path)
    window = next(s for s in desc.stages if s.module == 'window_gen')
    g = window_geometry(window.params)
    assert (g['rows'], g['cols']) == (6, 6) and g['flush'] > 0
    assert desc.timing.ii_cycles == desc.folding.ii_cycles == 36


def test_zero_padding_layer_costs_no_clocks(tmp_path):
    """A ZeroPadding2D before a 'valid' conv (hls4ml's form of a 'same' one) is built into the conv's window
    generator: the conv takes the 36 unpadded beats, and the folding counts those, not the 64 padded ones."""
    conv_same = conv_spec(pad=(1, 1, 1, 1))
    conv = conv_same.layers[0]
    pad = S.Layer(
        'zp', 'zeropad2d', (6, 6, 1), (8, 8, 1), {'input': U4, 'output': U4}, {'padding': [1, 1, 1, 1]}, 1, 1, 'l1'
    )
    conv = S.Layer(**{**vars(conv), 'input_shape': (8, 8, 1), 'attrs': {**conv.attrs, 'padding': [0, 0, 0, 0]}})
    spec = S.Spec('tiny_zp', conv_same.input, conv_same.output, [pad, conv, *conv_same.layers[1:]])
    desc = generate(spec, tmp_path)
    assert [p.cycles_per_image for p in desc.folding.layers[:2]] == [36, 36]
    assert desc.timing.ii_cycles == desc.folding.ii_cycles == 36


def test_lenet5_latency(lenet5_rtl):
    """Committed LeNet-5: input-bound (II 784), so the first image after reset and the steady state have
    the same latency; 3122 cycles was measured in simulation (flow, tests/test_wheel.py), 3076 before the
    pipelined dense_unit (31 cycles more for its pipeline stages in the five MAC layers), 3107 before
    pool2d's tree register (one cycle more in each of the two pooling layers), 3109 before dense_unit's
    weight word register (one cycle more in each MAC layer) and 3114 before its ROM banks' register (one
    cycle more in fc1 and fc2, whose 768 and 720 steps are two banks), 3116 before its vector registers ran a
    clock behind its issue logic (one cycle more in each MAC layer) and 3121 before every block-RAM ROM's read
    was registered again (one cycle more in logits, whose 420 steps are one bank)."""
    desc, _ = lenet5_rtl
    t = desc.timing
    assert t.ii_cycles == desc.folding.ii_cycles == 784
    assert t.latency_cycles == t.steady_state_latency_cycles == 3122
    assert [s.instance for s in t.stages] == [s.instance for s in desc.stages]


def test_rtl_command_prints_latency(tmp_path, capsys):
    from lenet5_hls.cli import main

    dense_spec().save(tmp_path / 'spec.json')
    assert main(['rtl', '--spec', str(tmp_path / 'spec.json'), '--out', str(tmp_path / 'rtl'), '--fold', 'fc=6']) == 0
    # 8x3 with 6 multipliers: PO 3 x PI 2, STEPS 4; a 1-level adder tree puts the accumulator at stage 7:
    # latency 4 + 7 + 3, steady state 3 more (the input skid waits STEPS - 1 cycles)
    assert (
        'latency 14 cycles first input beat to first output beat (steady state 17, analytical)'
        in capsys.readouterr().out
    )
