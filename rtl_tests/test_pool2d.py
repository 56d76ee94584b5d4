"""pool2d: max and average pooling of several back-to-back random images, bit for bit against
lenet5_hls.golden.maxpool2d / avgpool2d (window cast to accum_t, nnet::reduce balanced tree with a cast
at every node, sum / N truncated toward zero, cast to the output type).

Narrow saturating / wrapping accumulators make partial sums overflow, so the tree shape and the cast points
matter (a different association order or a missing cast gives different bits). Cycle count under continuous
input and a ready consumer is checked against window_gen's analytical model plus pool2d's 3-clock latency.
"""

from __future__ import annotations

import random

import cocotb
import numpy as np
import pytest

import test_window_gen as wg
from harness import HandshakeLog, StreamBench, assert_image_cycles, cases, param, rtl_sources, run_cocotb
from lenet5_hls.verify.benches.streams import pack, unpack

MODULE = 'pool2d'
N_IMAGES = 3


def read_types(dut) -> dict:
    from lenet5_hls.core.fixed_point import OVERFLOW_MODES, ROUNDING_MODES, FixedType

    def t(prefix, modes=True):
        w, frac, signed = param(dut, f'{prefix}_W'), param(dut, f'{prefix}_FRAC'), bool(param(dut, f'{prefix}_SIGNED'))
        if not modes:
            return FixedType(w, w - frac, signed)
        return FixedType(
            w,
            w - frac,
            signed,
            ROUNDING_MODES[param(dut, f'{prefix}_ROUNDING')],
            OVERFLOW_MODES[param(dut, f'{prefix}_OVERFLOW')],
        )

    return {'input': t('DIN', modes=False), 'accum': t('ACC'), 'output': t('DOUT')}


def golden_pool(images: np.ndarray, p: dict, types: dict) -> np.ndarray:
    from lenet5_hls.core.kind import KINDS
    from lenet5_hls.core.spec import Layer

    g = wg.geometry(dict(p, KH=p['POOL_H'], KW=p['POOL_W']))
    kind = 'avgpool2d' if p['POOL_OP'] else 'maxpool2d'
    layer = Layer(
        name='pool',
        kind=kind,
        input_shape=(p['IN_H'], p['IN_W'], p['C']),
        output_shape=(g['out_h'], g['out_w'], p['C']),
        types=types,
        attrs={
            'pool': [p['POOL_H'], p['POOL_W']],
            'stride': [p['STRIDE_H'], p['STRIDE_W']],
            'padding': [p['PAD_T'], p['PAD_B'], p['PAD_L'], p['PAD_R']],
        },
    )
    return KINDS[kind].golden(images, layer)


@cocotb.test()
@cocotb.parametrize(idle=[False, True], backpressure=[False, True])
async def pool(dut, idle, backpressure):
    names = (
        'IN_H',
        'IN_W',
        'C',
        'POOL_H',
        'POOL_W',
        'STRIDE_H',
        'STRIDE_W',
        'PAD_T',
        'PAD_B',
        'PAD_L',
        'PAD_R',
        'POOL_OP',
    )
    p = {n: param(dut, n) for n in names}
    types = read_types(dut)
    g = wg.geometry(dict(p, KH=p['POOL_H'], KW=p['POOL_W']))
    seed = cocotb.RANDOM_SEED + 2 * idle + backpressure
    rng = np.random.default_rng(seed)
    t_in = types['input']
    images = rng.integers(
        t_in.raw_min, t_in.raw_max, size=(N_IMAGES, p['IN_H'], p['IN_W'], p['C']), endpoint=True, dtype=np.int64
    )
    # a region of extreme values, so saturation / wrap of partial sums and of the output cast happen
    images[0, :3, :3, :] = t_in.raw_max
    images[1, :3, :3, :] = t_in.raw_min
    exp = golden_pool(images, p, types)

    tb = StreamBench(dut, idle, backpressure, seed=random.Random(seed).random())
    log = HandshakeLog(dut)
    await tb.reset()
    for img in images:
        await tb.send([pack(img[y, x], t_in.width) for y in range(p['IN_H']) for x in range(p['IN_W'])])
    n_out = N_IMAGES * g['out_h'] * g['out_w']
    timeout = 20 * g['cols'] * (p['POOL_H'] + p['STRIDE_H']) + 200
    got, _ = await tb.recv(n_out, timeout_cycles=timeout)
    await tb.expect_quiet(2 * g['ii'] + 20)
    log.check()

    t_out = types['output']
    got_el = np.array([unpack(b, p['C'], t_out.width, t_out.signed) for b in got], dtype=np.int64).reshape(exp.shape)
    if not np.array_equal(got_el, exp):
        n, oy, ox, ch = np.argwhere(got_el != exp)[0]
        raise AssertionError(
            f'image {n}, output ({oy}, {ox}), channel {ch}: got {got_el[n, oy, ox, ch]}, expected '
            f'{exp[n, oy, ox, ch]}; {int(np.sum(got_el != exp))} of {exp.size} elements differ'
        )
    n_pix = p['IN_H'] * p['IN_W']
    assert len(log.in_cycles) == N_IMAGES * n_pix, (
        f'{len(log.in_cycles)} s_axis handshakes for {N_IMAGES * n_pix} pixels'
    )

    if not backpressure:  # the input's pauses replayed: at an image's start they make the window generator flush
        log.assert_model([('pool2d', p)], n_pix, N_IMAGES, paused=idle)
    if not idle and not backpressure:
        assert_image_cycles(dut, log, f'pool2d {p}', N_IMAGES, n_pix, g['ii'], g['last_pos'], latency=3)


