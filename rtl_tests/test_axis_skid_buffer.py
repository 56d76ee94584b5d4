"""axis_skid_buffer: every beat delivered once, in order, under random idle cycles and backpressure; one beat
per clock (latency 1) when the stream is continuous."""

from __future__ import annotations

import cocotb
import pytest

from harness import cases, rtl_sources, run_cocotb, stream_random_beats
from lenet5_hls.verify.benches.streams import assert_cycles

MODULE = 'axis_skid_buffer'
CASES = {
    'w1': dict(DATA_W=1),
    'w8': dict(DATA_W=8),
    'w37': dict(DATA_W=37),
    # three 64-bit chunks, the last partial: each chunk has its own copies of the control flip-flops
    'w150-chunks': dict(DATA_W=150),
}


@cocotb.test()
@cocotb.parametrize(idle=[False, True], backpressure=[False, True])
async def stream(dut, idle, backpressure):
    log, n_beats = await stream_random_beats(dut, idle, backpressure)
    log.assert_buffer(2)  # the timing model's two-beat stage, every clock
    if not idle and not backpressure:
        # analytical: one beat per clock, latency 1 -> first input to last output spans N + 1 cycles
        measured = log.out_cycles[-1] - log.in_cycles[0] + 1
        assert_cycles(measured, n_beats + 1, f'{MODULE} continuous stream of {n_beats} beats')
        gaps = [(a, b) for a, b in zip(log.in_cycles, log.in_cycles[1:]) if b != a + 1]
        assert not gaps, f's_axis stalled under continuous input and a ready sink: gaps {gaps[:5]}'


@pytest.mark.parametrize(
    'sim, case_id, params',
    cases(CASES, slow_verilator_ids=('w1', 'w8', 'w37')),  # for time: every case runs under Icarus in the suite
)
def test_axis_skid_buffer(sim, case_id, params):
    run_cocotb(MODULE, 'test_axis_skid_buffer', sim, case_id, params, rtl_sources(MODULE))
