"""axis_skid_buffer: every beat delivered once, in order, under random idle cycles and backpressure; one beat
per clock (latency 1) when the stream is continuous."""

from __future__ import annotations

import random

import cocotb
import pytest

from harness import HandshakeLog, StreamBench, assert_cycles, cases, param, rtl_sources, run_cocotb

MODULE = 'axis_skid_buffer'
CASES = {
    'w1': dict(DATA_W=1),
    'w8': dict(DATA_W=8),
    'w37': dict(DATA_W=37),
}
N_FRAMES, MAX_FRAME = 4, 100


@cocotb.test()
@cocotb.parametrize(idle=[False, True], backpressure=[False, True])
async def stream(dut, idle, backpressure):
    width = param(dut, 'DATA_W')
    rng = random.Random(cocotb.RANDOM_SEED + 2 * idle + backpressure)
    tb = StreamBench(dut, idle, backpressure, seed=rng.random())
    log = HandshakeLog(dut)
    await tb.reset()
    # several frames back to back, random data covering all bits
    frames = [[rng.getrandbits(width) for _ in range(rng.randint(1, MAX_FRAME))] for _ in range(N_FRAMES)]
    expected = [b for f in frames for b in f]
    for f in frames:
        await tb.send(f)
    got, _ = await tb.recv(len(expected), timeout_cycles=50)
    await tb.expect_quiet(20)
    log.check()
    assert got == expected, f'first mismatch at beat {next(i for i, (a, b) in enumerate(zip(got, expected)) if a != b)}'
    assert len(log.in_cycles) == len(expected), f'{len(log.in_cycles)} s_axis handshakes for {len(expected)} beats'
    if not idle and not backpressure:
        # analytical: one beat per clock, latency 1 -> first input to last output spans N + 1 cycles
        measured = log.out_cycles[-1] - log.in_cycles[0] + 1
        assert_cycles(measured, len(expected) + 1, f'{MODULE} continuous stream of {len(expected)} beats')
        gaps = [(a, b) for a, b in zip(log.in_cycles, log.in_cycles[1:]) if b != a + 1]
        assert not gaps, f's_axis stalled under continuous input and a ready sink: gaps {gaps[:5]}'


@pytest.mark.parametrize('sim, case_id, params', cases(CASES))
def test_axis_skid_buffer(sim, case_id, params):
    run_cocotb(MODULE, 'test_axis_skid_buffer', sim, case_id, params, rtl_sources(MODULE))
