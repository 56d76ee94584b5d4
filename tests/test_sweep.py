"""`lenet5-hls sweep`: option parsing, the Pareto front against brute force, bit widths reaching the
model, a small sweep end to end (no synthesis: what CI runs) checked against an independent recomputation,
Yosys runs shared between designs, and the missing-tool error."""

import json
from pathlib import Path

import numpy as np
import pytest

from lenet5_hls.cli import main
from lenet5_hls.core import spec as spec_mod
from lenet5_hls.golden import GoldenModel
from lenet5_hls.reports import resources as R
from lenet5_hls.reports.sweep import SweepError, pareto_front, parse_bits, parse_rates
from lenet5_hls.rtl.description import RtlDescription
from lenet5_hls.rtl.folding import plan
from lenet5_hls.rtl.generator import generate
from test_resources import needs_yosys
from test_spec import tiny_spec

BAD_OPTIONS = [
    ('bits-no-colon', parse_bits, '4,8', 'expected WEIGHT:ACTIVATION'),
    ('bits-word', parse_bits, 'four:4', 'expected WEIGHT:ACTIVATION'),
    ('bits-too-narrow', parse_bits, '1:4', 'must be 2..16'),
    ('bits-too-wide', parse_bits, '8:17', 'must be 2..16'),
    ('bits-twice', parse_bits, '4:4,4:4', 'names a pair twice'),
    ('rate-zero', parse_rates, '784,0', 'positive cycle counts'),
    ('rate-word', parse_rates, 'fast', 'positive cycle counts'),
    ('rate-twice', parse_rates, '784,784', 'names a rate twice'),
]


@pytest.mark.parametrize('parse, text, message', [b[1:] for b in BAD_OPTIONS], ids=[b[0] for b in BAD_OPTIONS])
def test_bad_options_are_named(parse, text, message):
    with pytest.raises(SweepError, match=message):
        parse(text)


def test_options_parse():
    assert parse_bits('4:4, 6:8') == [(4, 4), (6, 8)]
    assert parse_rates('784,3136') == [784, 3136]


def _brute_force_front(points, objectives):
    """Pareto set by comparing every ordered pair with explicit loops over the objectives."""
    front = []
    for p in points:
        dominated = False
        for q in points:
            if q is p:
                continue
            no_worse = all((q[k] - p[k]) * sign >= 0 for k, sign in objectives.items())
            better = any((q[k] - p[k]) * sign > 0 for k, sign in objectives.items())
            dominated |= no_worse and better
        front.append(not dominated)
    return front


def test_pareto_front_by_hand_and_against_brute_force():
    obj = {'accuracy': +1, 'lut': -1, 'ii_cycles': -1}
    pts = [
        {'accuracy': 0.99, 'lut': 100, 'ii_cycles': 784},
        {'accuracy': 0.98, 'lut': 100, 'ii_cycles': 784},  # dominated
        {'accuracy': 0.97, 'lut': 50, 'ii_cycles': 784},
        {'accuracy': 0.99, 'lut': 100, 'ii_cycles': 784},  # tie: both stay
        {'accuracy': 0.90, 'lut': 60, 'ii_cycles': 3000},
    ]  # dominated by the third
    assert pareto_front(pts, obj) == [True, False, True, True, False]
    rng = np.random.default_rng(0)
    for _ in range(50):
        pts = [{k: int(v) for k, v in zip(obj, rng.integers(0, 4, 3))} for _ in range(8)]
        assert pareto_front(pts, obj) == _brute_force_front(pts, obj)


@pytest.mark.parametrize('weight_bits, activation_bits', [(4, 6), (8, 3)], ids=['w4a6', 'w8a3'])
def test_bit_widths_reach_the_quantizers(weight_bits, activation_bits):
    from lenet5_hls.model.lenet5 import build_lenet5, quantizer_bits

    bits = quantizer_bits(build_lenet5(weight_bits, activation_bits))
    assert {b for k, b in bits.items() if k.endswith(('.kq', '.bq'))} == {weight_bits}
    assert bits.pop('conv1.iq') == 8  # the raw pixel
    assert {b for k, b in bits.items() if k.endswith('.iq')} == {activation_bits}


SMALL = ['--bits', '3:3,8:8', '--target-ii', '784,3136', '--epochs', '1', '--train-images', '256', '--images', '40']


@pytest.fixture(scope='module')
def small_sweep(tmp_path_factory):
    """Two bit-width pairs x two rates, one epoch on 256 images, no synthesis: what CI runs."""
    out = tmp_path_factory.mktemp('sweep') / 's'
    assert main(['sweep', '--out', str(out), '--no-synth', *SMALL]) == 0
    return out


