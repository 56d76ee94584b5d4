"""Shared helpers for the cocotb testbenches in rtl_tests/ (both sides: pytest and the simulator).

pytest side: `run_cocotb` (build, cached by content in the machine's simulator build cache, and run one
parameter case through lenet5_hls.verify.sim_runner in rtl_tests/sim_build/<toplevel>/<sim>-<case>/), `cases`
(pytest params over parameter sets x simulators).
cocotb side: clock/reset, AXI-stream source/sink with random idle/backpressure pause generators,
bounded waits that name the stalled stream, packing of elements into beats, reading HDL parameters.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from lenet5_hls.rtl.generator import RTL_DIR as GENERATOR_RTL_DIR
from lenet5_hls.rtl.generator import with_dependencies
from lenet5_hls.verify.benches.streams import CLOCK_NS, assert_cycles, random_pauses, resolvable, sim_ns
from lenet5_hls.verify.sim_runner import SIMULATORS, default_cache_dir

TESTS_DIR = Path(__file__).resolve().parent
ROOT = TESTS_DIR.parent
# LENET5_RTL_DIR: test another copy of the RTL library (e.g. mutation testing of the testbenches)
RTL_DIR = Path(os.environ.get('LENET5_RTL_DIR', GENERATOR_RTL_DIR))
SIM_BUILD = TESTS_DIR / 'sim_build'
# MNIST test images of the whole-network tests (conftest.lenet5_rtl); a benchmark run sets LENET5_RTL_IMAGES=10000
N_IMAGES = int(os.environ.get('LENET5_RTL_IMAGES', '20'))


def rtl_sources(*modules: str) -> list[Path]:
    """The library files of the modules and of every module they instantiate."""
    return [RTL_DIR / f'{m}.v' for m in with_dependencies(modules)]


def cases(
    param_sets: dict[str, dict], verilator_ids: tuple[str, ...] | None = None, slow_verilator_ids: tuple[str, ...] = ()
):
    """pytest.param(sim, case_id, params) for every simulator x parameter set.

    verilator_ids limits the suite's (slow to build) Verilator runs to some parameter sets; None = all.
    slow_verilator_ids: parameter sets run under Verilator in the slow set only (every parameter set still runs
    under Icarus in the suite)."""
    import pytest

    out = []
    for sim in SIMULATORS:
        for case_id, params in param_sets.items():
            slow = sim == 'verilator' and case_id in slow_verilator_ids
            if sim == 'verilator' and verilator_ids is not None and case_id not in verilator_ids and not slow:
                continue
            out.append(
                pytest.param(sim, case_id, params, id=f'{sim}-{case_id}', marks=pytest.mark.slow if slow else ())
            )
    return out


def case_dir(toplevel: str, sim: str, case_id: str) -> Path:
    """Where one case runs: results, logs, files its prepare() writes (its build is in the shared cache)."""
    return SIM_BUILD / toplevel / f'{sim}-{case_id}'


def assert_lint_clean(top: str, files: list) -> None:
    """`verilator --lint-only -Wall` of a design: any warning fails."""
    from lenet5_hls.verify.sim_runner import lint

    status, report = lint(top, files)
    warnings = [line for line in report.splitlines() if line.startswith(('%Warning', '%Error'))]
    assert status == 0 and not warnings, '\n'.join(warnings[:20])


def bench_plusarg(desc_json: Path, case: Path, name: str, **options) -> str:
    """A BenchConfig for the whole-network bench, written beside the case file; returns its plusarg."""
    from lenet5_hls.verify.benches.config import BenchConfig

    return BenchConfig(str(desc_json), str(case), str(case.parent), **options).write(case.parent / f'bench-{name}.json')


def run_cocotb(
    toplevel: str,
    test_module: str,
    sim: str,
    case_id: str,
    parameters: dict,
    sources: list[Path],
    extra_env: dict[str, str] | None = None,
    seed: int = 1,
    prepare=None,
    test_filter: str | None = None,
    build_args: list[str] | None = None,
    plusargs: list[str] | None = None,
) -> Path:
    """Build `toplevel` with `parameters` for `sim` (cached) and run the cocotb tests of `test_module`.

    prepare(case_dir) may write files (ROM images, case data) before the build. Fails the pytest test
    on any failing cocotb test; returns the results XML."""
    import pytest

    from lenet5_hls.verify.sim_runner import SimulationError, run

    bdir = case_dir(toplevel, sim, case_id)
    bdir.mkdir(parents=True, exist_ok=True)
    if prepare is not None:
        prepare(bdir)
    # The machine's content-keyed build cache, as `lenet5-hls sim` uses it: cases with identical sources,
    # parameters and options share a build across workers (its lock makes them take turns) and runs. The key
    # holds the sources' contents, not their paths, and the toolchain: another virtual environment (a fresh
    # checkout's) builds anew, since a Verilator model links cocotb's libraries by absolute path.
    cache = default_cache_dir()
    try:
        result = run(
            toplevel,
            test_module,
            TESTS_DIR,
            sim,
            sources,
            cache,
            run_dir=bdir,
            parameters=parameters,
            extra_env=extra_env,
            seed=seed,
            test_filter=test_filter,
            plusargs=plusargs,
            build_args=build_args,
            cache=True,
        )
    except SimulationError as e:
        pytest.fail(f'{toplevel} [{sim}-{case_id}]: {e}')
    assert result.tests > 0, f'{toplevel} [{sim}-{case_id}]: no cocotb test ran'
    assert result.failed == 0, f'{toplevel} [{sim}-{case_id}]: {result.failed} of {result.tests} cocotb tests failed'
    return result.results_xml


# ---------------------------------------------------------------------------------------------
# cocotb side
# ---------------------------------------------------------------------------------------------


def param(dut, name: str) -> int:
    """An integer HDL parameter of the toplevel (Icarus gives an int, Verilator a 32-bit LogicArray)."""
    value = getattr(dut, name).value
    return value.to_signed() if hasattr(value, 'to_signed') else int(value)


def dut_type(dut, prefix: str, modes: bool = False):
    """The FixedType of the HDL parameters PREFIX_W, PREFIX_FRAC, PREFIX_SIGNED (modes: with the output
    rounding and overflow of ROUNDING and OVERFLOW)."""
    from lenet5_hls.core.fixed_point import OVERFLOW_MODES, ROUNDING_MODES, FixedType

    w = param(dut, f'{prefix}_W')
    kw = {}
    if modes:
        kw = dict(rounding=ROUNDING_MODES[param(dut, 'ROUNDING')], overflow=OVERFLOW_MODES[param(dut, 'OVERFLOW')])
    return FixedType(w, w - param(dut, f'{prefix}_FRAC'), bool(param(dut, f'{prefix}_SIGNED')), **kw)


async def check_elementwise(
    dut, module: str, layer, x, idle: bool, backpressure: bool, seed: int, timing_params=None, timeout_cycles=50
) -> None:
    """Stream raw inputs x (beats, N) through a stage with one output beat per input beat and check every
    output element against the layer kind's golden function (on whole inputs of the layer's input shape, so
    the beats must make whole inputs), the AXI-stream rules and one handshake per beat
    on each side; with neither idle cycles nor backpressure, the handshake cycles of rtl/timing.py (for the
    module's parameters timing_params). timeout_cycles bounds the wait for each output beat."""
    import numpy as np

    from lenet5_hls.core.kind import KINDS
    from lenet5_hls.verify.benches.streams import pack, unpack

    n, t_in, t_out = x.shape[1], layer.types['input'], layer.types['output']
    tb = StreamBench(dut, idle, backpressure, seed=random.Random(seed).random())
    log = HandshakeLog(dut)
    await tb.reset()

    expected = KINDS[layer.kind].golden(x.reshape(-1, *layer.input_shape), layer).reshape(x.shape)
    await tb.send([pack(row, t_in.width) for row in x])
    words, _ = await tb.recv(len(x), timeout_cycles=timeout_cycles)
    await tb.expect_quiet(20)
    log.check()

    got = np.array([unpack(w, n, t_out.width, t_out.signed) for w in words], dtype=np.int64)
    bad = np.argwhere(got != expected)
    assert bad.size == 0, (
        f'{len(bad)} of {expected.size} elements differ from the {layer.kind} golden function; first: '
        + ', '.join(f'beat {b} elem {e}: x={x[b, e]} got {got[b, e]} expected {expected[b, e]}' for b, e in bad[:5])
    )
    assert len(log.in_cycles) == len(x) and len(log.out_cycles) == len(x), (
        f'{len(log.in_cycles)} s_axis / {len(log.out_cycles)} m_axis handshakes for {len(x)} beats'
    )
    if not idle and not backpressure:
        log.assert_model([(module, timing_params or {})], len(x), 1)


class StreamBench:
    """Clock, reset, AXI-stream source on s_axis_* and sink on m_axis_* (no tlast: one beat per frame)."""

    def __init__(self, dut, idle: bool, backpressure: bool, seed: int, max_burst: int = 4):
        """idle / backpressure: random pauses (30% / 40% of the time, bursts of 1..max_burst cycles)."""
        import logging

        import cocotb
        from cocotb.clock import Clock
        from cocotbext.axi import AxiStreamBus, AxiStreamSink, AxiStreamSource

        self.dut = dut
        cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit='ns').start())
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, 's_axis'), dut.clk, dut.rst, byte_lanes=1)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, 'm_axis'), dut.clk, dut.rst, byte_lanes=1)
        for ep in (self.source, self.sink):
            ep.log.setLevel(logging.WARNING)
        rng = random.Random(seed)
        if idle:
            self.source.set_pause_generator(random_pauses(rng, 0.3, max_burst))
        if backpressure:
            self.sink.set_pause_generator(random_pauses(rng, 0.4, max_burst))

    async def reset(self, cycles: int = 3) -> None:
        from cocotb.triggers import RisingEdge

        self.dut.rst.value = 1
        for _ in range(cycles):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)
        tvalid, tdata = self.dut.m_axis_tvalid.value, self.dut.m_axis_tdata.value
        assert resolvable(tvalid) and int(tvalid) == 0, f'm_axis_tvalid is {tvalid} after reset, expected 0'
        assert resolvable(tdata), f'm_axis_tdata has X/Z after reset: {tdata}'

    async def send(self, beats: list[int]) -> None:
        from cocotbext.axi import AxiStreamFrame

        await self.source.send(AxiStreamFrame(list(beats)))

    async def recv(self, n: int, timeout_cycles: int) -> tuple[list[int], list[int]]:
        """n output beats and the sim time (ns) of each handshake; every wait bounded."""
        from cocotb.triggers import SimTimeoutError, with_timeout

        data, times = [], []
        for i in range(n):
            try:
                frame = await with_timeout(self.sink.recv(), timeout_cycles * CLOCK_NS, 'ns')
            except SimTimeoutError:
                pending = self.source.count()
                raise AssertionError(
                    f'm_axis stalled: no output beat {i} of {n} within {timeout_cycles} cycles '
                    f'(s_axis source still holds {pending} queued frame(s); '
                    f's_axis_tready={self.dut.s_axis_tready.value}, '
                    f'm_axis_tvalid={self.dut.m_axis_tvalid.value})'
                ) from None
            assert len(frame.tdata) == 1, f'expected one beat per sink frame, got {len(frame.tdata)}'
            data.append(int(frame.tdata[0]))
            times.append(sim_ns(frame.sim_time_start))
        return data, times

    async def drain_input(self, timeout_cycles: int) -> None:
        """Wait until the source has handed every beat to the DUT (bounded)."""
        from cocotb.triggers import SimTimeoutError, with_timeout

        try:
            await with_timeout(self.source.wait(), timeout_cycles * CLOCK_NS, 'ns')
        except SimTimeoutError:
            raise AssertionError(
                f's_axis stalled: {self.source.count()} frame(s) not accepted within {timeout_cycles} cycles'
            ) from None

    async def expect_quiet(self, cycles: int) -> None:
        """No extra (duplicated) beats appear on m_axis for `cycles` cycles after the last expected one."""
        from cocotb.triggers import ClockCycles

        await ClockCycles(self.dut.clk, cycles)
        assert self.sink.empty(), f'm_axis produced {self.sink.count()} unexpected extra beat(s)'


