"""fixed_point.cast / from_float against ap_fixed itself (the ap_types headers that hls4ml ships).

One C++ program is generated with every case, compiled once with g++, and its printed raw bits are
compared with the NumPy implementation for every input value: ties, negative values, overflow edges.
"""

import hashlib
import itertools
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from lenet5_hls.core.cache import cache_dir, keyed_file, tool_version
from lenet5_hls.core.fixed_point import OVERFLOW_MODES, ROUNDING_MODES, FixedType, cast, from_float

# (width, integer) shapes: ordinary, integer bits beyond the width, negative integer bits.
SHAPES = [(5, 2), (4, 6), (6, -1)]
# Source has this many more fractional bits than the target (negative: the cast shifts left).
EXTRA_FRAC = [3, -2]
SOURCE_WIDTH = 24

CASES = [
    FixedType(w, i, signed, rnd, ovf)
    for (w, i), signed, rnd, ovf in itertools.product(SHAPES, (True, False), ROUNDING_MODES, OVERFLOW_MODES)
]


def _ap_types_dir() -> Path:
    import hls4ml

    return Path(hls4ml.__file__).parent / 'templates' / 'vivado' / 'ap_types'


def _raw_range(t: FixedType, extra: int) -> np.ndarray:
    # Cover the whole target range plus overflow on both sides, in source LSBs.
    span = 1 << (t.width + 2 + max(extra, 0))
    return np.arange(-span, span, dtype=np.int64)


def _float_values(t: FixedType) -> list[float]:
    lsb = 2.0 ** (-t.frac)
    ticks = np.arange(-(2 ** (t.width + 2)), 2 ** (t.width + 2)) * lsb / 4  # quarter-LSB steps: ties included
    rng = np.random.default_rng(0)
    return [float(v) for v in np.concatenate([ticks, rng.normal(0, 2.0**t.integer, 64)])]


@pytest.fixture(scope='module')
def ap_fixed_results(tmp_path_factory):
    """Compile and run the generated program; returns {case key: list of raw outputs}."""
    lines = ['#include <ap_fixed.h>', '#include <cstdio>', '']
    lines.append(
        'template <int SI, class T> void from_raw(long long lo, long long hi) {\n'
        '  for (long long r = lo; r < hi; r++) '
        f'{{ ap_fixed<{SOURCE_WIDTH}, SI> s; s.range({SOURCE_WIDTH - 1}, 0) = r;\n'
        '    T t = s; printf("%lld ", (long long)t.range(T::width - 1, 0).to_uint64()); }\n'
        '  printf("\\n");\n}'
    )
    lines.append(
        'template <class T> void from_double(const double *v, int n) {\n'
        '  for (int k = 0; k < n; k++) '
        '{ T t = v[k]; printf("%lld ", (long long)t.range(T::width - 1, 0).to_uint64()); }\n'
        '  printf("\\n");\n}'
    )
    body, keys = [], []
    for n, t in enumerate(CASES):
        for extra in EXTRA_FRAC:
            raw = _raw_range(t, extra)
            source_integer = SOURCE_WIDTH - (t.frac + extra)
            body.append(f'  from_raw<{source_integer}, {t.cpp()} >({raw[0]}LL, {raw[-1] + 1}LL);')
            keys.append(('raw', n, extra))
        values = ', '.join(v.hex() for v in _float_values(t))
        body.append(
            f'  {{ static const double v[] = {{{values}}}; from_double<{t.cpp()} >(v, sizeof(v) / sizeof(v[0])); }}'
        )
        keys.append(('float', n, None))
    lines += ['int main() {', *body, '  return 0;', '}']
    program = '\n'.join(lines) + '\n'

    def compile_and_run() -> bytes:
        workdir = tmp_path_factory.mktemp('ap_fixed')
        src, exe = workdir / 'casts.cpp', workdir / 'casts'
        src.write_text(program)
        subprocess.run(['g++', '-O0', '-std=c++17', f'-I{_ap_types_dir()}', str(src), '-o', str(exe)], check=True)
        return subprocess.run([str(exe)], check=True, capture_output=True).stdout

    # the compile takes 25 s: the pytest workers share one, through the machine's content-keyed cache
    gxx = shutil.which('g++')
    key = hashlib.sha256(f'{program}{tool_version(gxx)}{_ap_types_dir()}'.encode()).hexdigest()[:16]
    out = keyed_file(cache_dir('test') / f'ap_fixed_casts-{key}.txt', compile_and_run)[0].decode().splitlines()
    assert len(out) == len(keys)
    return {k: [int(x) for x in line.split()] for k, line in zip(keys, out)}


