"""Whole-network testbench: the generated LeNet-5 RTL (top `myproject`, Vitis HLS port names) against
the golden model, every output element of every image, plus the measured II.

pytest side (rtl_tests/conftest.py): converts the committed model (hls4ml), generates the RTL, computes
the golden outputs for real MNIST test images; the tests below run the cocotb tests under Icarus and
Verilator. cocotb side: TopBench streams images through <input>_TDATA/_TVALID/_TREADY (cocotbext-axi),
reads <output>_TDATA, and compares bit for bit; every wait is bounded and names the stalled stream. On a
mismatch the failure also names the first diverging layer (layer_probe.py replays the first bad image).
"""

from __future__ import annotations

import dataclasses
import os

import cocotb
import numpy as np
import pytest
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, with_timeout

from harness import bench_plusarg, run_cocotb
from lenet5_hls.rtl.description import Stage
from lenet5_hls.verify.benches.layer_probe import first_divergence, layer_streams
from lenet5_hls.verify.benches.network_tb import network_matches_golden
from lenet5_hls.verify.benches.streams import CLOCK_NS, resolvable
from lenet5_hls.verify.benches.top_bench import TopBench, assert_bit_exact, load_case, load_description
from lenet5_hls.verify.sim_runner import PRIMITIVE_MODELS, PRIMITIVE_MODELS_DEFINE, network_build


@cocotb.test()
async def mismatch_names_first_diverging_layer(dut):
    """RTL with one corrupted ROM word (pytest side): the scoreboard fails as LENET5_EXPECT_FAILURE says."""
    with pytest.raises(AssertionError, match=os.environ['LENET5_EXPECT_FAILURE']) as failure:
        await network_matches_golden.func(dut)
    dut._log.info(f'scoreboard failure: {failure.value}')


