"""Whole-network testbench: the generated LeNet-5 RTL (top `myproject`, Vitis HLS port names) against
the golden model, every output element of every image, plus the measured II.

pytest side (rtl_tests/conftest.py): converts the committed model (hls4ml), generates the RTL, computes
the golden outputs for real MNIST test images; the tests below run the cocotb tests under Icarus and
Verilator. cocotb side: TopBench streams images through <input>_TDATA/_TVALID/_TREADY (cocotbext-axi),
reads <output>_TDATA, and compares bit for bit; every wait is bounded and names the stalled stream.
"""

from __future__ import annotations

import json
import logging
import os
import random
from pathlib import Path

import cocotb
import numpy as np
import pytest
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, SimTimeoutError, with_timeout
from harness import CLOCK_NS, random_pauses, run_cocotb, sim_ns


def _unpack_rows(words: list[int], n: int, width: int, signed: bool) -> np.ndarray:
    mask = (1 << width) - 1
    out = np.array([[(w >> (i * width)) & mask for i in range(n)] for w in words], dtype=np.int64)
    if signed:
        out = np.where(out >> (width - 1) == 1, out - (1 << width), out)
    return out


class TopBench:
    """Clock, reset and the AXI-stream ports of a generated top, described by its RTL JSON."""

    def __init__(self, dut, idle: bool = False, backpressure: bool = False):
        from cocotbext.axi import AxiStreamBus, AxiStreamSink, AxiStreamSource

        self.dut = dut
        self.desc = json.loads(Path(os.environ['LENET5_RTL_JSON']).read_text())
        self.i_port, self.o_port = self.desc['inputs'][0], self.desc['outputs'][0]
        self.ii = self.desc['folding']['ii_cycles']
        cocotb.start_soon(Clock(dut.ap_clk, CLOCK_NS, unit='ns').start())
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, self.i_port['name']), dut.ap_clk, dut.ap_rst_n,
                                      reset_active_level=False, byte_lanes=self.i_port['tdata_width'] // 8)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, self.o_port['name']), dut.ap_clk, dut.ap_rst_n,
                                  reset_active_level=False, byte_lanes=self.o_port['tdata_width'] // 8)
        for ep in (self.source, self.sink):
            ep.log.setLevel(logging.WARNING)
        rng = random.Random(5)
        if idle:
            self.source.set_pause_generator(random_pauses(rng, 0.3))
        if backpressure:
            self.sink.set_pause_generator(random_pauses(rng, 0.4))

    async def reset(self, cycles: int = 4) -> None:
        self.dut.ap_start.value = 0
        self.dut.ap_rst_n.value = 0
        await ClockCycles(self.dut.ap_clk, cycles)
        self.dut.ap_rst_n.value = 1
        await RisingEdge(self.dut.ap_clk)
        self.dut.ap_start.value = 1

    def beats(self, image: np.ndarray) -> bytes:
        """One image's raw input values packed into TDATA beats (element i at bits [i*W +: W])."""
        p = self.i_port
        w, mask = p['element_width'], (1 << p['element_width']) - 1
        rows = np.asarray(image).reshape(p['beats_per_image'], p['elements_per_beat'])
        words = [sum((int(v) & mask) << (k * w) for k, v in enumerate(row)) for row in rows]
        return b''.join(word.to_bytes(p['tdata_width'] // 8, 'little') for word in words)

    async def send(self, images) -> None:
        from cocotbext.axi import AxiStreamFrame

        for image in images:
            await self.source.send(AxiStreamFrame(self.beats(image)))

    async def receive(self, n_images: int, budget_cycles: int | None = None) -> tuple[np.ndarray, list[float]]:
        """Raw output elements (n_images, elements per image) and the handshake time (ns) of every beat."""
        p = self.o_port
        budget = budget_cycles or 20 * self.ii + 5000
        words, times = [], []
        for i in range(n_images * p['beats_per_image']):
            try:
                frame = await with_timeout(self.sink.recv(), budget * CLOCK_NS, 'ns')
            except SimTimeoutError:
                raise AssertionError(
                    f'stream {p["name"]} stalled: no output beat {i} within {budget} cycles '
                    f'({self.source.count()} input frames still queued, {p["signals"]["tvalid"]}='
                    f'{getattr(self.dut, p["signals"]["tvalid"]).value}, {p["signals"]["tready"]}='
                    f'{getattr(self.dut, p["signals"]["tready"]).value}, {self.i_port["signals"]["tready"]}='
                    f'{getattr(self.dut, self.i_port["signals"]["tready"]).value})'
                ) from None
            words.append(int.from_bytes(bytes(frame.tdata), 'little'))
            times.append(sim_ns(frame.sim_time_start))
        t = p['type']
        rows = _unpack_rows(words, p['elements_per_beat'], t['width'], t['signed'])
        return rows.reshape(n_images, -1), times


def _case():
    case = np.load(os.environ['LENET5_CASE'])
    return case['inputs'], case['expected']


def assert_bit_exact(got: np.ndarray, expected: np.ndarray, first_image: int = 0) -> None:
    bad = np.argwhere(got != expected)
    assert bad.size == 0, (
        f'{len(bad)} of {expected.size} output elements differ; first: image {first_image + bad[0][0]} element '
        f'{bad[0][1]}: expected {expected[tuple(bad[0])]}, RTL {got[tuple(bad[0])]}'
    )


@cocotb.test()
async def network_matches_golden(dut):
    stress = os.environ.get('LENET5_BACKPRESSURE') == '1'
    bench = TopBench(dut, idle=stress, backpressure=stress)
    pixels, expected = _case()
    await bench.reset()
    await bench.send(pixels)
    got, times = await bench.receive(len(pixels))
    assert_bit_exact(got, expected.reshape(len(pixels), -1))
    await ClockCycles(dut.ap_clk, 2 * bench.ii)
    assert bench.sink.empty(), f'{bench.sink.count()} extra output beats after the last image'
    per_image = bench.o_port['beats_per_image']
    if not stress and len(pixels) >= 4:
        gaps = np.diff(np.array(times[per_image - 1 :: per_image]) / CLOCK_NS)[2:]  # steady state
        dut._log.info(f'II measured {gaps.min():.0f}..{gaps.max():.0f} cycles/image, analytical {bench.ii}')
        assert abs(np.median(gaps) - bench.ii) <= 0.02 * bench.ii, f'measured II {np.median(gaps)} vs analytical {bench.ii}'


@cocotb.test()
async def reset_mid_image_then_correct(dut):
    """Half an image, reset, then whole images: the partial image leaves no trace in the results."""
    bench = TopBench(dut)
    pixels, expected = _case()
    await bench.reset()
    half = bench.i_port['beats_per_image'] // 2
    await bench.source.send(bench.beats(pixels[0])[: half * bench.i_port['tdata_width'] // 8])
    await with_timeout(bench.source.wait(), 4 * bench.ii * CLOCK_NS, 'ns')
    await ClockCycles(dut.ap_clk, 50)  # let the half image travel into the pipeline
    await bench.reset()
    assert bench.sink.empty(), 'output beats appeared before the first whole image'
    n = min(3, len(pixels) - 1)
    await bench.send(pixels[1 : 1 + n])
    got, _ = await bench.receive(n)
    assert_bit_exact(got, expected[1 : 1 + n].reshape(n, -1), first_image=1)


@cocotb.test()
async def watchdog_names_the_stalled_stream(dut):
    """Output never accepted: the bounded wait fails with the stalled stream's name instead of hanging."""
    bench = TopBench(dut)
    pixels, _ = _case()
    await bench.reset()
    bench.sink.pause = True
    await bench.send(pixels[:2])
    budget = 10 * bench.ii  # well past one image's latency
    with pytest.raises(AssertionError, match=rf'stream {bench.o_port["name"]} stalled: no output beat 0 within {budget}'):
        await bench.receive(1, budget_cycles=budget)
    await ReadOnly()
    assert int(getattr(dut, bench.o_port['signals']['tvalid']).value) == 1, 'the result should be waiting at the port'


@cocotb.test()
async def outputs_known_after_reset(dut):
    """Every output port is 0/1 (no X/Z) right after reset, before any input, and stays so while idle."""
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