def _signed_bits(bits: list[int], t: FixedType) -> np.ndarray:
    v = np.array(bits, dtype=np.int64)
    if t.signed:
        v = np.where(v >= 1 << (t.width - 1), v - (1 << t.width), v)
    return v


@pytest.mark.parametrize('extra', EXTRA_FRAC, ids=lambda e: f'extra{e:+d}')
@pytest.mark.parametrize('n', range(len(CASES)), ids=[t.cpp() for t in CASES])
def test_cast_matches_ap_fixed(ap_fixed_results, n, extra):
    t = CASES[n]
    raw = _raw_range(t, extra)
    expected = _signed_bits(ap_fixed_results[('raw', n, extra)], t)
    got = cast(raw, t.frac + extra, t)
    bad = np.flatnonzero(got != expected)
    assert bad.size == 0, (
        f'{t.cpp()} from {t.frac + extra} fractional bits: {bad.size}/{raw.size} differ, '
        f'first raw input {raw[bad[0]]}: ap_fixed {expected[bad[0]]}, ours {got[bad[0]]}'
    )
    # The same cast on inputs that all round into the range (cast's no-overflow shortcut) and one by one.
    rounded = cast(raw, t.frac + extra, FixedType(62, 62 - t.frac, True, t.rounding, 'WRAP'))
    inside = np.flatnonzero((rounded >= t.raw_min) & (rounded <= t.raw_max))
    assert np.array_equal(cast(raw[inside], t.frac + extra, t), expected[inside])
    for i in inside[:: max(1, inside.size // 16)]:
        assert cast(raw[i : i + 1], t.frac + extra, t)[0] == expected[i], f'{t.cpp()}: raw {raw[i]} cast alone'
    # Values wider than int64 (Python integers): the same values with 40 more fractional bits cast alike.
    wide_raw = np.array([int(v) << 40 for v in raw], dtype=object)
    assert np.array_equal(cast(wide_raw, t.frac + extra + 40, t), expected)


@pytest.mark.parametrize('n', range(len(CASES)), ids=[t.cpp() for t in CASES])
def test_from_float_matches_ap_fixed(ap_fixed_results, n):
    t = CASES[n]
    values = np.array(_float_values(t))
    expected = _signed_bits(ap_fixed_results[('float', n, None)], t)
    got = from_float(values, t)
    bad = np.flatnonzero(got != expected)
    assert bad.size == 0, (
        f'{t.cpp()}: {bad.size} differ, first {values[bad[0]]!r}: ap_fixed {expected[bad[0]]}, ours {got[bad[0]]}'
    )


# The float-based `quantizers` package (HGQ2's own reference) agrees wherever it has the mode.
@pytest.mark.parametrize('rounding', ['TRN', 'RND', 'RND_CONV', 'TRN_ZERO', 'RND_ZERO', 'RND_MIN_INF', 'RND_INF'])
@pytest.mark.parametrize('overflow', ['WRAP', 'SAT'])
def test_cast_matches_quantizers_package(rounding, overflow):
    from quantizers.fixed_point.fixed_point_ops_np import get_fixed_quantizer_np

    t = FixedType(6, 2, True, rounding, overflow)
    raw = np.arange(-(1 << 11), 1 << 11, dtype=np.int64)  # 4 extra fractional bits
    x = raw * 2.0 ** -(t.frac + 4)
    q = get_fixed_quantizer_np(rounding, overflow)(x, np.float64(1), np.float64(t.integer - 1), np.float64(t.frac))
    ours = cast(raw, t.frac + 4, t) * 2.0**-t.frac
    assert np.array_equal(ours, q), f'{np.sum(ours != q)} values differ from quantizers for {t.cpp()}'


def test_type_parse_round_trip():
    for t in CASES:
        assert FixedType.parse(t.cpp()) == t
    assert FixedType.parse('fixed<9,3,TRN,WRAP,0>') == FixedType(9, 3, True, 'TRN', 'WRAP')
    assert FixedType.parse('ap_uint<4>') == FixedType(4, 4, False)


@pytest.mark.parametrize(
    'text, message',
    [
        ('float', 'cannot parse'),
        ('ap_fixed<8,3,AP_RND,AP_WRAP,2>', 'saturation bits'),
        ('ap_fixed<8,3,AP_FOO>', 'rounding mode'),
    ],
)
def test_type_parse_errors(text, message):
    with pytest.raises(ValueError, match=message):
        FixedType.parse(text)