class HandshakeLog:
    """Per-cycle monitor of one DUT's s_axis and m_axis (start it before reset is released).

    Records the clock cycle of every s_axis and m_axis handshake (for FINN-style cycle checks) and of each
    s_axis beat's first offer (to replay the input's pauses in the cycle model), and checks the
    AXI-stream rules on m_axis every cycle: once m_axis_tvalid is high it stays high, with m_axis_tdata stable,
    until the beat is accepted; no X/Z on s_axis_tready, m_axis_tvalid or m_axis_tdata after reset.
    """

    def __init__(self, dut):
        import cocotb

        self.dut = dut
        self.cycle = 0
        self.in_cycles: list[int] = []
        self.in_offered: list[int] = []  # the cycle each s_axis beat was first offered
        self.out_cycles: list[int] = []
        self.levels: dict[int, tuple[int, int]] = {}  # cycle: (s_axis_tready, m_axis_tvalid)
        self.errors: list[str] = []
        cocotb.start_soon(self._run())

    async def _run(self):
        from cocotb.triggers import ReadOnly, RisingEdge

        dut = self.dut
        prev_valid, prev_ready, prev_data = 0, 0, None
        while True:
            await RisingEdge(dut.clk)
            await ReadOnly()
            rst = dut.rst.value
            if not resolvable(rst) or int(rst):
                prev_valid = 0
                continue
            self.cycle += 1
            s_v, s_r = dut.s_axis_tvalid.value, dut.s_axis_tready.value
            m_v, m_r, m_d = dut.m_axis_tvalid.value, dut.m_axis_tready.value, dut.m_axis_tdata.value
            if not (resolvable(s_r) and resolvable(m_v) and resolvable(m_d)):
                self.errors.append(
                    f'cycle {self.cycle}: X/Z on an output (s_axis_tready={s_r}, m_axis_tvalid={m_v}, '
                    f'm_axis_tdata {"has X/Z" if not resolvable(m_d) else "ok"})'
                )
                prev_valid = 0
                continue
            if not (resolvable(s_v) and resolvable(m_r)):
                prev_valid = 0
                continue
            s_v, s_r, m_v, m_r, m_d = int(s_v), int(s_r), int(m_v), int(m_r), int(m_d)
            self.levels[self.cycle] = (s_r, m_v)
            if s_v and len(self.in_offered) == len(self.in_cycles):
                self.in_offered.append(self.cycle)
            if s_v and s_r:
                self.in_cycles.append(self.cycle)
            if m_v and m_r:
                self.out_cycles.append(self.cycle)
            if prev_valid and not prev_ready:
                if not m_v:
                    self.errors.append(f'cycle {self.cycle}: m_axis_tvalid dropped before the beat was accepted')
                elif m_d != prev_data:
                    self.errors.append(
                        f'cycle {self.cycle}: m_axis_tdata changed while m_axis_tvalid high and not accepted'
                    )
            prev_valid, prev_ready, prev_data = m_v, m_r, m_d

    def assert_model(self, stages: list[tuple[str, dict]], beats_in: int, images: int, paused: bool = False):
        """Every handshake at the cycle rtl/timing.py gives for stages (module, params) and an always-ready
        consumer; the input offered continuously or, paused, at the cycles the bench offered it."""
        from lenet5_hls.rtl.timing import stream_timing

        t0 = self.in_offered[0]
        offered = [c - t0 for c in self.in_offered] if paused else None
        model = stream_timing(stages, beats_in, images, offered)[0]
        assert [c - t0 for c in self.in_cycles] == model['in'], 's_axis handshake cycles differ from rtl/timing.py'
        assert [c - t0 for c in self.out_cycles] == model['out'], 'm_axis handshake cycles differ from rtl/timing.py'

    def check(self):
        assert not self.errors, 'AXI-stream rule violations on m_axis:\n' + '\n'.join(self.errors[:10])

    def assert_buffer(self, depth: int) -> None:
        """Cycle for cycle the timing model's Buffer(DEPTH) (rtl.timing), from the first cycle s_axis_tready is
        high (reset over): s_axis_tready exactly while fewer than DEPTH beats are held, m_axis_tvalid exactly while
        a beat accepted in an earlier cycle is held."""
        ins, outs = set(self.in_cycles), set(self.out_cycles)
        ready_from = min(c for c, (ready, _) in self.levels.items() if ready)
        held = 0
        for cycle in range(ready_from, max(self.levels) + 1):
            ready, valid = self.levels[cycle]
            assert (ready, valid) == (held < depth, held > 0), (
                f'cycle {cycle}: {held} beats held of DEPTH={depth}, but s_axis_tready={ready} and '
                f'm_axis_tvalid={valid} (expected {int(held < depth)} and {int(held > 0)})'
            )
            held += (cycle in ins) - (cycle in outs)


