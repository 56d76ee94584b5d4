"""Resource report: Yosys synth_xilinx counts of small stages, the whole report on a tiny generated design,
the missing-tool error, and hls4ml's declared multiplier budgets of the committed LeNet-5."""

from pathlib import Path

import numpy as np
import pytest

from lenet5_hls.core.fixed_point import FixedType
from lenet5_hls.core.spec import Layer
from lenet5_hls.reports import resources as R
from lenet5_hls.rtl import params as rtl_params
from lenet5_hls.rtl.description import Instance
from lenet5_hls.rtl.generator import RTL_DIR, generate
from test_spec import tiny_spec

needs_yosys = pytest.mark.skipif(R.shutil.which('yosys') is None, reason='yosys not on PATH (Debian package `yosys`)')


def _dense_params(tmp_path: Path, mults: int) -> dict:
    """An 8x4 dense_unit with random 6-bit weights and real ROM files, as the generator writes them."""
    rng = np.random.default_rng(0)
    types = {
        'input': FixedType(8, 3),
        'weight': FixedType(6, 1),
        'bias': FixedType(8, 2),
        'accum': FixedType(18, 8),
        'output': FixedType(10, 5),
    }
    arrays = {'weight': rng.integers(-32, 32, (8, 4)), 'bias': rng.integers(-128, 128, 4)}
    layer = Layer('d', 'dense', (8,), (4,), types, arrays=arrays)
    w, b = rtl_params.write_mem_files(layer, mults, tmp_path / f'w{mults}.mem', tmp_path / f'b{mults}.mem')
    return rtl_params.dense_params(layer, mults, w, b)


def _synth(tmp_path: Path, module: str, params: dict) -> dict:
    inst = Instance('dut', module, 'x', params, [k for k in rtl_params.DENSE_FILE_PARAMS if k in params])
    work = Path(R.tempfile.mkdtemp(dir=tmp_path))
    sources = sorted(RTL_DIR.glob('*.v'))
    return R.stage_counts(inst, {flow: R.synth_run(R.yosys_exe(), inst, flow, sources, work) for flow in R.FLOWS})


# module, parameters of the smaller and of the larger instance, counters that must grow
SCALING = {
    'relu_stream-n2-vs-n8': ('relu_stream', lambda d: {'N': 2}, lambda d: {'N': 8}, ('lut', 'ff')),
    'dense_unit-1-vs-4-mults': ('dense_unit', lambda d: _dense_params(d, 1), lambda d: _dense_params(d, 4), ('dsp',)),
}


# the DSP count of dense_unit in the default suite; LUTs and flip-flops of relu_stream (15 s) in the slow set
SLOW_SCALING = {'relu_stream-n2-vs-n8'}


@needs_yosys
@pytest.mark.parametrize(
    'case', [pytest.param(c, id=c, marks=[pytest.mark.slow] if c in SLOW_SCALING else []) for c in SCALING]
)
def test_small_stage_counts_grow_with_parallelism(case, tmp_path):
    module, small, large, growing = SCALING[case]
    a, b = _synth(tmp_path, module, small(tmp_path)), _synth(tmp_path, module, large(tmp_path))
    for counts in (a, b):
        assert counts['lut'] > 0 and counts['ff'] > 0 and counts['cells'] > 0, counts
    for key in growing:
        assert b[key] > a[key], (key, a, b)
    if module == 'dense_unit':  # Yosys maps every 8x6-bit product to a DSP48E1
        assert (a['dsp'], b['dsp']) == (1, 4), (a, b)


@needs_yosys
def test_report_of_a_tiny_generated_design(tmp_path):
    desc = generate(tiny_spec(), tmp_path / 'rtl')
    lines = []
    report = R.resource_report(tmp_path / 'rtl', None, jobs=2, progress=lines.append)
    layers = {la['layer']: la for la in report['layers']}
    assert list(layers) == ['control', 'conv', 'relu', 'pool', 'fc']
    assert [s['instance'] for s in layers['conv']['stages']] == [s.instance for s in desc.stages if s.layer == 'conv']
    assert len(lines) == 2 * (len(desc.stages) + 1)  # one line per flow and instance, the control included
    for key in R.COUNTS:
        assert report['total'][key] == sum(la[key] for la in report['layers']), key
    ours = {la.name: la.multipliers for la in desc.folding.layers}
    for name in ('conv', 'fc'):
        # Yosys may build a product this narrow (4 x 4 bits) from LUTs instead of a DSP48E1 (mul2dsp's minimum
        # product width); test_small_stage_counts_grow_with_parallelism checks one DSP per wider product
        assert layers[name]['our_multipliers'] == ours[name]
        assert layers[name]['dsp'] <= ours[name] and layers[name]['lut'] > 0, name
        assert layers[name]['hls4ml_multiplier_limit'] is None
    assert report['total']['lut'] > 0 and report['total']['ff'] > 0
    assert report['tool']['yosys'].startswith('Yosys ') and 'synth_xilinx' in report['tool']['flows']['xilinx']
    table = R.markdown(report)
    assert '| **total** |' in table and '| fc |' in table


def test_missing_yosys_names_the_debian_package(tmp_path, monkeypatch):
    monkeypatch.setenv('PATH', str(tmp_path))
    with pytest.raises(R.ToolMissing, match=r'Debian package `yosys`'):
        R.resource_report(tmp_path, tmp_path)


def _weights(spec, name):
    return next(la for la in spec.layers if la.name == name).arrays['weight']


@pytest.mark.parametrize('layer', ['conv1', 'conv2', 'fc1', 'fc2', 'logits'])
def test_hls4ml_budget_of_the_committed_lenet5(lenet5, layer):
    """parameters.h's multiplier_limit = weights - zero weights at ReuseFactor 1, counted here from the spec."""
    budgets = R.hls4ml_budgets(Path(lenet5.graph.config.get_output_dir()))
    w = _weights(lenet5.spec, layer)
    assert budgets[layer]['reuse_factor'] == lenet5.graph.graph[layer].get_attr('reuse_factor') == 1
    assert budgets[layer]['strategy'] == 'latency'
    assert budgets[layer]['multiplier_limit'] == w.size - np.count_nonzero(w == 0)
    assert budgets[layer]['n_in'] * budgets[layer]['n_out'] == w.size


def test_hls4ml_budget_with_a_reuse_factor(tmp_path):
    """DIV_ROUNDUP and integer division as the C++ compiler evaluates them, a field defined over lines."""
    (tmp_path / 'firmware').mkdir()
    (tmp_path / 'firmware' / 'parameters.h').write_text(
        '// hls-fpga-machine-learning insert layer-config\n// conv\n'
        'struct config3_mult : nnet::dense_config '
        '{\n    static const unsigned n_in = 25;\n    static const unsigned n_out = 6;\n'
        '    static const unsigned reuse_factor = 4;\n    static const unsigned strategy = nnet::resource;\n'
        '    static const unsigned n_zeros = 7;\n    static const unsigned multiplier_limit =\n'
        '        DIV_ROUNDUP(n_in * n_out, reuse_factor) - n_zeros / reuse_factor;\n};\n'
        '// relu\nstruct relu_config4 : nnet::activ_config {\n    static const unsigned n_in = 96;\n};\n'
    )
    budgets = R.hls4ml_budgets(tmp_path)
    assert budgets == {
        'conv': {
            'struct': 'config3_mult',
            'reuse_factor': 4,
            'strategy': 'resource',
            'multiplier_limit': 38 - 1,
            'n_in': 25,
            'n_out': 6,
        }
    }
