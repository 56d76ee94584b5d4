"""Vendor RTL mode: port discovery of Vivado HLS / Vitis HLS tops (hls/vendor_ports.py) and the
whole-network cocotb testbench (test_lenet5) driving a top with the vendor interface.

Without the vendor tool, the Vivado HLS split layout is produced by wrapping our generated top
(rtl_tests/split_layout_wrapper.py): discovery runs on its non-ANSI header, and the golden check,
backpressure and no-X-after-reset tests of test_lenet5 run through the description it returns.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from harness import assert_lint_clean, bench_plusarg, run_cocotb
from lenet5_hls.core.fixed_point import FixedType
from lenet5_hls.core.spec import Port, Spec
from lenet5_hls.rtl.description import DataFile, Lane, Reset, RtlDescription, StreamPort
from lenet5_hls.verify.sim_runner import network_build
from lenet5_hls.verify.vendor_ports import VendorRtlError, describe_vendor_rtl
from split_layout_wrapper import wrapper_verilog, write_split_layout

# 3 elements of 5 bits per input beat (packed TDATA 16 bits, split lanes 8 bits), 2 x 12-bit outputs
TINY = Spec('tiny', Port('x_in', (4, 3), FixedType(5, 1), 3), Port('y_out', (2,), FixedType(12, 4), 2), [])

# What Vivado HLS 2020.1 writes for an hls4ml io_stream top (abridged): attribute, non-ANSI header, split streams.
VIVADO_SPLIT = """\
`timescale 1 ns / 1 ps
(* CORE_GENERATION_INFO="tiny,hls_ip_2020_1,{HLS_INPUT_TYPE=cxx,HLS_INPUT_FLOAT=0}" *)
module tiny (
        x_in_V_data_0_V_TDATA, x_in_V_data_0_V_TVALID, x_in_V_data_0_V_TREADY,
        x_in_V_data_1_V_TDATA, x_in_V_data_1_V_TVALID, x_in_V_data_1_V_TREADY,
        x_in_V_data_2_V_TDATA, x_in_V_data_2_V_TVALID, x_in_V_data_2_V_TREADY,
        y_out_V_data_0_V_TDATA, y_out_V_data_0_V_TVALID, y_out_V_data_0_V_TREADY,
        y_out_V_data_1_V_TDATA, y_out_V_data_1_V_TVALID, y_out_V_data_1_V_TREADY,
        ap_clk, ap_rst_n, ap_start, ap_done, ap_ready, ap_idle
);
parameter    ap_const_logic_1 = 1'b1;
input  [7:0] x_in_V_data_0_V_TDATA;   // element 0
input   x_in_V_data_0_V_TVALID;
output   x_in_V_data_0_V_TREADY;
input  [7:0] x_in_V_data_1_V_TDATA;
input   x_in_V_data_1_V_TVALID;
output   x_in_V_data_1_V_TREADY;
input  [7:0] x_in_V_data_2_V_TDATA;
input   x_in_V_data_2_V_TVALID;
output   x_in_V_data_2_V_TREADY;
output  [15:0] y_out_V_data_0_V_TDATA;
output   y_out_V_data_0_V_TVALID;
input   y_out_V_data_0_V_TREADY;
output  [15:0] y_out_V_data_1_V_TDATA;
output   y_out_V_data_1_V_TVALID;
input   y_out_V_data_1_V_TREADY;
input   ap_clk;
input   ap_rst_n;
input   ap_start;
output   ap_done;
output   ap_ready;
output   ap_idle;
reg ap_done;
/* input [3:0] not_a_port; */
always @ (*) begin
    ap_done = ap_const_logic_1;
end
tiny_rom w_rom_U (.clk(ap_clk));
endmodule
"""


def _ports(style: str, ports: list[tuple[str, int, str]], top: str = 'tiny') -> str:
    """A module header with (direction, width, name) ports, ANSI or non-ANSI."""
    decl = [f'{d} wire {f"[{w - 1}:0] " if w > 1 else ""}{n}' for d, w, n in ports]
    if style == 'ansi':
        return f'module {top} #(parameter N = $clog2(8)) (\n    ' + ',\n    '.join(decl) + '\n);\nendmodule\n'
    return f'module {top} ({", ".join(n for _, _, n in ports)});\n' + ''.join(f'{d};\n' for d in decl) + 'endmodule\n'


CTRL = [
    ('input', 1, 'ap_clk'),
    ('input', 1, 'ap_rst_n'),
    ('input', 1, 'ap_start'),
    ('output', 1, 'ap_done'),
    ('output', 1, 'ap_idle'),
    ('output', 1, 'ap_ready'),
]
PACKED = [
    ('input', 16, 'x_in_TDATA'),
    ('input', 1, 'x_in_TVALID'),
    ('output', 1, 'x_in_TREADY'),
    ('output', 24, 'y_out_TDATA'),
    ('output', 1, 'y_out_TVALID'),
    ('input', 1, 'y_out_TREADY'),
]


def _split(name: str, n: int, width: int, direction: str) -> list[tuple[str, int, str]]:
    back = 'output' if direction == 'input' else 'input'
    return [
        p
        for i in range(n)
        for p in (
            (direction, width, f'{name}_V_data_{i}_V_TDATA'),
            (direction, 1, f'{name}_V_data_{i}_V_TVALID'),
            (back, 1, f'{name}_V_data_{i}_V_TREADY'),
        )
    ]


SPLIT = _split('x_in', 3, 8, 'input') + _split('y_out', 2, 16, 'output')


def _describe(tmp_path, text: str, **kw) -> RtlDescription:
    (tmp_path / 'tiny.v').write_text(text)
    return describe_vendor_rtl(tmp_path, TINY, **kw)


@pytest.mark.parametrize(
    'text, layout, reset, control',
    [
        (VIVADO_SPLIT, 'split', 'ap_rst_n', ['ap_start', 'ap_done', 'ap_idle', 'ap_ready']),
        (_ports('ansi', CTRL + PACKED), 'packed', 'ap_rst_n', ['ap_start', 'ap_done', 'ap_idle', 'ap_ready']),
        (_ports('non-ansi', CTRL + PACKED), 'packed', 'ap_rst_n', ['ap_start', 'ap_done', 'ap_idle', 'ap_ready']),
        (_ports('ansi', [('input', 1, 'ap_clk'), ('input', 1, 'ap_rst')] + SPLIT), 'split', 'ap_rst', []),
    ],
    ids=['vivado-nonansi-split', 'vitis-ansi-packed', 'nonansi-packed', 'ansi-split-ctrl-none-ap-rst'],
)
def test_discovery(tmp_path, text, layout, reset, control):
    desc = _describe(tmp_path, text)
    assert (desc.top, desc.source, desc.clock, desc.control) == ('tiny', 'vendor', 'ap_clk', control)
    assert desc.reset == Reset(reset, active_low=reset == 'ap_rst_n')
    assert desc.timeout_cycles >= 100 * 4 and desc.folding is None and desc.stages == []
    i_port, o_port = desc.input, desc.output
    assert (i_port.beats_per_image, i_port.element_width, o_port.elements_per_beat) == (4, 5, 2)
    assert i_port.layout == o_port.layout == layout
    if layout == 'packed':
        assert (i_port.lanes[0].tdata_width, o_port.lanes[0].tdata_width) == (16, 24)
        assert o_port.lanes == [Lane('y_out', 'y_out_TDATA', 'y_out_TVALID', 'y_out_TREADY', 24, 2)]
    else:
        assert [ln.tdata_width for ln in i_port.lanes] == [8, 8, 8] and [ln.elements for ln in o_port.lanes] == [1, 1]
        assert o_port.lanes[1] == Lane(
            'y_out_V_data_1_V', 'y_out_V_data_1_V_TDATA', 'y_out_V_data_1_V_TVALID', 'y_out_V_data_1_V_TREADY', 16, 1
        )
    assert RtlDescription.load(desc.save(tmp_path / 'desc' / 'vendor.json')).input == i_port


def _without(ports, name):
    return [p for p in ports if p[2] != name]


def _replace(ports, name, port):
    return [port if p[2] == name else p for p in ports]


@pytest.mark.parametrize(
    'text, message',
    [
        (_ports('ansi', CTRL + PACKED, top='other'), r"no module 'tiny' in the 1 Verilog file\(s\)"),
        (_ports('ansi', CTRL + _without(PACKED, 'x_in_TVALID')), r'stream x_in .*: port x_in_TVALID missing'),
        (
            _ports('ansi', CTRL + _replace(PACKED, 'x_in_TDATA', ('input', 8, 'x_in_TDATA'))),
            r'x_in .*packed layout \(Vitis HLS\): 3 x 5 bits padded to a multiple '
            r'of 8: port x_in_TDATA is input of 8 bit\(s\), expected input of 16',
        ),
        (
            _ports('non-ansi', CTRL + _replace(PACKED, 'y_out_TREADY', ('output', 1, 'y_out_TREADY'))),
            r'port y_out_TREADY is output of 1 bit\(s\), expected input of 1',
        ),
        (
            _ports('ansi', CTRL + _split('x_in', 2, 8, 'input') + PACKED[3:]),
            r'split layout \(Vivado HLS\): expected lanes x_in_V_data_<i>_V for i = 0..2, found i = 0, 1',
        ),
        (
            _ports('ansi', CTRL + _split('x_in', 3, 8, 'input') + _split('y_out', 2, 12, 'output')),
            r'y_out .*one 12-bit element padded to a multiple of 8: port '
            r'y_out_V_data_0_V_TDATA is output of 12 bit\(s\), expected output of 16',
        ),
        (
            _ports('ansi', CTRL + PACKED[:3] + [('output', 24, 'y_TDATA')]),
            r'stream y_out .*unknown layout, neither y_out_TDATA '
            r'\(Vitis HLS\) nor y_out_V_data_<i>_V_TDATA \(Vivado HLS\)',
        ),
        (
            _ports('ansi', _without(CTRL, 'ap_rst_n') + PACKED),
            r'module tiny: no reset port \(expected ap_rst_n or ap_rst\)',
        ),
        (
            _ports('ansi', CTRL + [('input', 1, 'ap_continue')] + PACKED),
            r'input port\(s\) ap_continue unknown to the testbench',
        ),
        (
            'module tiny (a, ap_clk);\ninput ap_clk;\nendmodule\n',
            r'module tiny: no input/output declaration for port\(s\) a',
        ),
    ],
    ids=[
        'no-top',
        'missing-tvalid',
        'packed-width',
        'tready-direction',
        'split-lane-count',
        'split-width',
        'unknown-layout',
        'no-reset',
        'undriven-input',
        'undeclared-port',
    ],
)
def test_discovery_errors(tmp_path, text, message):
    with pytest.raises(VendorRtlError, match=message):
        _describe(tmp_path, text)


def test_top_override_files_and_rom_data(tmp_path):
    """top= names another module; every *.v is compiled; ROMs read relatively are listed for copying."""
    (tmp_path / 'w_rom.v').write_text(
        'module w_rom; reg [7:0] ram [0:3];\ninitial $readmemh("./w_rom.dat", ram);\nendmodule\n'
    )
    (tmp_path / 'w_rom.dat').write_text('00\n01\n02\n03\n')
    (tmp_path / 'notes.txt').write_text('not verilog')
    desc = _describe(tmp_path, _ports('non-ansi', CTRL + PACKED, top='wrapped'), top='wrapped')
    assert (desc.top, desc.top_file) == ('wrapped', 'tiny.v')
    assert desc.source_files() == [tmp_path / 'tiny.v', tmp_path / 'w_rom.v']
    assert desc.data_files == [DataFile('w_rom.dat', 'w_rom.dat')]
    desc.copy_data_files(tmp_path / 'run')
    assert (tmp_path / 'run' / 'w_rom.dat').read_text() == '00\n01\n02\n03\n'
    (tmp_path / 'w_rom.dat').unlink()
    with pytest.raises(
        VendorRtlError, match=r"w_rom.v reads './w_rom.dat' \(\$readmem\), but .*w_rom.dat does not exist"
    ):
        _describe(tmp_path, _ports('non-ansi', CTRL + PACKED))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(VendorRtlError, match=r'no Verilog \(\*.v\) files'):
        describe_vendor_rtl(tmp_path / 'empty', TINY)


# ---------------------------------------------------------------------------------------------
# The split-layout wrapper: lint, then the whole network through vendor mode
# ---------------------------------------------------------------------------------------------


# A packed top for TINY (register slice x -> y, widths as Vitis HLS pads them): exercises padded split lanes.
TINY_PACKED = """\
`default_nettype none
module tiny_packed (
    input wire ap_clk, input wire ap_rst_n,
    input wire ap_start, output wire ap_done, output wire ap_idle, output wire ap_ready,
    input wire [15:0] x_in_TDATA, input wire x_in_TVALID, output wire x_in_TREADY,
    output wire [23:0] y_out_TDATA, output wire y_out_TVALID, input wire y_out_TREADY
);
reg [23:0] data;
reg valid;
assign x_in_TREADY = !valid || y_out_TREADY;
always @(posedge ap_clk) begin
    if (!ap_rst_n) valid <= 1'b0;
    else if (x_in_TREADY) valid <= x_in_TVALID;
    if (x_in_TREADY) data <= {x_in_TDATA[11:0], x_in_TDATA[11:0]};
