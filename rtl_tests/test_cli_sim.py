"""The simulation commands end to end: `sim` on split-layout vendor RTL, their clear errors (exit 2, nothing
half-written) and Ctrl-C (exit 130 at once, nothing half-written, no simulator left running). `lenet5-hls flow`
with every figure of summary.json: tests/test_wheel.py, from the installed wheel."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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


@pytest.mark.parametrize('target', ['process-group', 'process'], ids=['ctrl-c', 'kill-int'])
def test_interrupt_stops_at_once(lenet5_rtl, lenet5_dir, tmp_path, target):
    """SIGINT while two Icarus simulations run (each would take minutes): a terminal's Ctrl-C reaches the whole
    process group, `kill -INT` only the command; either way the simulators end with it."""
    out, err_file = tmp_path / 'sim', tmp_path / 'stderr'
    cmd = [sys.executable, '-m', 'lenet5_hls.cli', 'sim', '--spec', str(lenet5_dir / 'hls' / 'spec.json')]
    cmd += ['--rtl', str(lenet5_dir / 'rtl'), '--images', '200', '--sim', 'icarus', '--jobs', '2', '--out', str(out)]
    with err_file.open('w') as err:
        proc = subprocess.Popen(  # SIGINT as a terminal leaves it (pytest-xdist's workers ignore it)
            cmd, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True, preexec_fn=default_sigint
        )
    tools = []
    try:
        deadline = time.monotonic() + 120  # both simulations running (builds included; a loaded machine is slow)
        while len(tools) < 2 and time.monotonic() < deadline:
            assert proc.poll() is None, err_file.read_text()
            time.sleep(0.2)
            tools = [pid for pid, name in descendants(proc.pid).items() if name == 'vvp']
        assert len(tools) == 2 and proc.poll() is None, f'{len(tools)} of 2 simulators running after 120 s'
        time.sleep(1)  # into their images
        sent = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT) if target == 'process-group' else proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130
        assert time.monotonic() - sent < 10
        alive = [pid for pid in tools if running(pid)]
    finally:  # nothing outlives a failed test
        for pid in [proc.pid, *tools]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait()
    err = err_file.read_text()
    assert err.rstrip().endswith('lenet5-hls sim: interrupted') and 'Traceback' not in err
    assert not out.exists()
    assert not alive, f'simulators {alive} still running'


def default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def running(pid: int) -> bool:
    """Alive, not a zombie (an orphan's exit status may wait for a container's init)."""
    try:
        return Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def descendants(root: int) -> dict[int, str]:
    """{pid: command name} of every process below root, from /proc."""
    parents, names = {}, {}
    for stat in Path('/proc').glob('[0-9]*/stat'):
        try:
            text = stat.read_text()
        except OSError:  # ended meanwhile
            continue
        pid, rest = int(text.split(' ', 1)[0]), text.rsplit(')', 1)[1].split()
        names[pid], parents[pid] = text[text.index('(') + 1 : text.rindex(')')], int(rest[1])
    found, frontier = {}, [root]
    while frontier:
        children = [pid for pid, ppid in parents.items() if ppid in frontier and pid not in found]
        found.update({pid: names[pid] for pid in children})
        frontier = children
    return found
