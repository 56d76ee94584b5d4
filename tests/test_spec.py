"""Pipeline spec: hand-written specs (no TensorFlow), save/load round trip, validation messages."""

import copy
import json

import numpy as np
import pytest

from lenet5_hls.core import spec as S
from lenet5_hls.core.fixed_point import FixedType, cast
from lenet5_hls.golden import GoldenModel, InputError

U4 = FixedType(4, 0, False)
W4 = FixedType(4, 1, True)
B6 = FixedType(6, 2, True)
ACC = FixedType(16, 6, True)
C8 = FixedType(8, 4, True, 'RND', 'SAT')
R6 = FixedType(6, 3, False, 'RND', 'SAT')
D12 = FixedType(12, 6, True)


def tiny_spec(seed=0) -> S.Spec:
    """6x6x1 -> conv 3x3x2 -> relu -> maxpool 2 -> flatten -> dense 3, written by hand."""
    rng = np.random.default_rng(seed)
    cw = rng.integers(W4.raw_min, W4.raw_max + 1, (3, 3, 1, 2))
    cb = rng.integers(B6.raw_min, B6.raw_max + 1, 2)
    dw = rng.integers(W4.raw_min, W4.raw_max + 1, (8, 3))
    db = rng.integers(B6.raw_min, B6.raw_max + 1, 3)
    layers = [
        S.Layer(
            'conv',
            'conv2d',
            (6, 6, 1),
            (4, 4, 2),
            {'input': U4, 'weight': W4, 'bias': B6, 'accum': ACC, 'output': C8},
            {'kernel': [3, 3], 'stride': [1, 1], 'padding': [0, 0, 0, 0]},
            1,
            2,
            'l1',
            {'weight': cw, 'bias': cb},
        ),
        S.Layer('relu', 'relu', (4, 4, 2), (4, 4, 2), {'input': C8, 'output': R6}, {}, 2, 2, 'l2'),
        S.Layer(
            'pool',
            'maxpool2d',
            (4, 4, 2),
            (2, 2, 2),
            {'input': R6, 'accum': R6, 'output': R6},
            {'pool': [2, 2], 'stride': [2, 2], 'padding': [0, 0, 0, 0]},
            2,
            2,
            'l3',
        ),
        S.Layer('flat', 'flatten', (2, 2, 2), (8,), {'input': R6, 'output': R6}, {}, 2, 2, 'l3'),
        S.Layer(
            'fc',
            'dense',
            (8,),
            (3,),
            {'input': R6, 'weight': W4, 'bias': B6, 'accum': ACC, 'output': D12},
            {},
            2,
            3,
            'l4',
            {'weight': dw, 'bias': db},
        ),
    ]
    return S.Spec('tiny', S.Port('x', (6, 6, 1), U4, 1), S.Port('l4', (3,), D12, 3), layers)


def reference(spec: S.Spec, x: np.ndarray) -> np.ndarray:
    """Direct loops in exact real arithmetic (accumulators are wide enough); casts from fixed_point."""
    conv, _, _, _, fc = spec.layers
    xr = x * 2.0**-U4.frac
    w = conv.arrays['weight'] * 2.0**-W4.frac
    out = np.zeros((x.shape[0], 4, 4, 2))
    for i in range(4):
        for j in range(4):
            out[:, i, j, :] = (
                np.einsum('nabc,abcf->nf', xr[:, i : i + 3, j : j + 3, :], w) + conv.arrays['bias'] * 2.0**-B6.frac
            )
    c = cast(np.rint(out * 2.0**ACC.frac).astype(np.int64), ACC.frac, C8)
    r = cast(np.maximum(c, 0), C8.frac, R6)
    p = r.reshape(-1, 2, 2, 2, 2, 2).max(axis=(2, 4))
    flat = p.reshape(len(x), -1) * 2.0**-R6.frac
    acc = flat @ (fc.arrays['weight'] * 2.0**-W4.frac) + fc.arrays['bias'] * 2.0**-B6.frac
    return cast(np.rint(acc * 2.0**ACC.frac).astype(np.int64), ACC.frac, D12)