def test_small_sweep_figures_recomputed(small_sweep, mnist_data):
    r = json.loads((small_sweep / 'sweep.json').read_text())
    assert [p['point'] for p in r['points']] == ['w3a3-ii784', 'w3a3-ii3136', 'w8a8-ii784', 'w8a8-ii3136']
    x = mnist_data.x_test[:40].astype(np.float32)[..., None] / 256
    for p in r['points']:
        spec = spec_mod.load(small_sweep / f'w{p["weight_bits"]}a{p["activation_bits"]}' / 'spec.json')
        golden = GoldenModel(spec)
        predicted = golden.run(golden.quantize_input(x)).reshape(40, -1).argmax(1)
        assert p['accuracy'] == np.mean(predicted == mnist_data.y_test[:40])
        folding = plan(spec, p['target_ii'])
        assert (p['multipliers'], p['ii_cycles']) == (folding.multipliers, folding.ii_cycles)
        desc = RtlDescription.load(Path(p['rtl']) / 'myproject.json')
        assert p['latency_cycles'] == desc.timing.latency_cycles
        assert max(la.types['output'].width for la in spec.layers if la.kind == 'relu') <= p['activation_bits']
    assert all(m['keras_vs_golden_mismatches'] == 0 and m['elements'] == 400 for m in r['models'].values())
    assert [p['pareto'] for p in r['points']] == _brute_force_front(r['points'], r['objectives'])
    assert r['objectives'] == {'accuracy': 1, 'multipliers': -1, 'ii_cycles': -1} and r['synthesis'] is None


def test_small_sweep_files(small_sweep):
    assert {'sweep.md', 'sweep.json', 'sweep.png', 'w3a3', 'w8a8'} <= {p.name for p in small_sweep.iterdir()}
    assert (small_sweep / 'sweep.png').read_bytes()[:4] == b'\x89PNG'
    md = (small_sweep / 'sweep.md').read_text()
    assert '![trade-off](sweep.png)' in md and '| w8a8-ii3136 | 8 | 8 | 3,136 |' in md and 'Synthesis skipped' in md
    assert md.count('**yes**') == sum(
        p['pareto'] for p in json.loads((small_sweep / 'sweep.json').read_text())['points']
    )


SWEEP_ERRORS = [
    ('bad-bits', ['--bits', '4-4'], 'expected WEIGHT:ACTIVATION'),
    ('bad-rate', ['--target-ii', '0'], 'positive cycle counts'),
    ('train-images', ['--no-synth', '--train-images', '0'], '--train-images must be 1..'),
    ('images', ['--no-synth', '--images', '0'], '--images must be 1..'),
]


@pytest.mark.parametrize('args, message', [e[1:] for e in SWEEP_ERRORS], ids=[e[0] for e in SWEEP_ERRORS])
def test_sweep_errors(tmp_path, capsys, args, message):
    out = tmp_path / 'out'
    assert main(['sweep', '--out', str(out), *args]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_sweep_without_yosys_names_the_package_before_training(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('PATH', str(tmp_path))
    out = tmp_path / 'out'
    assert main(['sweep', '--out', str(out), *SMALL]) == 2
    assert 'Debian package `yosys`' in capsys.readouterr().err
    assert not out.exists()


@needs_yosys
@pytest.mark.slow  # about 60 s; the sweep itself is in test_small_sweep_figures_recomputed
def test_designs_share_identical_yosys_runs(tmp_path, monkeypatch):
    """Two foldings of one spec: stages that do not change are synthesized once and counted in both; a
    later report of one of them takes every run from the (local workers') cache, with the same counts."""
    monkeypatch.setenv('LENET5_CACHE', str(tmp_path / 'cache'))
    runs = []
    synth_run = R.synth_run
    monkeypatch.setattr(R, 'synth_run', lambda *args: runs.append(args[1:3]) or synth_run(*args))
    for ii in (36, 72):
        generate(tiny_spec(), tmp_path / f'ii{ii}', target_ii=ii)
    lines = []
    a, b = R.resource_reports([(tmp_path / 'ii36', None), (tmp_path / 'ii72', None)], jobs=2, progress=lines.append)
    descs = [R.load_rtl(tmp_path / d) for d in ('ii36', 'ii72')]
    keys = {
        R.run_key(inst, flow, desc.source_files(top=False))
        for desc in descs
        for inst in desc.instances()
        for flow in R.FLOWS
    }
    assert len(lines) == len(keys) < 2 * 2 * len(descs[0].instances())
    layers = [{la['layer']: la for la in rep['layers']} for rep in (a, b)]
    assert layers[0]['relu']['lut'] == layers[1]['relu']['lut'] > 0
    plans = [{la.name: la for la in plan(tiny_spec(), ii).layers} for ii in (36, 72)]
    mults = [{name: la.multipliers for name, la in p.items()} for p in plans]
    assert mults[0] != mults[1]
    for lay, p in zip(layers, plans):
        for name in ('conv', 'fc'):  # narrow products may be LUTs, not DSP48E1s (see test_resources)
            assert lay[name]['our_multipliers'] == p[name].multipliers
            assert lay[name]['dsp'] <= p[name].multipliers, (name, lay[name]['dsp'])
    assert len(runs) == len(keys) and a['tool']['cached_runs'] == 0
    lines.clear()
    alone = R.resource_report(tmp_path / 'ii72', None, jobs=2, progress=lines.append)
    assert len(runs) == len(keys), 'a cached run was synthesized again'
    assert alone['tool']['cached_runs'] == len(lines) == 2 * len(descs[1].instances())
    assert all(line.endswith('(cached)') for line in lines)
    assert f'{len(lines)} runs from the cache' in R.markdown(alone) and 'from the cache' not in R.markdown(b)
    assert alone['layers'] == b['layers'] and alone['total'] == b['total']