def _types(din, acc, dout) -> dict:
    """FixedTypes -> pool2d parameters (DIN_*, ACC_*, DOUT_*)."""
    from lenet5_hls.core.fixed_point import FixedType
    from lenet5_hls.rtl.params import type_params

    return {
        **type_params('DIN', FixedType.parse(din)),
        **type_params('ACC', FixedType.parse(acc), modes=True),
        **type_params('DOUT', FixedType.parse(dout), modes=True),
    }


def _geom(in_h, in_w, c, ph, pw, sh, sw, pad=(0, 0, 0, 0), op=0) -> dict:
    return dict(
        IN_H=in_h,
        IN_W=in_w,
        C=c,
        POOL_H=ph,
        POOL_W=pw,
        STRIDE_H=sh,
        STRIDE_W=sw,
        PAD_T=pad[0],
        PAD_B=pad[1],
        PAD_L=pad[2],
        PAD_R=pad[3],
        POOL_OP=op,
    )


CASES = {
    # LeNet-5 pool1 shape: max 2x2/2 on 24x24x6; output narrower with rounding and saturation
    'lenet-max-24x24x6-p2': {
        **_geom(24, 24, 6, 2, 2, 2, 2, op=0),
        **_types('fixed<16,8>', 'fixed<16,8>', 'fixed<8,5,RND,SAT>'),
    },
    # LeNet-5 pool2 shape as average: unsigned (post-ReLU) input, saturating unsigned accumulator
    'avg-8x8x4-p2-ufixed': {
        **_geom(8, 8, 4, 2, 2, 2, 2, op=1),
        **_types('ufixed<8,4>', 'ufixed<9,5,TRN,SAT>', 'ufixed<6,4,RND_CONV,SAT>'),
    },
    # 3x3 average (N = 9: non-power-of-two tree and reciprocal), narrow saturating accumulator with fewer
    # fractional bits than the input (rounded leaf casts), symmetric-saturating output
    'avg-9x9x2-p3-sat': {
        **_geom(9, 9, 2, 3, 3, 3, 3, op=1),
        **_types('fixed<8,5>', 'fixed<9,7,RND_ZERO,SAT>', 'fixed<6,5,RND_INF,SAT_SYM>'),
    },
    # max with 'same' padding, stride 2 (overlapping 3x3 windows): padded zeros beat negative values
    'max-same-7x7x3-p3s2': {
        **_geom(7, 7, 3, 3, 3, 2, 2, pad=(1, 1, 1, 1), op=0),
        **_types('fixed<8,4>', 'fixed<10,5>', 'fixed<8,4,TRN_ZERO,SAT_ZERO>'),
    },
    # 1x7 average, stride (1, 7) (N = 7 = 4 + 2 + 1: three perfect sub-trees joined by the fold), saturating
    # accumulator, so the association order of the tree shows in the bits; wrapping output
    'avg-6x14x2-p1x7-sat': {
        **_geom(6, 14, 2, 1, 7, 1, 7, op=1),
        **_types('fixed<6,3>', 'fixed<7,4,RND_MIN_INF,SAT>', 'fixed<5,3,TRN,WRAP>'),
    },
    # 2x4 average with overlapping stride (2, 3) (N = 8: a shift, signed: negative sums round toward
    # zero), wrapping accumulator
    'avg-8x12x3-p2x4-wrap': {
        **_geom(8, 12, 3, 2, 4, 2, 3, op=1),
        **_types('fixed<8,4>', 'fixed<9,5,TRN,WRAP>', 'fixed<6,3,RND,SAT>'),
    },
}


# for time: every case runs under Icarus in the suite, two of the three under Verilator in the slow set
VERILATOR = dict(verilator_ids=('avg-9x9x2-p3-sat',), slow_verilator_ids=('avg-8x8x4-p2-ufixed', 'max-same-7x7x3-p3s2'))


@pytest.mark.parametrize('sim, case_id, params', cases(CASES, **VERILATOR))
def test_pool2d(sim, case_id, params):
    run_cocotb(
        MODULE,
        'test_pool2d',
        sim,
        case_id,
        params,
        rtl_sources(MODULE),
    )
