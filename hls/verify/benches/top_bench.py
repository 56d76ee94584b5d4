"""Driver of a generated (or vendor) accelerator top for the cocotb testbenches: clock, reset, ap_start,
images in and results out through its AXI-stream ports (cocotbext-axi), every wait bounded.

The top is described by an RTL description (rtl/description.py; ours: `lenet5-hls rtl`; vendor RTL: port
discovery), loaded inside the simulator from the JSON file the pytest side or `lenet5-hls sim` names.
A logical stream travels on one or more physical lanes: the packed layout has one lane (all elements
of a beat side by side in `<name>_TDATA`), Vivado HLS's split layout one lane per element.
"""

from __future__ import annotations

import logging
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, SimTimeoutError, with_timeout
from cocotb.utils import get_sim_time

from lenet5_hls.rtl.description import RtlDescription
from lenet5_hls.verify.benches.config import BenchConfig
from lenet5_hls.verify.benches.streams import CLOCK_NS, pack, random_pauses, resolvable, sim_ns, unpack


def load_description() -> RtlDescription:
    return RtlDescription.load(BenchConfig.current().description)


def load_case() -> tuple[np.ndarray, np.ndarray]:
    """(raw input images, golden raw outputs) written by the pytest side or `lenet5-hls sim`."""
    case = np.load(BenchConfig.current().case)
    return case['inputs'], case['expected']


class TopBench:
    """Clock, reset and the AXI-stream ports of an accelerator top, described by its RTL JSON."""

    def __init__(self, dut, idle: bool = False, backpressure: bool = False, seed: int = 5):
        from cocotbext.axi import AxiStreamBus, AxiStreamSink, AxiStreamSource

        self.dut = dut
        self.desc = load_description()
        self.i_port, self.o_port = self.desc.input, self.desc.output
        self.ii = self.desc.ii_cycles  # analytical; vendor RTL has no folding plan
        # per-output-beat watchdog: vendor descriptions carry timeout_cycles, ours derive it from the II
        self.budget = self.desc.timeout_cycles or 20 * self.ii + 5000
        self.clk = getattr(dut, self.desc.clock)
        self.rst = getattr(dut, self.desc.reset.name)
        self.rst_active = 0 if self.desc.reset.active_low else 1
        cocotb.start_soon(Clock(self.clk, CLOCK_NS, unit='ns').start())

        def bus(lane):  # cocotb_bus matches <prefix>_tdata case-insensitively
            return AxiStreamBus.from_prefix(dut, lane.prefix)

        kw = {'reset_active_level': bool(self.rst_active)}
        self.sources = [
            AxiStreamSource(bus(ln), self.clk, self.rst, byte_lanes=ln.tdata_width // 8, **kw)
            for ln in self.i_port.lanes
        ]
        self.sinks = [
            AxiStreamSink(bus(ln), self.clk, self.rst, byte_lanes=ln.tdata_width // 8, **kw) for ln in self.o_port.lanes
        ]
        rng = random.Random(seed)
        for ep in self.sources + self.sinks:
            ep.log.setLevel(logging.WARNING)
            if idle and ep in self.sources:
                ep.set_pause_generator(random_pauses(rng, 0.3))
            if backpressure and ep in self.sinks:
                ep.set_pause_generator(random_pauses(rng, 0.4))

    def signal(self, name: str):
        return getattr(self.dut, name)

    async def reset(self, cycles: int = 4) -> None:
        if 'ap_start' in self.desc.control:
            self.dut.ap_start.value = 0
        self.rst.value = self.rst_active
        await ClockCycles(self.clk, cycles)
        self.rst.value = 1 - self.rst_active
        await RisingEdge(self.clk)
        if 'ap_start' in self.desc.control:
            self.dut.ap_start.value = 1  # held high: images stream back to back

    def lane_payloads(self, image: np.ndarray) -> list[bytes]:
        """One image's raw input values as the byte payload of each input lane (element i at bits [i*W +: W])."""
        p = self.i_port
        rows = np.asarray(image).reshape(p.beats_per_image, p.elements_per_beat)
        out, first = [], 0
        for lane in p.lanes:
            n, nbytes = lane.elements, lane.tdata_width // 8
            words = (pack(row[first : first + n], p.element_width) for row in rows)
            out.append(b''.join(word.to_bytes(nbytes, 'little') for word in words))
            first += n
        return out

    async def send(self, images) -> None:
        from cocotbext.axi import AxiStreamFrame

        for image in images:
            for source, payload in zip(self.sources, self.lane_payloads(image)):
                await source.send(AxiStreamFrame(payload))

    async def first_input_handshake(self) -> float:
        """Sim time (ns) of the next beat accepted on the first input lane (start it before sending)."""
        lane = self.i_port.lanes[0]
        valid, ready = self.signal(lane.tvalid), self.signal(lane.tready)
        while True:
            await RisingEdge(self.clk)
            if resolvable(valid.value) and resolvable(ready.value) and int(valid.value) and int(ready.value):
                return sim_ns(get_sim_time())

    def queued_inputs(self) -> int:
        return max(source.count() for source in self.sources)

    def stall_report(self) -> str:
        """The handshake signals of every lane, for a watchdog message."""
        parts = [f'{self.queued_inputs()} input frames still queued']
        for lane in self.i_port.lanes + self.o_port.lanes:
            parts.append(
                f'{lane.tvalid}={self.signal(lane.tvalid).value} {lane.tready}={self.signal(lane.tready).value}'
            )
        return ', '.join(parts)

    async def receive(self, n_images: int, budget_cycles: int | None = None) -> tuple[np.ndarray, list[float]]:
        """Raw output elements (n_images, elements per image) and the handshake time (ns) of every beat
        (of the first lane). Each beat must arrive within budget_cycles, else the stalled lane is named."""
        p, t = self.o_port, self.o_port.type
        budget = budget_cycles or self.budget
        n_beats = n_images * p.beats_per_image
        columns, times = [], []
        for lane, sink in zip(p.lanes, self.sinks):
            words = []
            for i in range(n_beats):
                try:
                    frame = await with_timeout(sink.recv(), budget * CLOCK_NS, 'ns')
                except SimTimeoutError:
                    raise AssertionError(
                        f'stream {p.name} stalled: no output beat {i} on {lane.tdata} within {budget} cycles '
                        f'({self.stall_report()})'
                    ) from None
                words.append(int.from_bytes(bytes(frame.tdata), 'little'))
                if not columns:
                    times.append(sim_ns(frame.sim_time_start))
            columns.append(np.array([unpack(word, lane.elements, t.width, t.signed) for word in words], dtype=np.int64))
        return np.concatenate(columns, axis=1).reshape(n_images, -1), times

    def outputs_empty(self) -> bool:
        return all(sink.empty() for sink in self.sinks)

    def extra_outputs(self) -> int:
        return sum(sink.count() for sink in self.sinks)


def assert_bit_exact(got: np.ndarray, expected: np.ndarray, first_image: int = 0) -> None:
    bad = np.argwhere(got != expected)
    assert bad.size == 0, (
        f'{len(bad)} of {expected.size} output elements differ; first: image {first_image + bad[0][0]} element '
        f'{bad[0][1]}: expected {expected[tuple(bad[0])]}, RTL {got[tuple(bad[0])]}'
    )