def test_hand_written_spec_runs_without_tensorflow():
    import subprocess
    import sys

    spec = tiny_spec()
    x = np.random.default_rng(1).integers(0, 16, (200, 6, 6, 1))
    got = GoldenModel(spec).run(x)
    assert np.array_equal(got, reference(spec, x))
    # A fresh interpreter imports spec and golden without pulling in TensorFlow.
    code = 'import sys; import lenet5_hls.core.spec, lenet5_hls.golden; sys.exit("tensorflow" in sys.modules)'
    assert subprocess.run([sys.executable, '-c', code]).returncode == 0


def test_save_load_round_trip(tmp_path):
    spec = tiny_spec()
    spec.save(tmp_path / 'spec.json')
    loaded = S.load(tmp_path / 'spec.json')
    assert loaded.to_json() == spec.to_json()
    for a, b in zip(spec.layers, loaded.layers):
        for k in a.arrays:
            assert np.array_equal(a.arrays[k], b.arrays[k])


def _doc_and_arrays():
    spec = tiny_spec()
    arrays = {f'{la.name}/{k}': v for la in spec.layers for k, v in la.arrays.items()}
    return spec.to_json(), arrays


def _set(doc, path, value):
    target = doc
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value


MALFORMED = [
    ('schema', ['schema'], 'other', 'spec.schema'),
    ('version', ['version'], 99, 'spec.version: this tool reads version 1'),
    ('no-layers', ['layers'], KeyError, "missing field 'layers'"),
    ('kind', ['layers', 1, 'kind'], 'gelu', r"layers\[1\] \(relu\).kind: 'gelu' is not supported"),
    ('accum-missing', ['layers', 0, 'types', 'accum'], KeyError, r"\(conv\).types: missing 'accum'"),
    ('width', ['layers', 0, 'types', 'output', 'width'], 0, r'types.output: fixed-point width'),
    ('rounding', ['layers', 1, 'types', 'output', 'rounding'], 'ROUND', "rounding mode 'ROUND' unknown"),
    (
        'shape',
        ['layers', 2, 'output_shape'],
        [3, 3, 2],
        r'\(pool\).output_shape: \[3, 3, 2\]|\(pool\).output_shape: \(3, 3, 2\)',
    ),
    ('shape-type', ['layers', 0, 'input_shape'], 'big', r'input_shape: expected list'),
    ('beat', ['layers', 4, 'in_elements_per_beat'], 3, r'in_elements_per_beat: 3'),
    ('stride', ['layers', 0, 'attrs', 'stride'], [0, 1], r'attrs.stride: expected 2 integers >= 1'),
]


