"""ap_ctrl_stream: the ap_start/ap_done/ap_idle/ap_ready handshake derived from the stream beats.

Random valid/ready patterns on both streams (with and without idle cycles and backpressure) and
ap_start dropping now and then; every cycle the outputs are compared with a Python reference of the
contract: ap_ready / ap_done pulse two cycles after the last input / output beat of an image (the beats are
counted a clock after they move), ap_idle = !ap_start and no image in flight or starting, inputs gated by
ap_start.
"""

import random

import cocotb
import pytest
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, RisingEdge

from harness import cases, param, rtl_sources, run_cocotb
from lenet5_hls.verify.benches.streams import CLOCK_NS

MODULE = 'ap_ctrl_stream'


class Reference:
    def __init__(self, in_beats: int, out_beats: int):
        self.in_beats, self.out_beats = in_beats, out_beats
        self.in_count = self.out_count = self.flight = 0
        self.ready = self.done = 0
        self.beats = (False, False)  # the input and output beats of the clock before, not yet counted

    def step(self, start, s_valid, s_ready, m_valid, m_ready):
        (in_beat, out_beat), self.beats = self.beats, (s_valid and s_ready and start, m_valid and m_ready)
        in_last = in_beat and self.in_count == self.in_beats - 1
        out_last = out_beat and self.out_count == self.out_beats - 1
        if in_beat and self.in_count == 0:
            self.flight += 1
        if out_last:
            self.flight -= 1
        if in_beat:
            self.in_count = 0 if in_last else self.in_count + 1
        if out_beat:
            self.out_count = 0 if out_last else self.out_count + 1
        self.ready, self.done = int(in_last), int(out_last)


@cocotb.test()
@cocotb.parametrize(idle=[False, True], backpressure=[False, True])
async def handshake_matches_reference(dut, idle, backpressure):
    in_beats, out_beats = param(dut, 'IN_BEATS'), param(dut, 'OUT_BEATS')
    rng = random.Random(in_beats * 31 + out_beats + 2 * idle + backpressure)
    ref = Reference(in_beats, out_beats)
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit='ns').start())
    for sig in (dut.ap_start, dut.s_tvalid, dut.s_tready, dut.m_tvalid, dut.m_tready):
        sig.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    images_in = images_out = 0
    pending_out = 0  # output beats the "pipeline" may still produce (one image's worth per image fed)
    for cycle in range(3000 + 8 * in_beats):  # several whole images even at the slowest handshake rate
        await FallingEdge(dut.clk)
        start = int(rng.random() > 0.05)
        s_valid = int(not idle or rng.random() > 0.3)
        # a real pipeline holds a few images at most (MAX_IN_FLIGHT bounds the counter): stop taking input
        s_ready = int((not backpressure or rng.random() > 0.3) and ref.flight < 8)
        m_valid = int(pending_out > 0 and (not idle or rng.random() > 0.3))
        m_ready = int(not backpressure or rng.random() > 0.4)
        dut.ap_start.value, dut.s_tvalid.value, dut.s_tready.value = start, s_valid, s_ready
        dut.m_tvalid.value, dut.m_tready.value = m_valid, m_ready
        await ReadOnly()
        assert int(dut.gate_tvalid.value) == (s_valid and start), f'cycle {cycle}: gate_tvalid'
        assert int(dut.gate_tready.value) == (s_ready and start), f'cycle {cycle}: gate_tready'
        idle = not start and ref.flight == 0 and not ref.beats[0]
        assert int(dut.ap_idle.value) == int(idle), f'cycle {cycle}: ap_idle'
        ref.step(start, s_valid, s_ready, m_valid, m_ready)
        if s_valid and s_ready and start and ref.in_count == in_beats - 1:  # this beat ends an image
            pending_out += out_beats
            images_in += 1
        if m_valid and m_ready:
            pending_out -= 1
        images_out += ref.done
        await RisingEdge(dut.clk)
        await ReadOnly()
        assert int(dut.ap_ready.value) == ref.ready, (
            f'cycle {cycle}: ap_ready {dut.ap_ready.value}, expected {ref.ready}'
        )
        assert int(dut.ap_done.value) == ref.done, f'cycle {cycle}: ap_done {dut.ap_done.value}, expected {ref.done}'
    assert images_in >= 3 and images_out >= 2, f'only {images_in} images in, {images_out} out: stimulus too weak'


PARAMS = {
    'lenet-784-1': {'IN_BEATS': 784, 'OUT_BEATS': 1},
    'in5-out3': {'IN_BEATS': 5, 'OUT_BEATS': 3},
    'in1-out1': {'IN_BEATS': 1, 'OUT_BEATS': 1},
    'in7-out2': {'IN_BEATS': 7, 'OUT_BEATS': 2},
}


# for time: every case runs under Icarus in the suite, lenet-784-1 and in1-out1 under Verilator in the slow set
VERILATOR = dict(verilator_ids=('in5-out3',), slow_verilator_ids=('lenet-784-1', 'in1-out1'))


@pytest.mark.parametrize('sim, case_id, params', cases(PARAMS, **VERILATOR))
def test_ap_ctrl_stream(sim, case_id, params):
    run_cocotb(MODULE, 'test_ap_ctrl_stream', sim, case_id, params, rtl_sources(MODULE))
