"""Whole-network cocotb bench for many images: the accelerator RTL inside the file-driven testbench top
(file_io_bench: stimulus and capture in Verilog, no Python per clock), checked element by element against
the golden model, with the measured II and latency against the generator's analytical figures. The
scoreboard writes the figures for `lenet5-hls sim` to the result file the BenchConfig names.
"""

from __future__ import annotations

from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, First, RisingEdge, SimTimeoutError, with_timeout

from lenet5_hls.rtl.description import RtlDescription
from lenet5_hls.verify.benches.config import BenchConfig
from lenet5_hls.verify.benches.file_io_bench import INPUT_LOG, OUTPUT, read_results
from lenet5_hls.verify.benches.scoreboard import Timing, assert_no_extra_beats, check_cycles, score
from lenet5_hls.verify.benches.streams import CLOCK_NS, level
from lenet5_hls.verify.benches.top_bench import assert_bit_exact, load_case, load_description


def stall_report(dut, desc: RtlDescription) -> str:
    """Which stream holds the data: port counters, then every internal stream that is blocked (valid, not
    ready) — the most downstream one is where the pipeline stopped."""
    lines = [
        f'{desc.input.name}: {int(dut.source.beats_sent.value)} beats accepted; '
        f'{desc.output.name}: {int(dut.sink.beats_received.value)} beats delivered'
    ]
    streams = [(desc.stages[0].in_stream, 'input gate')] if desc.stages else []  # driven by the block control
    streams += [(stage.out_stream, stage.instance) for stage in desc.stages]
    blocked = []
    for stream, driver in streams:
        valid, ready = getattr(dut.dut, f'{stream}_tvalid', None), getattr(dut.dut, f'{stream}_tready', None)
        if valid is not None and ready is not None and level(valid.value) == 1 and level(ready.value) == 0:
            blocked.append(f'{stream} ({driver} output)')
    if blocked:
        lines.append(f'blocked internal streams (valid, not ready): {", ".join(blocked)}; stalled at {blocked[-1]}')
    return '; '.join(lines)


@cocotb.test()
async def images_match_golden_file_io(dut):
    desc = load_description()
    inputs, expected = load_case()
    config = BenchConfig.current()
    run_dir = Path(config.run_dir)
    clk, rst = getattr(dut, desc.clock), getattr(dut, desc.reset.name)
    active = 0 if desc.reset.active_low else 1
    ii = desc.ii_cycles or desc.timeout_cycles  # vendor RTL: a generous bound
    cocotb.start_soon(Clock(clk, CLOCK_NS, unit='ns').start())
    rst.value = active
    await ClockCycles(clk, 4)
    rst.value = 1 - active
    budget = 4 * len(inputs) * ii + 20 * ii + 5000  # 4x covers 30% idle + 40% backpressure
    try:
        await with_timeout(First(RisingEdge(dut.done), RisingEdge(dut.stalled)), budget * CLOCK_NS, 'ns')
    except SimTimeoutError:
        raise AssertionError(f'run not finished within {budget} cycles: {stall_report(dut, desc)}') from None
    if int(dut.stalled.value):
        raise AssertionError(
            f'stalled, no handshake on any port for {cocotb.plusargs.get("stall")} cycles: {stall_report(dut, desc)}'
        )
    await ClockCycles(clk, 2 * ii)
    o_port = desc.output
    extra = int(dut.sink.beats_received.value) - len(inputs) * o_port.beats_per_image
    raw, out_cycles = read_results(run_dir / OUTPUT, o_port)
    got, want = raw.reshape(len(inputs), -1), expected.reshape(len(inputs), -1)
    timing = Timing.measure(
        np.loadtxt(run_dir / INPUT_LOG, dtype=np.int64, ndmin=1), out_cycles, o_port.beats_per_image
    )
    result = score(got, want, timing, extra)
    dut._log.info('RESULT %s', {k: v for k, v in result.items() if k != 'mismatched_images'})
    assert_bit_exact(got, want)
    assert_no_extra_beats(result)
    if config.check_cycles:
        check_cycles(desc, timing)
