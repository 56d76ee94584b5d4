"""Static checks of the RTL library: `verilator --lint-only -Wall` (any warning fails) and Yosys synthesis
(`check -assert`, no latches), each module with several parameter sets.

Waivers are only allowed inline as `/* verilator lint_off RULE */` followed by a `//` comment giving the
reason on the same line; test_waivers_have_reasons enforces that for every module listed here.
Add a module by adding its parameter sets to LINT_CASES (string parameters as Verilog literals, e.g. '"x.mem"').
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from harness import rtl_sources
from lenet5_hls.core.fixed_point import FixedType
from lenet5_hls.core.spec import Layer
from lenet5_hls.rtl import params as rtl_params
from lenet5_hls.verify.sim_runner import PRIMITIVE_MODELS, PRIMITIVE_MODELS_DEFINE, lint


def _dense_case(tmp_dir, n_in: int, n_out: int, mults: int, accum: FixedType, output: FixedType) -> dict:
    """dense_unit parameters with real ROM files (written by rtl_params, as the generator does)."""
    types = {
        'input': FixedType(8, 3),
        'weight': FixedType(6, 1),
        'bias': FixedType(8, 2),
        'accum': accum,
        'output': output,
    }
    rng = np.random.default_rng(0)
    layer = Layer(
        'd',
        'dense',
        (n_in,),
        (n_out,),
        types,
        arrays={'weight': rng.integers(-32, 32, size=(n_in, n_out)), 'bias': rng.integers(-128, 128, size=n_out)},
    )
    tag = f'{n_in}x{n_out}m{mults}'
    wfile, bfile = rtl_params.write_mem_files(layer, mults, tmp_dir / f'w_{tag}.mem', tmp_dir / f'b_{tag}.mem')
    return rtl_params.dense_params(layer, mults, wfile, bfile)


def _table_case(tmp_dir, kind: str, n: int, size: int, t_in: FixedType, t_table: FixedType, t_out: FixedType) -> dict:
    """table_act_stream parameters with a real table file (the kind's table, unary_lut's any values, written by
    rtl_params)."""
    from lenet5_hls.core.kind import KINDS

    act = KINDS[kind]
    table = np.arange(size) % (t_table.raw_max + 1) if kind == 'unary_lut' else act.table(size, t_table)
    types = {'input': t_in, 'table': t_table, 'output': t_out}
    layer = Layer('t', kind, (n,), (n,), types, {'table_size': size}, arrays={'table': table})
    path = rtl_params.write_table_file(layer, tmp_dir / f'{kind}_{size}.mem')
    return rtl_params.table_act_params(layer, n, act.div_log2, path)


def _softmax_case(tmp_dir, impl: str, n: int, t_in: FixedType, t_out: FixedType, **types) -> dict:
    """softmax_stream parameters with real table files (make_layer's tables, written by rtl_params)."""
    from lenet5_hls.kinds.softmax import make_layer

    layer = make_layer('sm', impl, n, t_in, t_out, **types)
    if impl == 'argmax':
        return rtl_params.softmax_params(layer)
    files = rtl_params.write_softmax_files(layer, tmp_dir / f'exp_{impl}_{n}.mem', tmp_dir / f'inv_{impl}_{n}.mem')
    return rtl_params.softmax_params(layer, *files)


def _scale_bias_case(tmp_dir, n: int, c: int, types: dict[str, FixedType]) -> dict:
    """scale_bias_stream parameters with real scale and bias files (written by rtl_params, as the generator does)."""
    rng = np.random.default_rng(c)
    arrays = {k: rng.integers(types[k].raw_min, types[k].raw_max + 1, c) for k in ('scale', 'bias')}
    shape = (np.lcm(n, c),)
    layer = Layer('bn', 'batchnorm', shape, shape, types, arrays=arrays)
    files = tmp_dir / f'scale_{n}_{c}.mem', tmp_dir / f'bias_{n}_{c}.mem'
    depth = rtl_params.write_scale_bias_files(layer, n, *files)
    return rtl_params.scale_bias_params(layer, n, depth, *files)


# module -> {case id: parameters, or a function(tmp_dir) -> parameters}; linted with the modules it instantiates
LINT_CASES = {
    'fxp_requant': {
        'default': {},
        'rnd-sat': dict(ROUNDING=2, OVERFLOW=1),
        'shift1-conv-satsym': dict(IN_FRAC=5, OUT_FRAC=4, ROUNDING=6, OVERFLOW=3),
        'left-unsigned': dict(IN_SIGNED=0, OUT_SIGNED=0, IN_FRAC=2, OUT_FRAC=6, OVERFLOW=1),
        'wide-shift-satzero': dict(IN_W=3, IN_FRAC=40, OUT_W=1, OUT_FRAC=-4, ROUNDING=5, OVERFLOW=2),
    },
    'relu_stream': {
        'default': {},
        'n1-unsigned-rnd-satsym': dict(
            N=1, IN_SIGNED=0, IN_W=5, OUT_W=7, OUT_FRAC=2, OUT_SIGNED=1, ROUNDING=2, OVERFLOW=3
        ),
    },
    'dense_unit': {
        'folded-wrap': lambda d: _dense_case(d, 8, 4, 4, FixedType(18, 8), FixedType(10, 5)),
        'parallel-sat': lambda d: _dense_case(
            d, 4, 3, 12, FixedType(10, 4, True, 'RND_CONV', 'SAT'), FixedType(6, 3, False, 'RND', 'SAT_SYM')
        ),
        # 9 products per output: an odd 4-level adder tree, one level per stage
        'odd-tree-4-stages': lambda d: dict(_dense_case(d, 9, 2, 18, FixedType(20, 10), FixedType(8, 4)), ADD_LEVELS=1),
        'one-mult-one-out': lambda d: _dense_case(
            d, 5, 1, 1, FixedType(9, 3, True, 'TRN_ZERO', 'SAT_ZERO'), FixedType(12, 6)
        ),
    },
    'table_act_stream': {
        'sigmoid-1024': lambda d: _table_case(
            d, 'sigmoid', 2, 1024, FixedType(16, 6), FixedType(18, 8), FixedType(16, 6)
        ),
        'tanh-8-unsigned-negfrac': lambda d: _table_case(
            d, 'tanh', 3, 8, FixedType(5, 7, False), FixedType(8, 1, True, 'RND', 'SAT'), FixedType(4, 1)
        ),
        'tanh-64-narrow-rnd': lambda d: _table_case(
            d, 'tanh', 1, 64, FixedType(4, 2), FixedType(10, 2), FixedType(6, 1, True, 'RND_CONV', 'SAT_SYM')
        ),
        'lut-256-rnd': lambda d: _table_case(
            d, 'unary_lut', 4, 256, FixedType(8, 4), FixedType(8, 2), FixedType(7, 3, True, 'RND')
        ),
        # an input narrower than the table, one bit wide
        'lut-4-narrow-1bit': lambda d: _table_case(
            d,
            'unary_lut',
            2,
            4,
            FixedType(1, 1, False),
            FixedType(6, 0, False),
            FixedType(4, 1, True, 'RND', 'SAT'),
        ),
    },
    'softmax_stream': {
        # hls4ml's default table types at ap_fixed<16,6>; 5 elements and tables of 128 (Yosys time)
        'stable-5': lambda d: _softmax_case(
            d, 'stable', 5, FixedType(16, 6), FixedType(16, 6), exp_size=128, inv_size=128
        ),
        # 7 elements (tree blocks 4 + 2 + 1), small tables, an unsigned sum saturating in accum_t
        'latency-7-narrow': lambda d: _softmax_case(
            d,
            'latency',
            7,
            FixedType(8, 3),
            FixedType(9, 1),
            exp_size=128,
            inv_size=64,
            inv_inp_t=FixedType(8, 5, False),
            accum_t=FixedType(12, 5, False, 'TRN', 'SAT'),
        ),
        'argmax-10': lambda d: _softmax_case(d, 'argmax', 10, FixedType(4, 2), FixedType(4, 1)),
    },
    'param_relu_stream': {
        # leaky_relu 0.1 as hls4ml types it: ufixed<8,-3> (raw 204), signed input and output
        'leaky': dict(N=3, P_W=8, P_FRAC=11, ALPHA=204),
        # thresholded_relu, theta -1.5 at the input's own type, an unsigned saturating output
        'thresholded-negative': dict(
            N=2, IN_W=10, IN_FRAC=6, P_W=10, P_FRAC=6, P_SIGNED=1, THETA=-96, OUT_SIGNED=0, ROUNDING=2, OVERFLOW=1
        ),
        # a slope > 1 with negative parameter fraction bits, unsigned input, one element per beat
        'leaky-unsigned-negfrac': dict(
            N=1, IN_W=6, IN_FRAC=2, IN_SIGNED=0, P_W=2, P_FRAC=-1, P_SIGNED=1, ALPHA=1, OUT_W=5, OVERFLOW=3
        ),
    },
    'scale_bias_stream': {
        # a conv's channels, one pixel per beat (DEPTH 1), hls4ml's default types
        'pixel-16-bit': lambda d: _scale_bias_case(
            d,
            6,
            6,
            dict(input=FixedType(16, 6), scale=FixedType(16, 6), bias=FixedType(16, 6), output=FixedType(33, 13)),
        ),
        # a flattened input, 3 words (not a power of two); unsigned input, the bias finer than the product
        'flat-depth3-unsigned': lambda d: _scale_bias_case(
            d,
            4,
            12,
            dict(
                input=FixedType(8, 3, False),
                scale=FixedType(6, 1),
                bias=FixedType(12, 2),
                output=FixedType(8, 4, True, 'RND', 'SAT'),
            ),
        ),
        # one element per beat, 4 words; negative fractions, unsigned scale and output
        'n1-depth4-negfrac': lambda d: _scale_bias_case(
            d,
            1,
            4,
            dict(
                input=FixedType(6, 8),
                scale=FixedType(5, 7, False),
                bias=FixedType(4, 0, False),
                output=FixedType(7, 10, False, 'RND_CONV', 'SAT_SYM'),
            ),
        ),
    },
    'axis_skid_buffer': {'default': {}, 'wide': dict(DATA_W=200)},
    'axis_fifo': {
        'default': {},
        'depth1': dict(DEPTH=1),
        'depth17-pipelined': dict(DEPTH=17),
        'depth37-chunked': dict(DATA_W=200, DEPTH=37),  # 4 memory chunks of CHUNK_W = 64, the last partial
    },
    'axis_fifo_regs': {
        'default': {},
        'depth1': dict(DEPTH=1),
        'depth16-chunked': dict(DATA_W=70, DEPTH=16),
    },
    'window_gen': {
        'lenet-conv1': dict(IN_H=28, IN_W=28, C=1, ELEM_W=8, KH=5, KW=5),
        'same-3x3': dict(IN_H=8, IN_W=8, C=3, ELEM_W=7, KH=3, KW=3, PAD_T=1, PAD_B=1, PAD_L=1, PAD_R=1),
        'stride2': dict(IN_H=9, IN_W=7, C=2, ELEM_W=6, KH=3, KW=2, STRIDE_H=2, STRIDE_W=2),
    },
    'pool2d': {
        'lenet-max': dict(
            IN_H=24, IN_W=24, C=6, DIN_W=8, DIN_FRAC=5, ACC_W=8, ACC_FRAC=5, DOUT_W=8, DOUT_FRAC=5, DOUT_ROUNDING=2
        ),
        'avg-sat': dict(
            IN_H=8,
            IN_W=8,
            C=3,
            POOL_OP=1,
            DIN_W=6,
            DIN_FRAC=4,
            DIN_SIGNED=0,
            ACC_W=8,
            ACC_FRAC=5,
            ACC_SIGNED=0,
            ACC_ROUNDING=1,
            ACC_OVERFLOW=1,
            DOUT_W=6,
            DOUT_FRAC=4,
            DOUT_SIGNED=0,
            DOUT_ROUNDING=2,
        ),
        'avg-3x3': dict(IN_H=9, IN_W=9, C=2, POOL_H=3, POOL_W=3, STRIDE_H=3, STRIDE_W=3, POOL_OP=1),
    },
    'stream_flatten': {'lenet': dict(ELEM_W=8, C=16, BEATS=16), 'one-beat': dict(ELEM_W=5, C=3, BEATS=1)},
    'mult_bank': {
        'default': {},
        'unsigned-3': dict(N=3, A_W=8, A_SIGNED=0, B_W=7, B_SIGNED=1),
    },
    'ctrl_copies': {
        'default': {},
        'three-bits-five-copies': dict(CTRL_W=3, COPIES=5, RESET_VALUE="3'b101"),
        'one-bit-four-copies': dict(CTRL_W=1, COPIES=4),
        'two-levels-ten-copies': dict(CTRL_W=3, COPIES=10, LEVELS=2),
    },
    'ap_ctrl_stream': {
        'lenet': dict(IN_BEATS=784, OUT_BEATS=1),
        'multi-out': dict(IN_BEATS=5, OUT_BEATS=3),
    },
}
CASE_IDS = [(m, c) for m, cs in LINT_CASES.items() for c in cs]
# Yosys takes 3-17 s on these (wide products and memories through gate mapping and ABC): the slow set synthesizes
# them; the default suite synthesizes every module's other sets, and Verilator lints every set.
SLOW_SYNTH = {
    ('dense_unit', 'parallel-sat'),
    ('dense_unit', 'odd-tree-4-stages'),
    ('dense_unit', 'folded-wrap'),
    ('axis_fifo', 'depth37-chunked'),
    ('scale_bias_stream', 'pixel-16-bit'),
    ('scale_bias_stream', 'flat-depth3-unsigned'),
    ('pool2d', 'avg-3x3'),
    ('pool2d', 'lenet-max'),
    ('softmax_stream', 'stable-5'),
    ('softmax_stream', 'latency-7-narrow'),
    ('table_act_stream', 'sigmoid-1024'),
}


def _case(module: str, case: str, tmp_dir):
    params = LINT_CASES[module][case]
    if callable(params):
        params = params(tmp_dir)
    return rtl_sources(module), params


@pytest.mark.parametrize('module, case', CASE_IDS, ids=[f'{m}-{c}' for m, c in CASE_IDS])
def test_verilator_lint(module, case, tmp_path):
    sources, params = _case(module, case, tmp_path)
    status, report = lint(module, sources, [f'-G{k}={v}' for k, v in params.items()])
    warnings = [line for line in report.splitlines() if line.startswith(('%Warning', '%Error'))]
    assert status == 0 and not warnings, f'verilator -Wall on {module} {params}:\n{report}'


def test_verilator_lint_ecp5_primitives():
    """mult_bank's ECP5 path (MULT18X18D instances, compiled as synthesis sees it) is lint clean; the
    primitive's simulation model is not library code and its unused pins are not checked."""
    _, report = lint(
        'mult_bank',
        [*rtl_sources('mult_bank'), *PRIMITIVE_MODELS],
        ['-GN=2', '-GA_W=17', '-GA_SIGNED=0', '-GB_W=18', '-GTARGET=1', f'-D{PRIMITIVE_MODELS_DEFINE}'],
    )
    warnings = [line for line in report.splitlines() if line.startswith(('%Warning', '%Error'))]
    ours = [line for line in warnings if 'ecp5_mult18x18d.v' not in line and 'Exiting due to' not in line]
    assert not ours, '\n'.join(ours)


def _yosys_value(v) -> str:
    """chparam value: Yosys cannot parse '-4', a 32-bit signed literal it can."""
    return f"32'sh{v & 0xFFFFFFFF:08x}" if isinstance(v, int) and v < 0 else str(v)


@pytest.mark.parametrize(
    'module, case',
    [pytest.param(m, c, id=f'{m}-{c}', marks=[pytest.mark.slow] if (m, c) in SLOW_SYNTH else []) for m, c in CASE_IDS],
)
def test_yosys_synth_no_latches(module, case, tmp_path):
    if shutil.which('yosys') is None:
        pytest.skip('yosys not on PATH: synthesis check skipped (Debian package `yosys`)')
    sources, params = _case(module, case, tmp_path)
    netlist = tmp_path / 'netlist.json'
    script = [f'read_verilog -defer {" ".join(str(s) for s in sources)}']
    if params:
        script.append('chparam ' + ' '.join(f'-set {k} {_yosys_value(v)}' for k, v in params.items()) + f' {module}')
    script += [
        f'hierarchy -check -top {module}',
        f'synth -flatten -top {module}',
        'check -assert',
        f'write_json {netlist}',
    ]
    (tmp_path / 'synth.ys').write_text('\n'.join(script) + '\n')
    log = tmp_path / 'yosys.log'
    proc = subprocess.run(
        ['yosys', '-q', '-l', str(log), '-s', str(tmp_path / 'synth.ys')], capture_output=True, text=True, timeout=300
    )
    text = log.read_text() if log.exists() else ''
    assert proc.returncode == 0, f'yosys failed on {module} {params}:\n{proc.stdout}{proc.stderr}\n{text[-3000:]}'
    inferred = [line for line in text.splitlines() if re.search(r'Latch inferred', line)]
    cells = {c['type'] for mod in json.loads(netlist.read_text())['modules'].values() for c in mod['cells'].values()}
    latches = sorted(t for t in cells if re.search(r'latch|_SR_|\$sr\b', t, re.IGNORECASE))
    assert not inferred and not latches, f'{module} {params}: latches {latches} {inferred}'
    assert any('DFF' in t for t in cells) or module == 'fxp_requant', (
        f'{module}: no flip-flops in the netlist ({sorted(cells)})'
    )


def test_every_module_is_synthesized_in_the_default_suite():
    assert SLOW_SYNTH <= set(CASE_IDS)
    assert {m for m, _ in CASE_IDS} == {m for m, c in CASE_IDS if (m, c) not in SLOW_SYNTH}


def test_waivers_have_reasons():
    """Every `verilator lint_off` in the modules linted here carries a `//` reason on its line."""
    bad = []
    for path in rtl_sources(*LINT_CASES):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if 'lint_off' in line and not re.search(r'lint_off\s+\w+\s*\*/\s*//\s*\S', line):
                bad.append(f'{path.name}:{n}: {line.strip()}')
    assert not bad, 'lint waivers without a reason:\n' + '\n'.join(bad)
