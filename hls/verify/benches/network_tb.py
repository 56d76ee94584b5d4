"""Whole-network cocotb bench driven from Python: the accelerator RTL (Vitis HLS port names, packed or
split layout) against the golden model, every output element of every image, plus the measured II and
latency. TopBench streams images through cocotbext-axi; every wait is bounded and names the stalled
stream; on a mismatch the failure names the first diverging layer (layer_probe replays the first bad image).
"""

from __future__ import annotations

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles

from lenet5_hls.verify.benches.config import BenchConfig
from lenet5_hls.verify.benches.layer_probe import assert_bit_exact_localized
from lenet5_hls.verify.benches.scoreboard import Timing, assert_no_extra_beats, check_cycles, score
from lenet5_hls.verify.benches.streams import CLOCK_NS
from lenet5_hls.verify.benches.top_bench import TopBench, load_case


@cocotb.test()
async def network_matches_golden(dut):
    """All case images back to back: bit-exact results, no extra beats; II and latency against the analytical
    figures when the input is continuous and the configuration asks (check_cycles)."""
    config = BenchConfig.current()
    stress = config.stress
    bench = TopBench(dut, idle=stress, backpressure=stress)
    pixels, expected = load_case()
    expected = expected.reshape(len(pixels), -1)
    await bench.reset()
    first_in = cocotb.start_soon(bench.first_input_handshake())
    await bench.send(pixels)
    got, times = await bench.receive(len(pixels))
    await ClockCycles(bench.clk, 2 * (bench.ii or bench.i_port.beats_per_image))
    timing = Timing.measure([first_in.result() / CLOCK_NS], np.array(times) / CLOCK_NS, bench.o_port.beats_per_image)
    result = score(got, expected, timing, bench.extra_outputs())
    dut._log.info('RESULT %s', {k: v for k, v in result.items() if k != 'mismatched_images'})
    await assert_bit_exact_localized(bench, pixels, got, expected)
    assert_no_extra_beats(result)
    if config.check_cycles and not stress:
        check_cycles(bench.desc, timing)