@pytest.mark.parametrize('path, value, message', [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_spec_names_the_field(path, value, message):
    doc, arrays = _doc_and_arrays()
    doc = copy.deepcopy(doc)
    _set(doc, path, value)
    with pytest.raises(S.SpecError, match=message):
        S.from_json(doc, arrays)


def test_bad_weight_arrays():
    doc, arrays = _doc_and_arrays()
    with pytest.raises(S.SpecError, match="array 'fc/bias' missing from the NPZ"):
        S.from_json(doc, {k: v for k, v in arrays.items() if k != 'fc/bias'})
    arrays['conv/weight'] = arrays['conv/weight'] + 100
    with pytest.raises(S.SpecError, match=r'\(conv\).arrays.weight: values .* outside ap_fixed<4,1'):
        S.from_json(doc, arrays)


def test_load_errors(tmp_path):
    with pytest.raises(S.SpecError, match='not found'):
        S.load(tmp_path / 'missing.json')
    (tmp_path / 'bad.json').write_text('{"schema": ')
    with pytest.raises(S.SpecError, match='not valid JSON'):
        S.load(tmp_path / 'bad.json')
    (tmp_path / 'list.json').write_text(json.dumps([1]))
    with pytest.raises(S.SpecError, match='JSON object'):
        S.load(tmp_path / 'list.json')


def test_golden_rejects_wrong_input():
    model = GoldenModel(tiny_spec())
    with pytest.raises(InputError, match=r'input has shape \(2, 5, 5, 1\), expected \(N, 6, 6, 1\)'):
        model.run(np.zeros((2, 5, 5, 1), np.int64))
    with pytest.raises(InputError, match='outside ap_ufixed<4,0'):
        model.run(np.full((1, 6, 6, 1), 16))
    with pytest.raises(InputError, match='raw integers'):
        model.run(np.zeros((1, 6, 6, 1)))


T_IN = FixedType(8, 4)
TANH_T = FixedType(10, 2, True, 'RND', 'SAT')
SIG_T = FixedType(8, 0, False, 'RND', 'SAT')
SIG_OUT = FixedType(6, 0, False)


def table_spec() -> S.Spec:
    """4 elements -> tanh (table 64) -> sigmoid (table 32, unsigned table and output), written by hand with the
    tables as raw integers (the tanh table as init_tanh_table builds it, the sigmoid one arbitrary)."""
    from lenet5_hls.core.kind import KINDS

    tanh = KINDS['tanh'].table(64, TANH_T)
    sig = np.arange(32) * 8
    layers = [
        S.Layer(
            'th',
            'tanh',
            (4,),
            (4,),
            {'input': T_IN, 'table': TANH_T, 'output': TANH_T},
            {'table_size': 64},
            4,
            4,
            'l1',
            {'table': tanh},
        ),
        S.Layer(
            'sg',
            'sigmoid',
            (4,),
            (4,),
            {'input': TANH_T, 'table': SIG_T, 'output': SIG_OUT},
            {'table_size': 32},
            4,
            4,
            'l2',
            {'table': sig},
        ),
    ]
    return S.Spec('acts', S.Port('x', (4,), T_IN, 4), S.Port('l2', (4,), SIG_OUT, 4), layers)


def _saved_loaded_run(spec: S.Spec, x: np.ndarray, tmp_path) -> np.ndarray:
    """The golden outputs of a hand-written spec after a save/load round trip that keeps it unchanged."""
    spec.save(tmp_path / 'spec.json')
    loaded = S.load(tmp_path / 'spec.json')
    assert loaded.to_json() == spec.to_json()
    return GoldenModel(loaded).run(x)


def test_hand_written_table_activation_spec(tmp_path):
    spec = table_spec()
    x = np.arange(-128, 128).reshape(-1, 4)
    got = _saved_loaded_run(spec, x, tmp_path)
    # tanh: index trunc(x * 64 / 8) + 32 at 4 fractional bits = trunc(x / 2) + 32, clamped
    th = cast(spec.layers[0].arrays['table'][np.clip(np.trunc(x / 2).astype(int) + 32, 0, 63)], TANH_T.frac, TANH_T)
    # sigmoid: index trunc(y * 32 / 16) + 16 at 8 fractional bits = trunc(y / 128) + 16 (the table is raw i*8)
    expected = cast(np.clip(np.trunc(th / 128).astype(int) + 16, 0, 31) * 8, SIG_T.frac, SIG_OUT)
    assert np.array_equal(got, expected)


TABLE_MALFORMED = [
    ('size-missing', ['layers', 0, 'attrs', 'table_size'], KeyError, r"\(th\).attrs: missing 'table_size'"),
    ('size', ['layers', 0, 'attrs', 'table_size'], 0, r'\(th\).attrs.table_size: expected an integer >= 1'),
    ('length', ['layers', 1, 'attrs', 'table_size'], 16, r'\(sg\).arrays.table: shape \(32,\), expected \(16,\)'),
    ('table-type', ['layers', 1, 'types', 'table'], KeyError, r"\(sg\).types: missing 'table'"),
    ('int-index', ['layers', 0, 'types', 'input', 'integer'], 40, r'\(th\).types.input: .* overflow a C int'),
]


@pytest.mark.parametrize('path, value, message', [m[1:] for m in TABLE_MALFORMED], ids=[m[0] for m in TABLE_MALFORMED])
def test_malformed_table_activation_names_the_field(path, value, message):
    spec = table_spec()
    doc = copy.deepcopy(spec.to_json())
    if path[-1] == 'integer':  # the input port and the input type change together
        _set(doc, ['input', 'type', 'integer'], value)
    _set(doc, path, value)
    with pytest.raises(S.SpecError, match=message):
        S.from_json(doc, {f'{la.name}/{k}': v for la in spec.layers for k, v in la.arrays.items()})


def test_table_values_outside_table_type():
    spec = table_spec()
    arrays = {f'{la.name}/{k}': v for la in spec.layers for k, v in la.arrays.items()}
    arrays['sg/table'] = arrays['sg/table'] + 16  # 264 > 255
    with pytest.raises(S.SpecError, match=r'\(sg\).arrays.table: values 16..264 outside ap_ufixed<8,0'):
        S.from_json(spec.to_json(), arrays)


L_IN = FixedType(5, 2)
L_T = FixedType(8, 1, False)
L_OUT = FixedType(6, 3, True, 'RND', 'SAT')


def lut_spec() -> S.Spec:
    """4 elements -> unary_lut (32 entries, one per raw 5-bit input) -> unary_lut (a 64-entry table read at the
    6-bit output's raw bits), written by hand with arbitrary tables."""
    rng = np.random.default_rng(5)
    layers = [
        S.Layer('u1', 'unary_lut', (4,), (4,), {'input': L_IN, 'table': L_T, 'output': L_OUT}, {'table_size': 32}, 4,
                4, 'l1', {'table': rng.integers(0, 256, 32)}),
        S.Layer('u2', 'unary_lut', (4,), (4,), {'input': L_OUT, 'table': L_T, 'output': L_T}, {'table_size': 64}, 4,
                4, 'l2', {'table': rng.integers(0, 256, 64)}),
    ]  # fmt: skip
    return S.Spec('luts', S.Port('x', (4,), L_IN, 4), S.Port('l2', (4,), L_T, 4), layers)


def test_hand_written_unary_lut_spec(tmp_path):
    spec = lut_spec()
    x = np.arange(-16, 16).reshape(-1, 4)
    got = _saved_loaded_run(spec, x, tmp_path)
    t1, t2 = (layer.arrays['table'] for layer in spec.layers)
    # the index is the raw two's complement bits read unsigned: -16..-1 -> 16..31
    y1 = cast(t1[np.where(x < 0, x + 32, x)], L_T.frac, L_OUT)
    expected = cast(t2[np.where(y1 < 0, y1 + 64, y1)], L_T.frac, L_T)
    assert np.array_equal(got, expected)


LUT_MALFORMED = [
    ('length', ['layers', 0, 'attrs', 'table_size'], 64, r'\(u1\).arrays.table: shape \(32,\), expected \(64,\)'),
    ('narrow', ['layers', 1, 'attrs', 'table_size'], 32, r'\(u2\).types.input: .*6 raw bits index 64 .* table has 32'),
]


@pytest.mark.parametrize('path, value, message', [m[1:] for m in LUT_MALFORMED], ids=[m[0] for m in LUT_MALFORMED])
def test_malformed_unary_lut_names_the_field(path, value, message):
    spec = lut_spec()
    doc = copy.deepcopy(spec.to_json())
    _set(doc, path, value)
    arrays = {f'{la.name}/{k}': v for la in spec.layers for k, v in la.arrays.items()}
    if path[1] == 1:  # a table of the new size, so that only the input width is wrong
        arrays['u2/table'] = arrays['u2/table'][:value]
    with pytest.raises(S.SpecError, match=message):
        S.from_json(doc, arrays)


P_IN = FixedType(8, 4)
P_T = FixedType(6, 0, False, 'RND', 'SAT')  # alpha 0.25 = raw 16
P_OUT = FixedType(7, 3, True, 'RND', 'SAT')
P_CAST = FixedType(5, 2, True, 'RND_CONV', 'SAT_SYM')


def piecewise_spec() -> S.Spec:
    """4 elements -> leaky_relu (alpha 0.25) -> thresholded_relu (theta 0.25 at the input type) -> linear (a cast),
    written by hand with the parameters as raw integers."""
    kinds = [
        ('lk', 'leaky_relu', P_IN, P_T, P_OUT, {'alpha': 16}),
        ('th', 'thresholded_relu', P_OUT, P_OUT, P_OUT, {'theta': 4}),
        ('ln', 'linear', P_OUT, None, P_CAST, {}),
    ]
    layers = []
    for i, (name, kind, t_in, t_p, t_out, attrs) in enumerate(kinds):
        types = {'input': t_in, 'output': t_out} | ({'param': t_p} if t_p else {})
        layers.append(S.Layer(name, kind, (4,), (4,), types, attrs, 4, 4, f'l{i + 1}'))
    return S.Spec('relus', S.Port('x', (4,), P_IN, 4), S.Port('l3', (4,), P_CAST, 4), layers)


def test_hand_written_piecewise_linear_spec(tmp_path):
    spec = piecewise_spec()
    x = np.arange(-128, 128).reshape(-1, 4)
    got = _saved_loaded_run(spec, x, tmp_path)
    lk = np.where(x > 0, cast(x, 4, P_OUT), cast(x * 16, 10, P_OUT))  # alpha * x at 4 + 6 fractional bits
    th = np.where(lk > 4, lk, 0)
    assert np.array_equal(got, cast(th, P_OUT.frac, P_CAST))
    assert (lk < 0).any() and ((th == 0) & (lk > 0)).any(), 'both branches of each form are taken'


PIECEWISE_MALFORMED = [
    ('alpha-missing', ['layers', 0, 'attrs', 'alpha'], KeyError, r"\(lk\).attrs: missing 'alpha'"),
    (
        'alpha-float',
        ['layers', 0, 'attrs', 'alpha'],
        0.25,
        r'\(lk\).attrs.alpha: expected a raw ap_ufixed<6,0.* got 0.25',
    ),
    ('alpha-range', ['layers', 0, 'attrs', 'alpha'], 64, r'\(lk\).attrs.alpha: 64 outside ap_ufixed<6,0'),
    ('theta-range', ['layers', 1, 'attrs', 'theta'], -65, r'\(th\).attrs.theta: -65 outside ap_fixed<7,3'),
    ('param-type', ['layers', 1, 'types', 'param'], KeyError, r"\(th\).types: missing 'param'"),
    ('shape', ['layers', 2, 'output_shape'], [2, 2], r'\(ln\): linear must keep its shape'),
]


@pytest.mark.parametrize(
    'path, value, message', [m[1:] for m in PIECEWISE_MALFORMED], ids=[m[0] for m in PIECEWISE_MALFORMED]
)
def test_malformed_piecewise_linear_names_the_field(path, value, message):
    doc = copy.deepcopy(piecewise_spec().to_json())
    _set(doc, path, value)
    with pytest.raises(S.SpecError, match=message):
        S.from_json(doc)


SM_IN = FixedType(8, 3)
SM_OUT = FixedType(8, 0, False, 'RND', 'SAT')
SM_TYPES = {
    'exp_table': FixedType(8, 1, False, 'RND', 'SAT'),
    'inv_table': FixedType(8, 3, False, 'RND', 'SAT'),
    'inv_inp': FixedType(6, 3, False),
    'accum': FixedType(12, 4),
    'inp_norm': FixedType(7, 2, False),
}
HOT = FixedType(1, 1, False)


def softmax_spec() -> S.Spec:
    """2 vectors of 4 elements -> stable softmax (tables of 32 and 16 arbitrary raw entries) -> argmax."""
    stable = S.Layer(
        'sm',
        'softmax',
        (2, 4),
        (2, 4),
        {'input': SM_IN, 'output': SM_OUT, **SM_TYPES},
        {'implementation': 'stable', 'exp_table_size': 32, 'inv_table_size': 16},
        4,
        4,
        'l1',
        {'exp_table': np.arange(32) * 7 % 256, 'inv_table': (255 - np.arange(16) * 13) % 256},
    )
    argmax = S.Layer(
        'am', 'softmax', (2, 4), (2, 4), {'input': SM_OUT, 'output': HOT}, {'implementation': 'argmax'}, 4, 4
    )
    return S.Spec('softmaxes', S.Port('x', (2, 4), SM_IN, 4), S.Port('l2', (2, 4), HOT, 4), [stable, argmax])


def test_hand_written_softmax_spec(tmp_path):
    spec = softmax_spec()
    spec.save(tmp_path / 'spec.json')
    loaded = S.load(tmp_path / 'spec.json')
    assert loaded.to_json() == spec.to_json()
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, (200, 2, 4))
    got, trace = GoldenModel(loaded).run(x, trace=True)
    exp_t, inv_t = spec.layers[0].arrays['exp_table'], spec.layers[0].arrays['inv_table']
    for v, y, hot in zip(x.reshape(-1, 4), trace['sm'].reshape(-1, 4), got.reshape(-1, 4)):
        d = (v.max() - v) % 128  # max - x at 5 fractional bits, wrapped into ap_ufixed<7,2>
        e = exp_t[d >> 2] * 2  # top 5 of 7 bits; exp_table_t (7 fractional bits) -> accum_t (8)
        s = ((e[0] + e[1] + (e[2] + e[3])) >> 5) % 64  # accum_t -> ap_ufixed<6,3>: truncated, wrapped
        y_ref = np.minimum((e * inv_t[s >> 2] + 16) >> 5, 255)  # 13 -> 8 fractional bits, RND, SAT
        assert list(y) == list(y_ref)
        assert list(hot) == [int(i == int(np.argmax(y_ref))) for i in range(4)]


SOFTMAX_MALFORMED = [
    ('impl', ['layers', 0, 'attrs', 'implementation'], 'legacy', r"\(sm\).attrs.implementation: 'legacy'"),
    ('size-missing', ['layers', 0, 'attrs', 'inv_table_size'], KeyError, r'\(sm\): attrs.inv_table_size None'),
    ('size', ['layers', 0, 'attrs', 'exp_table_size'], 24, r'\(sm\): attrs.exp_table_size 24 is not a power of two'),
    ('size-bits', ['layers', 0, 'attrs', 'exp_table_size'], 256, r'\(sm\): .* 8 index bits, more than the ap_ufixed<7'),
    ('norm-type', ['layers', 0, 'types', 'inp_norm'], KeyError, r"\(sm\).types: missing 'inp_norm'"),
    ('beats', ['layers', 1, 'out_elements_per_beat'], 2, r'\(am\): in_elements_per_beat 4 != out_elements_per_beat 2'),
]


@pytest.mark.parametrize(
    'path, value, message', [m[1:] for m in SOFTMAX_MALFORMED], ids=[m[0] for m in SOFTMAX_MALFORMED]
)
def test_malformed_softmax_names_the_field(path, value, message):
    spec = softmax_spec()
    doc = copy.deepcopy(spec.to_json())
    _set(doc, path, value)
    if path[1] == 1:  # the output port follows the last layer
        _set(doc, ['output', 'elements_per_beat'], value)
    with pytest.raises(S.SpecError, match=message):
        S.from_json(doc, {f'{la.name}/{k}': v for la in spec.layers for k, v in la.arrays.items()})


def test_softmax_table_values_outside_table_type():
    spec = softmax_spec()
    arrays = {f'{la.name}/{k}': v for la in spec.layers for k, v in la.arrays.items()}
    arrays['sm/inv_table'] = arrays['sm/inv_table'] + 256
    with pytest.raises(S.SpecError, match=r'\(sm\).arrays.inv_table: values .* outside ap_ufixed<8,3'):
        S.from_json(spec.to_json(), arrays)


BN_IN = FixedType(8, 4)
BN_S = FixedType(6, 2)
BN_B = FixedType(7, 3, False)
BN_OUT = FixedType(7, 3, True, 'RND', 'SAT')
BN_OUT2 = FixedType(6, 3, True, 'RND_CONV', 'SAT_SYM')


def batchnorm_spec() -> S.Spec:
    """(2, 2, 3), one pixel per beat -> batchnorm per channel -> flatten -> batchnorm per element (3 per beat),
    written by hand with raw scales and biases."""
    rng = np.random.default_rng(5)
    per_channel = {'scale': np.array([BN_S.raw_min, BN_S.raw_max, 7]), 'bias': np.array([0, BN_B.raw_max, 40])}
    per_element = {'scale': rng.integers(-32, 32, 12), 'bias': rng.integers(0, 16, 12)}
    per_element['scale'][:3] = [BN_S.raw_min, BN_S.raw_max, 0]
    types = {'input': BN_IN, 'scale': BN_S, 'bias': BN_B}
    layers = [
        S.Layer('bn_c', 'batchnorm', (2, 2, 3), (2, 2, 3), types | {'output': BN_OUT}, {}, 3, 3, 'l1', per_channel),
        S.Layer('flat', 'flatten', (2, 2, 3), (12,), {'input': BN_OUT, 'output': BN_OUT}, {}, 3, 3, 'l1'),
        S.Layer(
            'bn_e', 'batchnorm', (12,), (12,), types | {'input': BN_OUT, 'output': BN_OUT2}, {}, 3, 3, 'l2', per_element
        ),
    ]
    return S.Spec('bn', S.Port('x', (2, 2, 3), BN_IN, 3), S.Port('l2', (12,), BN_OUT2, 3), layers)


def test_hand_written_batchnorm_spec(tmp_path):
    """The golden model against x * s + b computed in float64 (exact at these widths) and converted to the
    output type as ap_fixed converts a double."""
    from lenet5_hls.core.fixed_point import from_float, to_float

    spec = batchnorm_spec()
    spec.save(tmp_path / 'spec.json')
    loaded = S.load(tmp_path / 'spec.json')
    assert loaded.to_json() == spec.to_json()
    x = np.random.default_rng(6).integers(BN_IN.raw_min, BN_IN.raw_max + 1, (200, 2, 2, 3))
    x[0], x[1] = BN_IN.raw_min, BN_IN.raw_max
    c, e = spec.layers[0].arrays, spec.layers[2].arrays
    y1 = from_float(to_float(x, BN_IN) * to_float(c['scale'], BN_S) + to_float(c['bias'], BN_B), BN_OUT)
    y1 = y1.reshape(len(x), 12)
    y2 = from_float(to_float(y1, BN_OUT) * to_float(e['scale'], BN_S) + to_float(e['bias'], BN_B), BN_OUT2)
    got, trace = GoldenModel(loaded).run(x, trace=True)
    assert np.array_equal(trace['bn_c'], y1.reshape(x.shape)) and np.array_equal(got, y2)
    for y, t in ((y1, BN_OUT), (y2, BN_OUT2)):
        assert {t.raw_max, t.raw_min + (t.overflow == 'SAT_SYM')} <= set(np.unique(y)), 'both rails reached'


BN_MALFORMED = [
    ('scale-missing', ['layers', 0, 'arrays', 'scale'], KeyError, r"\(bn_c\).arrays: missing 'scale'"),
    ('bias-type', ['layers', 2, 'types', 'bias'], KeyError, r"\(bn_e\).types: missing 'bias'"),
    ('shape', ['layers', 0, 'output_shape'], [2, 6], r'\(bn_c\): batchnorm must keep its shape'),
    (
        'wide',
        ['layers', 2, 'types', 'scale', 'width'],
        60,
        r'\(bn_e\).types: ap_fixed<7,3,AP_RND,AP_SAT,0> \* ap_fixed<60,2.* needs 70 bits, more than 62',
    ),
]


def _bn_arrays(spec: S.Spec) -> dict:
    return {f'{la.name}/{k}': v for la in spec.layers for k, v in la.arrays.items()}


@pytest.mark.parametrize('path, value, message', [m[1:] for m in BN_MALFORMED], ids=[m[0] for m in BN_MALFORMED])
def test_malformed_batchnorm_names_the_field(path, value, message):
    spec = batchnorm_spec()
    doc = copy.deepcopy(spec.to_json())
    _set(doc, path, value)
    with pytest.raises(S.SpecError, match=message):
        S.from_json(doc, _bn_arrays(spec))


def test_batchnorm_arrays_checked():
    spec = batchnorm_spec()
    arrays = _bn_arrays(spec)
    for key, value, message in [
        ('bn_e/scale', np.zeros(5, np.int64), r'\(bn_e\).arrays.scale: shape \(5,\); expected \(C,\) with C dividing'),
        ('bn_e/bias', np.zeros(6, np.int64), r'\(bn_e\).arrays: scale \(12,\) and bias \(6,\) differ'),
        ('bn_c/bias', np.array([0, 128, 1]), r'\(bn_c\).arrays.bias: values 0..128 outside ap_ufixed<7,3'),
    ]:
        doc = spec.to_json()
        for layer in doc['layers']:  # the JSON records each array's shape too
            for a in layer['arrays'].values():
                if a['key'] == key:
                    a['shape'] = list(value.shape)
        with pytest.raises(S.SpecError, match=message):
            S.from_json(doc, arrays | {key: value})


def test_batchnorm_folding():
    """A batchnorm multiplies every element of a beat at once: its multipliers are the elements per beat, and a
    folding override can only repeat that number."""
    from lenet5_hls.rtl.folding import FoldingError, plan

    spec = batchnorm_spec()
    folded = plan(spec, overrides={'bn_c': 3})
    assert [(p.name, p.multipliers, p.cycles_per_image) for p in folded.layers if p.multipliers] == [
        ('bn_c', 3, 4),
        ('bn_e', 3, 4),
    ]
    with pytest.raises(FoldingError, match=r'layer bn_e: a batchnorm multiplies the 3 elements of each beat at once'):
        plan(spec, overrides={'bn_e': 1})
