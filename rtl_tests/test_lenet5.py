"""Whole-network testbench: the generated LeNet-5 RTL (top `myproject`, Vitis HLS port names) against
the golden model, every output element of every image, plus the measured II.

pytest side (rtl_tests/conftest.py): converts the committed model (hls4ml), generates the RTL, computes
the golden outputs for real MNIST test images; the tests below run the cocotb tests under Icarus and
Verilator. cocotb side: TopBench streams images through <input>_TDATA/_TVALID/_TREADY (cocotbext-axi),
reads <output>_TDATA, and compares bit for bit; every wait is bounded and names the stalled stream.
"""

from __future__ import annotations

import os
from pathlib import Path

import cocotb
import numpy as np
import pytest
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, with_timeout
from harness import CLOCK_NS, run_cocotb
from top_bench import TopBench, assert_bit_exact, lanes, load_case, load_description


@cocotb.test()
async def network_matches_golden(dut):
    stress = os.environ.get('LENET5_BACKPRESSURE') == '1'
    bench = TopBench(dut, idle=stress, backpressure=stress)
    pixels, expected = load_case()
    await bench.reset()
    await bench.send(pixels)
    got, times = await bench.receive(len(pixels))
    assert_bit_exact(got, expected.reshape(len(pixels), -1))
    await ClockCycles(bench.clk, 2 * bench.ii)
    assert bench.outputs_empty(), f'{bench.extra_outputs()} extra output beats after the last image'
    per_image = bench.o_port['beats_per_image']
    if not stress and len(pixels) >= 4:
        gaps = np.diff(np.array(times[per_image - 1 :: per_image]) / CLOCK_NS)[2:]  # steady state
        dut._log.info(f'II measured {gaps.min():.0f}..{gaps.max():.0f} cycles/image, analytical {bench.ii}')
        assert abs(np.median(gaps) - bench.ii) <= 0.02 * bench.ii, f'measured II {np.median(gaps)} vs analytical {bench.ii}'


@cocotb.test()
async def reset_mid_image_then_correct(dut):
    """Half an image, reset, then whole images: the partial image leaves no trace in the results."""
    bench = TopBench(dut)
    pixels, expected = load_case()
    await bench.reset()
    half = bench.i_port['beats_per_image'] // 2
    for source, payload, lane in zip(bench.sources, bench.lane_payloads(pixels[0]), lanes(bench.i_port)):
        await source.send(payload[: half * lane['tdata_width'] // 8])
    for source in bench.sources:
        await with_timeout(source.wait(), 4 * bench.ii * CLOCK_NS, 'ns')
    await ClockCycles(bench.clk, 50)  # let the half image travel into the pipeline
    await bench.reset()
    assert bench.outputs_empty(), 'output beats appeared before the first whole image'
    n = min(3, len(pixels) - 1)
    await bench.send(pixels[1 : 1 + n])
    got, _ = await bench.receive(n)
    assert_bit_exact(got, expected[1 : 1 + n].reshape(n, -1), first_image=1)


@cocotb.test()
async def watchdog_names_the_stalled_stream(dut):
    """Output never accepted: the bounded wait fails with the stalled stream's name instead of hanging."""
    bench = TopBench(dut)
    pixels, _ = load_case()
    await bench.reset()
    for sink in bench.sinks:
        sink.pause = True
    await bench.send(pixels[:2])
    budget = 10 * bench.ii  # well past one image's latency
    with pytest.raises(AssertionError, match=rf'stream {bench.o_port["name"]} stalled: no output beat 0 on \S+ within {budget}'):
        await bench.receive(1, budget_cycles=budget)
    await ReadOnly()
    for lane in lanes(bench.o_port):
        assert int(bench.signal(lane['tvalid']).value) == 1, f'the result should be waiting at {lane["tvalid"]}'


@cocotb.test()
async def outputs_known_after_reset(dut):
    """Every output port is 0/1 (no X/Z) right after reset, before any input, and stays so while idle."""
    desc = load_description()
    clk, rst = getattr(dut, desc['clock']), getattr(dut, desc['reset']['name'])
    active = 0 if desc['reset']['active_low'] else 1
    cocotb.start_soon(Clock(clk, CLOCK_NS, unit='ns').start())
    if 'ap_start' in desc['control']:
        dut.ap_start.value = 0
    rst.value = active
    for lane in lanes(desc['inputs'][0]):
        getattr(dut, lane['tvalid']).value = 0
        getattr(dut, lane['tdata']).value = 0
    for lane in lanes(desc['outputs'][0]):
        getattr(dut, lane['tready']).value = 1
    await ClockCycles(clk, 4)
    rst.value = 1 - active
    outputs = [c for c in desc['control'] if c != 'ap_start'] + [ln['tready'] for ln in lanes(desc['inputs'][0])]
    outputs += [ln[s] for ln in lanes(desc['outputs'][0]) for s in ('tdata', 'tvalid')]
    for cycle in range(20):
        await ClockCycles(clk, 1)
        await ReadOnly()
        for name in outputs:
            value = getattr(dut, name).value
            assert value.is_resolvable, f'{name} = {value} has X/Z {cycle + 1} cycles after reset'
    if 'ap_idle' in desc['control']:
        assert int(dut.ap_idle.value) == 1, 'ap_idle low with ap_start low and nothing in flight'


# ---------------------------------------------------------------------------------------------
# pytest side
# ---------------------------------------------------------------------------------------------


def _run(lenet5_rtl, sim: str, case_id: str, test: str, **env):
    desc, case = lenet5_rtl
    run_cocotb(desc['top'], 'test_lenet5', sim, case_id, {}, [Path(f) for f in desc['files']],
               extra_env={'LENET5_RTL_JSON': str(case.parent / 'rtl' / f'{desc["top"]}.json'), 'LENET5_CASE': str(case), **env},
               test_filter=test)


@pytest.mark.parametrize('backpressure', [False, True], ids=['continuous', 'backpressure'])
@pytest.mark.parametrize('sim', ['icarus', 'verilator'])
def test_lenet5_rtl_images(lenet5_rtl, sim, backpressure):
    _run(lenet5_rtl, sim, f'lenet5-{"bp" if backpressure else "cont"}', 'network_matches_golden',
         LENET5_BACKPRESSURE='1' if backpressure else '0')


@pytest.mark.parametrize('sim', ['icarus', 'verilator'])
def test_lenet5_rtl_outputs_known_after_reset(lenet5_rtl, sim):
    _run(lenet5_rtl, sim, 'lenet5-reset', 'outputs_known_after_reset')


def test_lenet5_rtl_reset_mid_image_and_watchdog(lenet5_rtl):
    _run(lenet5_rtl, 'verilator', 'lenet5-robust', 'reset_mid_image_then_correct|watchdog_names_the_stalled_stream')
