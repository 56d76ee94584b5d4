"""The simulation commands end to end: `sim` on split-layout vendor RTL, and their clear errors (exit 2, nothing
half-written). `lenet5-hls flow` with every figure of summary.json: tests/test_wheel.py, from the installed wheel."""

import json

import pytest

from lenet5_hls.cli import main
from split_layout_wrapper import write_split_layout


def test_sim_vendor_split_layout(lenet5_rtl, lenet5_dir, tmp_path, capsys):
    """Vivado HLS split layout (our RTL wrapped): found by port discovery, driven by the python driver."""
    vendor = write_split_layout(lenet5_rtl[0], tmp_path / 'syn' / 'verilog')
    spec = str(lenet5_dir / 'hls' / 'spec.json')
    out = tmp_path / 'sim'
    assert (
        main(
            ['sim', '--spec', spec, '--vendor-rtl', str(vendor), '--images', '2', '--sim', 'icarus', '--out', str(out)]
        )
        == 0
    )
    assert '[sim] 2 images: 0 of 20 output elements differ' in capsys.readouterr().out
    result = json.loads((out / 'sim_result.json').read_text())
    assert result['driver'] == 'python' and result['mismatches'] == 0 and result['analytical']['ii_cycles'] is None
    assert (
        main(['sim', '--spec', spec, '--vendor-rtl', str(vendor), '--driver', 'hdl', '--out', str(tmp_path / 'x')]) == 2
    )
    assert 'split layout: use --driver python' in capsys.readouterr().err
    assert not (tmp_path / 'x').exists()


@pytest.mark.parametrize(
    'args, message',
    [
        (['--rtl', '{tmp}/nowhere'], 'myproject.json not found: --rtl must be a directory written by `lenet5-hls rtl`'),
        (['--rtl', '{tmp}', '--images', '0'], '--images must be 1..'),
        (['--vendor-rtl', '{tmp}/nowhere'], 'nowhere'),
    ],
    ids=['no-rtl-description', 'no-images', 'no-vendor-dir'],
)
def test_sim_bad_input(lenet5_spec, lenet5_dir, tmp_path, capsys, args, message):
    """lenet5_spec: the spec file must exist, so that each error below is the one tested."""
    out = tmp_path / 'out'
    argv = ['sim', '--spec', str(lenet5_dir / 'hls' / 'spec.json'), '--out', str(out)] + [
        a.format(tmp=tmp_path) for a in args
    ]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_sim_waves_icarus(lenet5_rtl, lenet5_dir, tmp_path, capsys):
    """--waves: the simulator's waveform lands in the output directory, not in the shared build cache."""
    out = tmp_path / 'sim'
    argv = [
        'sim',
        '--spec',
        str(lenet5_dir / 'hls' / 'spec.json'),
        '--rtl',
        str(lenet5_dir / 'rtl'),
        '--images',
        '1',
        '--sim',
        'icarus',
        '--waves',
        '--out',
        str(out),
    ]
    assert main(argv) == 0
    assert f'[sim] waveforms: {out / "tb_myproject.fst"}' in capsys.readouterr().out
    assert (out / 'tb_myproject.fst').stat().st_size > 1000
