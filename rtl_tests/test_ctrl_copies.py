"""ctrl_copies: every copy is the control word LEVELS clocks later, and RESET_VALUE while in reset, for one
register level and for the two-level tree (first-level copies each driving a group of copies; only the first
level resets, so a copy is RESET_VALUE from a reset's second clock on and for one clock after it)."""

from __future__ import annotations

import random

import cocotb
import pytest
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from harness import cases, param, rtl_sources, run_cocotb

MODULE = 'ctrl_copies'
CYCLES = 300

CASES = {
    'one-level-1x1': dict(CTRL_W=1, COPIES=1, LEVELS=1),
    'one-level-3x5': dict(CTRL_W=3, COPIES=5, RESET_VALUE="3'b101", LEVELS=1),
    # 10 copies: groups of 4, 4 and 2 (the last group part-filled)
    'two-levels-3x10': dict(CTRL_W=3, COPIES=10, RESET_VALUE="3'b010", LEVELS=2),
    'two-levels-2x1': dict(CTRL_W=2, COPIES=1, RESET_VALUE="2'b11", LEVELS=2),
}


@cocotb.test(timeout_time=1, timeout_unit='ms')
async def copies_follow_d(dut):
    width, copies, levels = param(dut, 'CTRL_W'), param(dut, 'COPIES'), param(dut, 'LEVELS')
    reset_value = int(dut.RESET_VALUE.value)
    rng = random.Random(cocotb.RANDOM_SEED)
    dut.rst.value = 1
    dut.d.value = 0
    cocotb.start_soon(Clock(dut.clk, 10, unit='ns').start())
    # the model: at each edge a first-level register takes RESET_VALUE in reset, else d; with two levels a
    # copy takes the first level's value before the edge, in reset too
    first = copy = reset_value  # initial values
    for cycle in range(CYCLES):
        await FallingEdge(dut.clk)
        q = int(dut.q.value)
        for c in range(copies):
            got = (q >> (c * width)) & ((1 << width) - 1)
            assert got == copy, f'cycle {cycle}: copy {c} = {got:#x}, expected {copy:#x}'
        # at the start (and the clock's first edge), three clocks mid-run, one clock later
        rst = cycle < 3 or 150 <= cycle < 153 or cycle == 220
        d = rng.getrandbits(width)
        dut.rst.value = int(rst)
        dut.d.value = d
        taken = reset_value if rst else d
        copy = taken if levels == 1 else first
        first = taken


@pytest.mark.parametrize('sim, case_id, params', cases(CASES, ('two-levels-3x10',)))
def test_ctrl_copies(sim, case_id, params):
    run_cocotb(MODULE, 'test_ctrl_copies', sim, case_id, params, rtl_sources(MODULE))
