"""Whole-network runs of many images: the generated LeNet-5 RTL inside the file-driven testbench top
(file_io_bench.py: stimulus and capture in Verilog, no Python per clock), checked element by element
against the golden model, with the measured II and latency against the generator's analytical figures.

The benches themselves are in lenet5_hls.verify.benches (file_io_tb); this file holds the test-only ones.
"""

from __future__ import annotations

import os
from pathlib import Path

import cocotb
import numpy as np
import pytest

from harness import N_IMAGES, assert_lint_clean, run_cocotb
from lenet5_hls.rtl.description import RtlDescription
from lenet5_hls.verify.benches.config import BenchConfig
from lenet5_hls.verify.benches.file_io_bench import HDL_FILES, prepare, public_modules, tb_verilog
from lenet5_hls.verify.benches.file_io_tb import images_match_golden_file_io
from lenet5_hls.verify.sim_runner import network_build

# The suite's 20 images: the C++ compile is the cost, so the model is built unoptimized (this file alone, cold
# caches: 119 s of CPU instead of 143 s at -O2); a run of LENET5_RTL_IMAGES=10000 builds it optimized.
OPTIMIZE = N_IMAGES >= 200


@cocotb.test()
async def stall_names_the_blocked_stream(dut):
    """Output never accepted (+out_backpressure=100): the run fails within the stall bound, naming the
    most downstream blocked stream instead of hanging."""
    with pytest.raises(AssertionError, match=os.environ['LENET5_EXPECT_FAILURE']) as failure:
        await images_match_golden_file_io.func(dut)
    dut._log.info(f'watchdog: {failure.value}')


# ---------------------------------------------------------------------------------------------
# pytest side
# ---------------------------------------------------------------------------------------------


def file_io_sources(desc: RtlDescription, out_dir: Path) -> tuple[str, list[Path]]:
    """Write tb_<top>.v beside the RTL; returns (testbench top name, sources)."""
    tb = out_dir / f'tb_{desc.top}.v'
    tb.write_text(tb_verilog(desc))
    return f'tb_{desc.top}', [*HDL_FILES, *desc.source_files(), tb]


def _run(
    lenet5_rtl,
    case_id: str,
    test: str,
    idle: int,
    backpressure: int,
    case: Path | None = None,
    check_cycles: bool = False,
    expect_failure: str | None = None,
):
    desc, base = lenet5_rtl[0], lenet5_rtl[1].parent
    case = case or lenet5_rtl[1]
    top, sources = file_io_sources(desc, base)
    sources, build_args = network_build(sources, public_modules(desc), base, optimize=OPTIMIZE)
    run_dir = base / f'file_io_{case_id}'
    plusargs = prepare(run_dir, desc, np.load(case)['inputs'], idle=idle, backpressure=backpressure, stall_cycles=2000)
    config = BenchConfig(str(desc.path(f'{desc.top}.json')), str(case), str(run_dir), check_cycles=check_cycles)
    plusargs.append(config.write(run_dir / 'bench.json'))
    run_cocotb(
        top,
        'test_lenet5_file_io',
        'verilator',
        f'lenet5-file-io-{case_id}',
        {},
        sources,
        plusargs=plusargs,
        build_args=build_args,
        test_filter=test,
        prepare=desc.copy_data_files,
        extra_env={'LENET5_EXPECT_FAILURE': expect_failure} if expect_failure else None,
    )


@pytest.mark.parametrize('stress', [False, True], ids=['continuous', 'idle-backpressure'])
def test_lenet5_file_io_images(lenet5_rtl, stress):
    _run(
        lenet5_rtl,
        'stress' if stress else 'cont',
        'images_match_golden_file_io',
        idle=30 if stress else 0,
        backpressure=40 if stress else 0,
        check_cycles=not stress,
    )


def test_lenet5_file_io_stall_names_blocked_stream(lenet5_rtl):
    last = lenet5_rtl[0].stages[-1]
    expect = (
        rf'stalled, no handshake on any port for 2000 cycles: input_image: \d+ beats accepted; layer20_out: 0 beats '
        rf'delivered; blocked internal streams .*stalled at {last.out_stream} \({last.instance} output\)'
    )
    _run(lenet5_rtl, 'stall', 'stall_names_the_blocked_stream', idle=0, backpressure=100, expect_failure=expect)


def synthetic_images(t, n_random: int = 24) -> np.ndarray:
    """Raw inputs at the input type's extremes: all zero, all max, all min, a checkerboard of both, sparse
    bright pixels on black, uniformly random codes."""
    rng = np.random.default_rng(11)
    shape = (28, 28, 1)
    checker = np.indices(shape).sum(0) % 2
    return np.concatenate(
        [
            np.full((1, *shape), 0),
            np.full((1, *shape), t.raw_max),
            np.full((1, *shape), t.raw_min),
            np.where(checker, t.raw_max, t.raw_min)[None],
            np.where(rng.random((6, *shape)) < 0.15, t.raw_max, 0),
            rng.integers(t.raw_min, t.raw_max + 1, (n_random, *shape)),
        ]
    ).astype(np.int64)


def test_lenet5_file_io_synthetic_images(lenet5_rtl, lenet5_spec):
    """Extreme and random inputs back to back (no gap), bit-exact against the golden model."""
    from lenet5_hls.golden import GoldenModel

    raw = synthetic_images(lenet5_spec.input.type)
    case = lenet5_rtl[1].parent / 'synthetic' / 'case.npz'
    case.parent.mkdir(exist_ok=True)
    np.savez(case, inputs=raw, expected=GoldenModel(lenet5_spec).run(raw))
    _run(lenet5_rtl, 'synthetic', 'images_match_golden_file_io', idle=0, backpressure=0, case=case, check_cycles=True)


def test_file_io_testbench_lints_clean(lenet5_rtl):
    """The generated testbench top with the file source/sink and the design: verilator -Wall clean."""
    desc, case = lenet5_rtl
    assert_lint_clean(*file_io_sources(desc, case.parent))
