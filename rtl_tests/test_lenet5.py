"""Whole-network testbench: the generated LeNet-5 RTL (top `myproject`, Vitis HLS port names) against
the golden model, every output element of every image, plus the measured II and latency.

pytest side: converts the committed model (hls4ml), generates the RTL, computes the golden outputs
for real MNIST test images, and runs the cocotb test below under Icarus and Verilator.
cocotb side: streams the images through <input>_TDATA/_TVALID/_TREADY (cocotbext-axi), reads
<output>_TDATA, and checks bit for bit.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import pytest
from harness import CLOCK_NS, random_pauses, run_cocotb, sim_ns


# ---------------------------------------------------------------------------------------------
# cocotb side
# ---------------------------------------------------------------------------------------------


def _unpack_rows(words: list[int], n: int, width: int, signed: bool) -> np.ndarray:
    mask = (1 << width) - 1
    out = np.array([[(w >> (i * width)) & mask for i in range(n)] for w in words], dtype=np.int64)
    if signed:
        out = np.where(out >> (width - 1) == 1, out - (1 << width), out)
    return out


async def _run_network(dut, backpressure: bool, idle: bool):
    import logging

    import cocotb
    from cocotb.clock import Clock
    from cocotb.triggers import ClockCycles, RisingEdge, SimTimeoutError, with_timeout
    from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

    desc = json.loads(Path(os.environ['LENET5_RTL_JSON']).read_text())
    case = np.load(os.environ['LENET5_CASE'])
    pixels, expected = case['inputs'], case['expected']
    i_port, o_port = desc['inputs'][0], desc['outputs'][0]
    n_images = len(pixels)

    cocotb.start_soon(Clock(dut.ap_clk, CLOCK_NS, unit='ns').start())
    in_bus = AxiStreamBus.from_prefix(dut, i_port['name'])
    out_bus = AxiStreamBus.from_prefix(dut, o_port['name'])
    source = AxiStreamSource(in_bus, dut.ap_clk, dut.ap_rst_n, reset_active_level=False,
                             byte_lanes=i_port['tdata_width'] // 8)
    sink = AxiStreamSink(out_bus, dut.ap_clk, dut.ap_rst_n, reset_active_level=False,
                         byte_lanes=o_port['tdata_width'] // 8)
    for ep in (source, sink):
        ep.log.setLevel(logging.WARNING)
    rng = random.Random(5)
    if idle:
        source.set_pause_generator(random_pauses(rng, 0.3))
    if backpressure:
        sink.set_pause_generator(random_pauses(rng, 0.4))

    dut.ap_start.value = 0
    dut.ap_rst_n.value = 0
    await ClockCycles(dut.ap_clk, 4)
    dut.ap_rst_n.value = 1
    await RisingEdge(dut.ap_clk)
    for name in ('ap_done', 'ap_idle', 'ap_ready', f'{o_port["name"]}_TVALID', f'{i_port["name"]}_TREADY'):
        value = getattr(dut, name).value
        assert value.is_resolvable, f'{name} is {value} (X/Z) after reset'
    assert int(getattr(dut, f'{o_port["name"]}_TDATA').value.is_resolvable), 'output TDATA has X/Z after reset'
    dut.ap_start.value = 1

    in_w, in_beats = i_port['element_width'], i_port['beats_per_image']
    in_per_beat = i_port['elements_per_beat']
    in_mask = (1 << in_w) - 1
    for image in pixels:
        flat = image.reshape(in_beats, in_per_beat)
        beats = [sum((int(v) & in_mask) << (k * in_w) for k, v in enumerate(row)) for row in flat]
        raw = b''.join(b.to_bytes(i_port['tdata_width'] // 8, 'little') for b in beats)
        await source.send(AxiStreamFrame(raw))

    ii = desc['folding']['ii_cycles']
    budget = 20 * ii + 5000  # generous bound per output beat: a stall fails instead of hanging
    words, times = [], []
    for i in range(n_images * o_port['beats_per_image']):
        try:
            frame = await with_timeout(sink.recv(), budget * CLOCK_NS, 'ns')
        except SimTimeoutError:
            raise AssertionError(
                f'{o_port["name"]} stalled: no output beat {i} within {budget} cycles '
                f'({source.count()} input frames still queued, {i_port["name"]}_TREADY='
                f'{getattr(dut, i_port["name"] + "_TREADY").value})'
            ) from None
        words.append(int.from_bytes(bytes(frame.tdata), 'little'))
        times.append(sim_ns(frame.sim_time_start))
    t = o_port['type']
    got = _unpack_rows(words, o_port['elements_per_beat'], t['width'], t['signed']).reshape(expected.shape)
    bad = np.argwhere(got != expected)
    assert bad.size == 0, (
        f'{len(bad)} of {expected.size} output elements differ; first: image {bad[0][0]} element {bad[0][1]}: '
        f'expected {expected[tuple(bad[0])]}, RTL {got[tuple(bad[0])]}'
    )
    await ClockCycles(dut.ap_clk, 2 * ii)
    assert sink.empty(), f'{sink.count()} extra output beats after the last image'
    if not (idle or backpressure) and n_images >= 4:
        gaps = np.diff(np.array(times[o_port['beats_per_image'] - 1 :: o_port['beats_per_image']]) / CLOCK_NS)
        steady = gaps[2:]
        dut._log.info(f'II measured {steady.min():.0f}..{steady.max():.0f} cycles/image, analytical {ii}')
        assert abs(np.median(steady) - ii) <= 0.02 * ii, f'measured II {np.median(steady)} vs analytical {ii}'
        result = Path(os.environ['LENET5_CASE']).with_name('cycles.json')
        result.write_text(json.dumps({'ii_cycles': [float(g) for g in steady]}))


import cocotb  # noqa: E402  (the cocotb decorators are only needed on the simulator side)


@cocotb.test()
async def outputs_known_after_reset(dut):
    """Every output port is 0/1 (no X/Z) right after reset, before any input, and stays so while idle."""
    from cocotb.clock import Clock
    from cocotb.triggers import ClockCycles, ReadOnly

    desc = json.loads(Path(os.environ['LENET5_RTL_JSON']).read_text())
    cocotb.start_soon(Clock(dut.ap_clk, CLOCK_NS, unit='ns').start())
    dut.ap_start.value = 0
    dut.ap_rst_n.value = 0
    for port in desc['inputs']:
        getattr(dut, port['signals']['tvalid']).value = 0
        getattr(dut, port['signals']['tdata']).value = 0
    for port in desc['outputs']:
        getattr(dut, port['signals']['tready']).value = 1
    await ClockCycles(dut.ap_clk, 4)
    dut.ap_rst_n.value = 1
    outputs = ['ap_done', 'ap_idle', 'ap_ready'] + [p['signals']['tready'] for p in desc['inputs']]
    outputs += [p['signals'][s] for p in desc['outputs'] for s in ('tdata', 'tvalid')]
    for cycle in range(20):
        await ClockCycles(dut.ap_clk, 1)
        await ReadOnly()
        for name in outputs:
            value = getattr(dut, name).value
            assert value.is_resolvable, f'{name} = {value} has X/Z {cycle + 1} cycles after reset'
    assert int(dut.ap_idle.value) == 1, 'ap_idle low with ap_start low and nothing in flight'


@cocotb.test()
async def network_matches_golden(dut):
    await _run_network(dut, backpressure=os.environ.get('LENET5_BACKPRESSURE') == '1',
                       idle=os.environ.get('LENET5_BACKPRESSURE') == '1')


# ---------------------------------------------------------------------------------------------
# pytest side
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize('backpressure', [False, True], ids=['continuous', 'backpressure'])
@pytest.mark.parametrize('sim', ['icarus', 'verilator'])
def test_lenet5_rtl_images(lenet5_rtl, sim, backpressure):
    desc, case = lenet5_rtl
    run_cocotb(
        desc['top'],
        'test_lenet5',
        sim,
        f'lenet5-{"bp" if backpressure else "cont"}',
        {},
        [Path(f) for f in desc['files']],
        extra_env={
            'LENET5_RTL_JSON': str(case.parent / 'rtl' / f'{desc["top"]}.json'),
            'LENET5_CASE': str(case),
            'LENET5_BACKPRESSURE': '1' if backpressure else '0',
        },
        test_filter='network_matches_golden',
    )


@pytest.mark.parametrize('sim', ['icarus', 'verilator'])
def test_lenet5_rtl_outputs_known_after_reset(lenet5_rtl, sim):
    desc, case = lenet5_rtl
    run_cocotb(desc['top'], 'test_lenet5', sim, 'lenet5-reset', {}, [Path(f) for f in desc['files']],
               extra_env={'LENET5_RTL_JSON': str(case.parent / 'rtl' / f'{desc["top"]}.json')},
               test_filter='outputs_known_after_reset')