def assert_image_cycles(
    dut, log: HandshakeLog, what: str, n_images: int, beats_per_image: int, ii: int, last_pos: int, latency: int
) -> None:
    """Continuous input, ready consumer: clocks per image and first-input-to-last-output cycles against
    the analytical figures (scan positions per image, last scan position, pipeline latency)."""
    starts = [log.in_cycles[i * beats_per_image] for i in range(n_images)]
    period = (starts[-1] - starts[0]) / (n_images - 1)
    total = log.out_cycles[-1] - log.in_cycles[0] + 1
    estimate = (n_images - 1) * ii + last_pos + latency + 1  # inclusive count
    dut._log.info(
        'CYCLES %s: per image %.1f (analytical %d); %d images first-in..last-out %d (analytical %d)',
        what,
        period,
        ii,
        n_images,
        total,
        estimate,
    )
    assert_cycles(round(period), ii, f'{what} clocks per image')
    assert_cycles(total, estimate, f'{what} {n_images} images, first input to last output')


async def stream_random_beats(dut, idle: bool, backpressure: bool, n_frames: int = 4, max_frame: int = 100):
    """Random DATA_W-bit beats, sent as frames back to back through a pass-through module (FIFO, register
    slice); checks every beat arrives once and in order, no extra beats, the AXI-stream rules. Returns
    (HandshakeLog, number of beats) for the caller's cycle checks."""
    import cocotb

    width = param(dut, 'DATA_W')
    rng = random.Random(cocotb.RANDOM_SEED + 2 * idle + backpressure)
    tb = StreamBench(dut, idle, backpressure, seed=rng.random())
    log = HandshakeLog(dut)
    await tb.reset()
    frames = [[rng.getrandbits(width) for _ in range(rng.randint(1, max_frame))] for _ in range(n_frames)]
    expected = [b for f in frames for b in f]
    for f in frames:
        await tb.send(f)
    got, _ = await tb.recv(len(expected), timeout_cycles=50)
    await tb.expect_quiet(20)
    log.check()
    assert got == expected, f'first mismatch at beat {next(i for i, (a, b) in enumerate(zip(got, expected)) if a != b)}'
    assert len(log.in_cycles) == len(expected), f'{len(log.in_cycles)} s_axis handshakes for {len(expected)} beats'
    return log, len(expected)
