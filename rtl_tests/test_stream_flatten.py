"""stream_flatten: BEATS pixels of C elements -> one vector of BEATS*C elements, checked element by element
against the flatten kind's golden function on random (H, W, C) images streamed back to back, with and without
random idle cycles and backpressure; BEATS clocks per vector under continuous input."""

from __future__ import annotations

import math
import random

import cocotb
import numpy as np
import pytest

from harness import HandshakeLog, StreamBench, cases, param, rtl_sources, run_cocotb
from lenet5_hls.verify.benches.streams import assert_cycles, pack, unpack

MODULE = 'stream_flatten'
N_IMAGES = 4


def image_shape(beats: int, c: int) -> tuple[int, int, int]:
    """An (H, W, C) with H*W = BEATS, as square as possible."""
    h = max(d for d in range(1, math.isqrt(beats) + 1) if beats % d == 0)
    return h, beats // h, c


def golden_flatten(images: np.ndarray, width: int) -> np.ndarray:
    from lenet5_hls.core.fixed_point import FixedType
    from lenet5_hls.core.kind import KINDS
    from lenet5_hls.core.spec import Layer

    t = FixedType(width, width, True)
    n = int(np.prod(images.shape[1:]))
    layer = Layer(
        name='flatten', kind='flatten', input_shape=images.shape[1:], output_shape=(n,), types={'input': t, 'output': t}
    )
    return KINDS['flatten'].golden(images, layer)


@cocotb.test()
@cocotb.parametrize(idle=[False, True], backpressure=[False, True])
async def flatten(dut, idle, backpressure):
    w, c, beats = param(dut, 'ELEM_W'), param(dut, 'C'), param(dut, 'BEATS')
    shape = image_shape(beats, c)
    seed = cocotb.RANDOM_SEED + 2 * idle + backpressure
    rng = np.random.default_rng(seed)
    images = rng.integers(-(1 << (w - 1)), (1 << (w - 1)) - 1, size=(N_IMAGES, *shape), endpoint=True, dtype=np.int64)
    exp = golden_flatten(images, w)

    tb = StreamBench(dut, idle, backpressure, seed=random.Random(seed).random())
    log = HandshakeLog(dut)
    await tb.reset()
    for img in images:
        await tb.send([pack(img[y, x], w) for y in range(shape[0]) for x in range(shape[1])])
    got, _ = await tb.recv(N_IMAGES, timeout_cycles=20 * beats + 100)
    await tb.expect_quiet(2 * beats + 20)
    log.check()
    got_el = np.array([unpack(b, beats * c, w, signed=True) for b in got], dtype=np.int64)
    if not np.array_equal(got_el, exp):
        n, e = np.argwhere(got_el != exp)[0]
        raise AssertionError(
            f'vector {n}, element {e} (pixel {e // c}, channel {e % c}): got {got_el[n, e]}, '
            f'expected {exp[n, e]}; {int(np.sum(got_el != exp))} of {exp.size} elements differ'
        )
    assert len(log.in_cycles) == N_IMAGES * beats
    if not idle and not backpressure:
        total = log.out_cycles[-1] - log.in_cycles[0] + 1
        estimate = N_IMAGES * beats + 1  # one input beat per clock, latency 1
        dut._log.info(
            'CYCLES stream_flatten C=%d BEATS=%d: %d vectors first-in..last-out %d (analytical %d)',
            c,
            beats,
            N_IMAGES,
            total,
            estimate,
        )
        assert_cycles(total, estimate, f'stream_flatten {N_IMAGES} vectors')


CASES = {
    # LeNet-5 pool2 -> dense: 5x5x16 (400 elements, 8 bit: a 3200-bit vector)
    'lenet-5x5x16': dict(ELEM_W=8, C=16, BEATS=25),
    'c3-b12-w5': dict(ELEM_W=5, C=3, BEATS=12),
    'c1-b7-w1': dict(ELEM_W=1, C=1, BEATS=7),
    'c4-b1-w6': dict(ELEM_W=6, C=4, BEATS=1),
}


# for time: every case runs under Icarus in the suite, c1-b7-w1 and c4-b1-w6 under Verilator in the slow set
VERILATOR = dict(verilator_ids=('c3-b12-w5',), slow_verilator_ids=('c1-b7-w1', 'c4-b1-w6'))


@pytest.mark.parametrize('sim, case_id, params', cases(CASES, **VERILATOR))
def test_stream_flatten(sim, case_id, params):
    run_cocotb(MODULE, 'test_stream_flatten', sim, case_id, params, rtl_sources(MODULE))
