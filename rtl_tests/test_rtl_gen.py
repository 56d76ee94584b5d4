"""The RTL generator on the committed LeNet-5: folding figures, ports and packing, lint, synthesis, and
the rejection of what it cannot build; a generated directory simulates correctly after it was moved."""

import copy
import re
import shutil
import subprocess

import pytest

from harness import assert_lint_clean
from lenet5_hls.rtl.description import RtlDescription
from lenet5_hls.rtl.folding import FoldingError, parse_overrides
from lenet5_hls.rtl.generator import RtlGenerationError, generate


def test_folding_meets_rate_and_multiplier_budget(lenet5_rtl):
    desc, _ = lenet5_rtl
    fold = desc.folding
    assert fold.ii_cycles <= 800, fold.ii_cycles
    assert fold.multipliers <= 1.5 * fold.multiplier_lower_bound, (fold.multipliers, fold.multiplier_lower_bound)
    assert fold.macs_per_image == 2 * (576 * 150 // 2) + 64 * 2400 + 30720 + 10080 + 840
    for layer in fold.layers:  # no layer is the bottleneck, none needs more than the target
        assert layer.cycles_per_image <= fold.ii_cycles, layer
        if layer.multipliers:
            assert layer.cycles_per_vector * layer.multipliers == layer.macs_per_vector, layer
            # not wastefully parallel: the next smaller divisor would miss the target
            smaller = [m for m in range(1, layer.multipliers) if layer.macs_per_vector % m == 0]
            if smaller:
                assert layer.vectors_per_image * layer.macs_per_vector // smaller[-1] > fold.target_ii_cycles, layer


def test_ports_follow_the_vitis_contract(lenet5_rtl, lenet5_spec):
    desc, _ = lenet5_rtl
    text = desc.path(desc.top_file).read_text()
    assert desc.top == lenet5_spec.project_name == 'myproject' and desc.top_file == 'myproject.v'
    i_port, o_port = desc.input, desc.output
    assert i_port.name == lenet5_spec.input.name and i_port.lanes[0].tdata_width == 8
    assert o_port.elements_per_beat == 10 and o_port.lanes[0].tdata_width == 200
    for name in ['ap_clk', 'ap_rst_n', 'ap_start', 'ap_done', 'ap_idle', 'ap_ready'] + [
        n for p in (i_port, o_port) for n in (p.lanes[0].tdata, p.lanes[0].tvalid, p.lanes[0].tready)
    ]:
        assert re.search(rf'\b(input|output)\s+wire\s+(\[\d+:0\]\s+)?{name}\b', text), f'port {name} missing'


@pytest.mark.parametrize(
    'signal, expected',
    [
        # fc1's input, the flatten's 2,048-bit vector: 32; conv2's 1,200-bit windows: 19; the flatten's 128-bit
        # pixels go to a module without ready copies
        ('ready', {'fc1_mac': 2048 // 64, 'conv2_mac': -(-1200 // 64), 'fc1_gather': 1}),
        # pool2's pixels are loaded into the flatten's 2,048-bit vector: 32; conv2's windows go to a MAC without
        # valid copies
        ('valid', {'fc1_gather': 2048 // 64, 'conv2_mac': 1, 'fc1_mac': 1}),
    ],
)
def test_wide_streams_carry_a_handshake_copy_per_chunk(lenet5_rtl, signal, expected):
    """Between two stages that take them, a stream's ready (valid) is one flip-flop copy per 64-bit chunk of the
    register it enables, both ends and the top's wire sized alike; a stream into a module without copies keeps
    one."""
    desc, _ = lenet5_rtl
    text = desc.path(desc.top_file).read_text()
    name = signal.upper()
    copies = {}
    for producer, consumer in zip(desc.stages, desc.stages[1:]):
        n = producer.params.get(f'M_{name}_COPIES', 1)
        assert consumer.params.get(f'S_{name}_COPIES', 1) == n, (producer.instance, consumer.instance)
        stream = f'{producer.out_stream}_t{signal}'
        wire = rf'wire \[{n - 1}:0\] {stream};' if n > 1 else rf'wire {stream};'
        assert re.search(wire, text), wire
        copies[consumer.instance] = n
    assert {k: copies[k] for k in expected} == expected


def test_generated_rtl_lints_clean(lenet5_rtl):
    desc, _ = lenet5_rtl
    assert_lint_clean(desc.top, desc.source_files())


def test_generated_rtl_compiles_with_icarus(lenet5_rtl, tmp_path):
    if shutil.which('iverilog') is None:
        pytest.fail('iverilog not on PATH (Debian package iverilog)')
    desc, _ = lenet5_rtl
    sources = map(str, desc.source_files())
    proc = subprocess.run(
        ['iverilog', '-g2005', '-Wall', '-s', desc.top, '-o', str(tmp_path / 'top.vvp'), *sources],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr


def test_generated_rtl_elaborates_without_latches(lenet5_rtl, tmp_path):
    """Yosys elaboration of the whole LeNet-5 pipeline (hierarchy, proc: where latches are inferred):
    no latch, no multiple or missing drivers, flip-flops present; run in the RTL directory, where the top's
    relative ROM paths ($readmemh, read during elaboration) resolve. Full synthesis of every stage is
    `lenet5-hls report --synth` (minutes; tests/test_resources.py synthesizes small stages)."""
    if shutil.which('yosys') is None:
        pytest.skip('yosys not on PATH: synthesis check skipped (Debian package `yosys`)')
    desc, _ = lenet5_rtl
    log = tmp_path / 'yosys.log'
    script = (
        f'read_verilog -defer {" ".join(desc.files)}; hierarchy -check -top {desc.top}; proc; opt_clean; '
        f'check -assert; select -assert-none t:$dlatch t:$adlatch t:$dlatchsr; '
        f'tee -o {tmp_path / "stat.txt"} stat'
    )
    proc = subprocess.run(
        ['yosys', '-q', '-l', str(log), '-p', script], capture_output=True, text=True, timeout=1500, cwd=desc.base_dir
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr + log.read_text()[-3000:]
    assert 'Latch inferred' not in log.read_text()
    assert re.search(r'\$(s?dffe?|adffe?) ', (tmp_path / 'stat.txt').read_text()), (
        'no flip-flops in the elaborated design'
    )


def _modified(spec, **changes):
    spec = copy.deepcopy(spec)
    for name, fn in changes.items():
        fn(spec.layer(name))
    return spec


def test_rejects_what_it_cannot_build(lenet5_spec, tmp_path):
    from lenet5_hls.core.fixed_point import FixedType

    def wider_flatten(spec):
        t = FixedType(9, 4)
        spec.layer('flatten').types['output'] = t
        spec.layer('fc1').types['input'] = t
        return spec

    with pytest.raises(RtlGenerationError, match=r"layer 'flatten' \(flatten\): a flatten that changes the type"):
        generate(wider_flatten(copy.deepcopy(lenet5_spec)), tmp_path / 'a')
    assert not (tmp_path / 'a').exists(), 'a failed generation must not leave files behind'

    spec = copy.deepcopy(lenet5_spec)
    pool = spec.layer('pool1')
    pool.attrs['padding'] = [2, 0, 0, 0]
    pool.input_shape = (22, 24, 6)
    spec.layer('conv1_relu').output_shape = (22, 24, 6)
    with pytest.raises(RtlGenerationError, match=r"layer 'pool1' \(maxpool2d\): padding \[2, 0, 0, 0\] not smaller"):
        generate(spec, tmp_path / 'b')


def test_folding_overrides(lenet5_spec, tmp_path):
    desc = generate(lenet5_spec, tmp_path / 'ok', overrides=parse_overrides(['conv2=240', 'fc1=48']))
    layers = {la.name: la for la in desc.folding.layers}
    assert layers['conv2'].multipliers == 240 and layers['conv2'].cycles_per_vector == 10
    assert layers['fc1'].multipliers == 48 and layers['fc1'].cycles_per_vector == 640
    with pytest.raises(FoldingError, match=r'layer conv2: 7 multipliers do not divide its 150x16=2400 MACs'):
        generate(lenet5_spec, tmp_path / 'bad', overrides={'conv2': 7})
    with pytest.raises(FoldingError, match='unknown or non-MAC layers: pool1'):
        generate(lenet5_spec, tmp_path / 'bad2', overrides={'pool1': 2})
    with pytest.raises(FoldingError, match='expected LAYER=MULTIPLIERS'):
        parse_overrides(['conv2:4'])


def test_rtl_command(lenet5_spec, tmp_path, capsys):
    from lenet5_hls.cli import main

    lenet5_spec.save(tmp_path / 'spec.json')
    assert (
        main(['rtl', '--spec', str(tmp_path / 'spec.json'), '--out', str(tmp_path / 'rtl'), '--target-ii', '1600']) == 0
    )
    out = capsys.readouterr().out
    assert 'II 1600 cycles/image (target 1600)' in out and 'conv2' in out
    desc = RtlDescription.load(tmp_path / 'rtl' / 'myproject.json')
    assert desc.folding.ii_cycles <= 1600 and (tmp_path / 'rtl' / 'mem' / 'fc1_weights.mem').is_file()
    assert main(['rtl', '--spec', str(tmp_path / 'spec.json'), '--out', str(tmp_path / 'rtl')]) == 2
    assert 'not empty' in capsys.readouterr().err


def test_moved_rtl_directory_simulates(tmp_path):
    """Every path of the description and the top's ROM files are relative to the RTL directory: moved
    elsewhere, it is simulated from there (Icarus, file-driven bench) bit-exact against the golden model."""
    import numpy as np

    from lenet5_hls.golden import GoldenModel
    from lenet5_hls.verify.simulate import simulate
    from test_timing import conv_spec

    spec = conv_spec()
    generate(spec, tmp_path / 'a' / 'rtl')
    moved = tmp_path / 'b' / 'moved'
    moved.parent.mkdir()
    shutil.move(tmp_path / 'a' / 'rtl', moved)
    shutil.rmtree(tmp_path / 'a')
    t = spec.input.type
    raw = np.random.default_rng(3).integers(t.raw_min, t.raw_max + 1, (6, *spec.input.shape))
    result = simulate(
        moved / 'tiny.json',
        raw,
        GoldenModel(spec).run(raw),
        tmp_path / 'sim',
        sim='icarus',
        jobs=1,
        cache_dir=tmp_path / 'cache',
    )
    assert result['images'] == 6 and result['mismatches'] == 0 and result['extra_beats'] == 0
    assert result['latency_cycles'] == RtlDescription.load(moved / 'tiny.json').timing.latency_cycles