end
wire unused_bits = ^x_in_TDATA[15:12];
assign {y_out_TDATA, y_out_TVALID} = {data, valid};
assign {ap_done, ap_idle, ap_ready} = {1'b0, !valid, ap_start};
endmodule
"""


def test_split_wrapper_lints_clean_with_padding(tmp_path):
    ports = StreamPort.packed(TINY.input, 'in'), StreamPort.packed(TINY.output, 'out')
    (tmp_path / 'tiny.v').write_text(wrapper_verilog('tiny', ['ap_start', 'ap_done', 'ap_idle', 'ap_ready'], *ports))
    (tmp_path / 'tiny_packed.v').write_text(TINY_PACKED)
    assert_lint_clean('tiny', [tmp_path / 'tiny.v', tmp_path / 'tiny_packed.v'])
    found = describe_vendor_rtl([tmp_path / 'tiny.v'], TINY)
    assert len(found.input.lanes) == 3 and found.output.lanes[0].tdata_width == 16


@pytest.fixture(scope='module')
def lenet5_split(lenet5_rtl, lenet5_spec, tmp_path_factory):
    """(vendor description of the split-layout LeNet-5, its JSON with our analytical II added, JSON without)."""
    desc, _ = lenet5_rtl
    d = tmp_path_factory.mktemp('vendor')
    vendor = describe_vendor_rtl(write_split_layout(desc, d / 'syn_verilog'), lenet5_spec)
    plain = vendor.save(d / 'vendor.json')
    with_ii = dataclasses.replace(vendor, folding=desc.folding).save(d / 'vendor_ii.json')  # test_lenet5's II check
    return vendor, with_ii, plain


def test_lenet5_split_wrapper_lints_clean(lenet5_split):
    vendor, _, _ = lenet5_split
    assert vendor.input.layout == vendor.output.layout == 'split'
    assert len(vendor.output.lanes) == 10 and vendor.output.lanes[0].tdata_width == 24
    assert_lint_clean(vendor.top, vendor.source_files())


# Per cocotb run of network_matches_golden: (images, stress). Verilator (slow set: its own build of the
# network): the II check on 8 images, backpressure on 3 (10 output lanes each pausing at random: slow).
# Icarus: 1 image with idle cycles and backpressure (test_cli_sim's split-layout test streams 2 back to back).
@pytest.mark.parametrize(
    'sim, runs',
    [
        pytest.param('verilator', ((8, False), (3, True)), marks=pytest.mark.slow),
        ('icarus', ((1, True),)),
    ],
    ids=['verilator', 'icarus-1-image'],
)
def test_lenet5_through_vendor_mode(lenet5_split, lenet5_rtl, sim, runs, tmp_path):
    vendor, with_ii, plain = lenet5_split
    _, case = lenet5_rtl
    data = np.load(case)

    def run(test, desc_json, images=None, stress=False):
        cut = tmp_path / f'case_{images}.npz'
        np.savez(cut, inputs=data['inputs'][:images], expected=data['expected'][:images])
        plusarg = bench_plusarg(desc_json, cut, f'{test}-{images}-{stress}', stress=stress)
        sources, build_args = vendor.source_files(), None
        if sim == 'verilator':
            sources, build_args = network_build(sources, [vendor.top], tmp_path, optimize=False)
        run_cocotb(
            vendor.top,
            'test_lenet5',
            sim,
            'vendor-split',
            {},
            sources,
            plusargs=[plusarg],
            test_filter=test,
            prepare=vendor.copy_data_files,
            build_args=build_args,
        )  # ROMs read from the cwd

    for images, stress in runs:
        run('network_matches_golden', with_ii, images, stress)
    run('outputs_known_after_reset', plain)