@cocotb.test()
async def reset_mid_image_then_correct(dut):
    """Half an image, reset, then whole images: the partial image leaves no trace in the results."""
    bench = TopBench(dut)
    pixels, expected = load_case()
    await bench.reset()
    half = bench.i_port.beats_per_image // 2
    for source, payload, lane in zip(bench.sources, bench.lane_payloads(pixels[0]), bench.i_port.lanes):
        await source.send(payload[: half * lane.tdata_width // 8])
    for source in bench.sources:
        await with_timeout(source.wait(), bench.budget * CLOCK_NS, 'ns')
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
    budget = 10 * bench.ii if bench.ii else bench.budget  # well past one image's latency
    with pytest.raises(
        AssertionError, match=rf'stream {bench.o_port.name} stalled: no output beat 0 on \S+ within {budget}'
    ):
        await bench.receive(1, budget_cycles=budget)
    await ReadOnly()
    for lane in bench.o_port.lanes:
        assert int(bench.signal(lane.tvalid).value) == 1, f'the result should be waiting at {lane.tvalid}'


@cocotb.test()
async def outputs_known_after_reset(dut):
    """Every output port is 0/1 (no X/Z) right after reset, before any input, and stays so while idle."""
    desc = load_description()
    clk, rst = getattr(dut, desc.clock), getattr(dut, desc.reset.name)
    active = 0 if desc.reset.active_low else 1
    cocotb.start_soon(Clock(clk, CLOCK_NS, unit='ns').start())
    if 'ap_start' in desc.control:
        dut.ap_start.value = 0
    rst.value = active
    for lane in desc.input.lanes:
        getattr(dut, lane.tvalid).value = 0
        getattr(dut, lane.tdata).value = 0
    for lane in desc.output.lanes:
        getattr(dut, lane.tready).value = 1
    await ClockCycles(clk, 4)
    rst.value = 1 - active
    outputs = [c for c in desc.control if c != 'ap_start'] + [ln.tready for ln in desc.input.lanes]
    outputs += [name for ln in desc.output.lanes for name in (ln.tdata, ln.tvalid)]
    for cycle in range(20):
        await ClockCycles(clk, 1)
        await ReadOnly()
        for name in outputs:
            value = getattr(dut, name).value
            assert resolvable(value), f'{name} = {value} has X/Z {cycle + 1} cycles after reset'
    if 'ap_idle' in desc.control:
        assert int(dut.ap_idle.value) == 1, 'ap_idle low with ap_start low and nothing in flight'


# ---------------------------------------------------------------------------------------------
# pytest side
# ---------------------------------------------------------------------------------------------


# The cocotbext-axi benches cost Python work every clock: they get the first images only (enough for the II and
# the scoreboard; test_lenet5_file_io.py streams all of the fixture's images through the Verilog file bench).
PYTHON_BENCH_IMAGES = {'icarus': 4, 'verilator': 8}


def _first_images(case, n: int):
    """The case file cut to its first n images."""
    cut = case.parent / f'case-{n}.npz'
    with np.load(case) as full:
        np.savez(cut, **{k: v if k.startswith('trace_type/') else v[:n] for k, v in full.items()})
    return cut


def _verilator_build(desc, out_dir, extra_sources=()) -> tuple[list, list[str]]:
    """(sources, arguments) of the unoptimized Verilator build of the design, only its top visible to the bench."""
    return network_build([*desc.source_files(), *extra_sources], [desc.top], out_dir, optimize=False)


def _run(lenet5_rtl, sim: str, case_id: str, test: str, **options):
    desc, case = lenet5_rtl
    case = _first_images(case, PYTHON_BENCH_IMAGES[sim])
    plusarg = bench_plusarg(desc.path(f'{desc.top}.json'), case, f'{sim}-{case_id}', **options)
    sources, build_args = _verilator_build(desc, case.parent) if sim == 'verilator' else (desc.source_files(), None)
    run_cocotb(
        desc.top,
        'test_lenet5',
        sim,
        case_id,
        {},
        sources,
        plusargs=[plusarg],
        test_filter=test,
        prepare=desc.copy_data_files,
        build_args=build_args,
    )


@pytest.mark.parametrize(
    'sim, backpressure',
    [
        # Icarus in the slow set: the Python bench's images cost it about 10 s each, Verilator 1 s (its -O0 build,
        # about 25 s, is shared with the mutant tests below); the default suite still runs the whole network
        # under Icarus in test_lenet5_rtl_outputs_known_after_reset, test_vendor_mode.py and test_wheel.py
        pytest.param('icarus', False, marks=pytest.mark.slow),
        pytest.param('icarus', True, marks=pytest.mark.slow),
        ('verilator', False),
        ('verilator', True),
    ],
    ids=['icarus-continuous', 'icarus-backpressure', 'verilator-continuous', 'verilator-backpressure'],
)
def test_lenet5_rtl_images(lenet5_rtl, sim, backpressure):
    _run(
        lenet5_rtl,
        sim,
        f'lenet5-{"bp" if backpressure else "cont"}',
        'network_matches_golden',
        stress=backpressure,
        check_cycles=not backpressure,
    )


@pytest.mark.parametrize('sim', ['icarus', pytest.param('verilator', marks=pytest.mark.slow)])
def test_lenet5_rtl_outputs_known_after_reset(lenet5_rtl, sim):
    _run(lenet5_rtl, sim, 'lenet5-reset', 'outputs_known_after_reset')


def test_lenet5_rtl_reset_mid_image_and_watchdog(lenet5_rtl):
    _run(lenet5_rtl, 'verilator', 'lenet5-robust', 'reset_mid_image_then_correct|watchdog_names_the_stalled_stream')


# The device-folded design runs at a longer II: a few images show it.
ECP5_IMAGES = 5


@pytest.mark.slow  # its own Verilator build (about 100 s); the primitive path is in test_dense_unit's ecp5 cases,
# the fold in tests/test_device.py
def test_lenet5_rtl_ecp5_device(lenet5_spec, lenet5_rtl):
    """`--device ecp5-85k`: the best II whose multipliers fit the part's DSP budget (109 of 156), every multiplier a
    MULT18X18D with its registers, simulated on the primitive's model: every output bit-exact, II and
    latency equal to the cycle model."""
    from lenet5_hls.rtl.generator import generate

    case = _first_images(lenet5_rtl[1], ECP5_IMAGES)
    desc = generate(lenet5_spec, case.parent / 'ecp5', device='ecp5-85k')
    assert (
        desc.folding.multipliers
        <= 109
        < generate(lenet5_spec, case.parent / 'ecp5-ii-1', target_ii=desc.folding.ii_cycles - 1).folding.multipliers
    )
    assert [s.params.get('MULT_TARGET') for s in desc.stages if s.module == 'dense_unit'] == [1] * 5
    plusarg = bench_plusarg(desc.path(f'{desc.top}.json'), case, 'verilator-ecp5', check_cycles=True)
    sources, build_args = _verilator_build(desc, case.parent, PRIMITIVE_MODELS)
    run_cocotb(
        desc.top,
        'test_lenet5',
        'verilator',
        'lenet5-ecp5',
        {},
        sources,
        plusargs=[plusarg],
        test_filter='network_matches_golden',
        prepare=desc.copy_data_files,
        build_args=[*build_args, f'-D{PRIMITIVE_MODELS_DEFINE}'],
    )


@pytest.fixture(scope='module')
def lenet5_mutant(lenet5_spec, lenet5_rtl):
    """A second copy of the RTL for the ROM mutants, with a 2-image case. $readmemh reads the ROM files (copied
    into the run directory) when the simulation starts, so the mutants differ only in mem/ and share one build
    per pytest worker."""
    from lenet5_hls.rtl.generator import generate

    out = lenet5_rtl[1].parent / 'mutant'
    desc = generate(lenet5_spec, out)
    with np.load(lenet5_rtl[1]) as full:
        np.savez(out / 'case.npz', **{k: full[k] if k.startswith('trace_type/') else full[k][:2] for k in full.files})
    return desc, out


@pytest.mark.parametrize(
    'layer, stages', [('conv1', True), ('fc1', True), ('fc1', False)], ids=['conv1', 'fc1', 'fc1-no-stages']
)
def test_lenet5_rtl_mismatch_names_corrupted_layer(lenet5_mutant, layer, stages):
    """Every bit of a layer's first bias word inverted (this changes image 0's results): the scoreboard fails
    naming that layer; with a description without stages (as for vendor RTL), saying it cannot localize."""
    desc, out = lenet5_mutant
    rtl_json = out / f'{desc.top}.json'
    if stages:
        instance, stream = next((i, s) for name, i, s in layer_streams(desc.stages) if name == layer)
        expect = (
            rf'; first: image 0 element .*; first diverging layer: {layer} \({instance}, {stream}\): '
            r'element \d+ expected -?\d+, RTL'
        )
    else:
        rtl_json = dataclasses.replace(desc, stages=[], timing=None).save(out / 'no_stages.json')
        expect = 'first diverging layer: localization unavailable'
    path = out / 'mem' / f'{layer}_biases.mem'
    pristine = path.read_text()
    word, rest = pristine.split('\n', 1)
    path.write_text(f'{int(word, 16) ^ ((1 << 4 * len(word)) - 1):0{len(word)}x}\n{rest}')
    sources, build_args = _verilator_build(desc, out)
    try:
        run_cocotb(
            desc.top,
            'test_lenet5',
            'verilator',
            f'lenet5-mutant-{os.environ.get("PYTEST_XDIST_WORKER", "main")}',
            {},
            sources,
            build_args=build_args,
            test_filter='mismatch_names_first_diverging_layer',
            prepare=desc.copy_data_files,
            plusargs=[bench_plusarg(rtl_json, out / 'case.npz', f'mutant-{layer}-{stages}')],
            extra_env={'LENET5_EXPECT_FAILURE': expect},
        )
    finally:
        path.write_text(pristine)


def test_first_divergence_in_pipeline_order():
    """Layers without a stage (flatten) are skipped; a short stream diverges where it ends; no stages, no streams."""
    chain = [('conv_window', 'window_gen', 'conv'), ('conv_mac', 'dense_unit', 'conv'), ('fc_mac', 'dense_unit', 'fc')]
    stages = [
        Stage(instance, module, layer, {}, in_stream=f's{n}', out_stream=f's{n + 1}', out_width=8)
        for n, (instance, module, layer) in enumerate(chain)
    ]
    streams = layer_streams(stages)
    assert streams == [('conv', 'conv_mac', 's2'), ('fc', 'fc_mac', 's3')]
    trace = {'conv': np.arange(6).reshape(1, 2, 3), 'flatten': np.arange(6), 'fc': np.array([5, 6])}
    assert first_divergence(streams, {'conv': np.arange(6), 'fc': np.array([5, 6])}, trace) is None
    found = first_divergence(streams, {'conv': np.arange(6), 'fc': np.array([5, -7])}, trace)
    assert str(found) == 'first diverging layer: fc (fc_mac, s3): element 1 expected 6, RTL -7'
    assert 'element 4 expected 4, RTL nothing' in str(
        first_divergence(streams, {'conv': np.arange(4), 'fc': []}, trace)
    )
    assert layer_streams([]) == []
