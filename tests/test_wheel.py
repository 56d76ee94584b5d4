"""The built wheel alone runs the main flow: no file of the checkout is needed at run time.

The wheel is built from a copy of the checkout's packaging inputs (no build/ or egg-info left in the checkout),
installed with --no-deps into a fresh virtual environment outside the checkout, and the third-party packages
already installed in the project's environment are made importable through a .pth file that lists that
environment's site-packages (no network). A plain directory line in a .pth file is only appended to sys.path:
the .pth files inside that directory, among them the editable install's finder of lenet5_hls, are not
processed, which the test checks. Then `lenet5-hls flow` runs from a working directory outside the checkout,
under Icarus: the Verilator build of a fresh output directory is never cached (its ROM paths are absolute) and
costs more CPU time than Icarus simulating a few images.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import tomllib
import zipfile
from pathlib import Path

from lenet5_hls.cli import TENSORFLOW_NOISE

REPO = Path(__file__).resolve().parent.parent
IMAGES = 1  # the packaging is under test: one image's latency (the II, from 5 images on, is test_lenet5's)
SHIPPED = {'.py', '.v', '.keras', '.json'}  # modules, Verilog library and benches, the committed model and metrics
# run by the new environment's python: where lenet5_hls comes from, sys.path, and any editable-install finder
PROBE = """
import json, sys, lenet5_hls, lenet5_hls.model

print(json.dumps({
    'file': lenet5_hls.__file__, 'model': lenet5_hls.model.__file__, 'path': sys.path,
    'meta_path': [getattr(f, '__module__', '') for f in sys.meta_path],
    'modules': sorted(m for m in sys.modules if 'editable' in m),
}))
"""


def _package_dirs() -> dict[str, str]:
    """{package: folder} from pyproject.toml, e.g. {'lenet5_hls': 'hls', 'lenet5_hls.model': 'model'}."""
    return tomllib.loads((REPO / 'pyproject.toml').read_text())['tool']['setuptools']['package-dir']


def _copy_sources(dest: Path) -> Path:
    """pyproject.toml, its readme and license files, and the package folders it maps."""
    project = tomllib.loads((REPO / 'pyproject.toml').read_text())['project']
    dest.mkdir()
    for name in ['pyproject.toml', project['readme'], *project.get('license-files', [])]:
        shutil.copy2(REPO / name, dest / name)
    for name in sorted(set(_package_dirs().values())):
        shutil.copytree(REPO / name, dest / name, ignore=shutil.ignore_patterns('__pycache__', '*.pyc', 'sim_build'))
    return dest


def _expected_wheel_files(src: Path) -> set[str]:
    """Every module, Verilog file and model file under the mapped package folders, at its installed path."""
    expected = set()
    for package, folder in _package_dirs().items():
        for f in (src / folder).rglob('*'):
            if f.suffix in SHIPPED and f.is_file():
                expected.add('/'.join([*package.split('.'), *f.relative_to(src / folder).parts]))
    return expected


def _run(cmd, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f'{cmd} exited {result.returncode}\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}'
    return result


def _inside(path: str, root: Path) -> bool:
    return Path(path).resolve().is_relative_to(root)


def test_installed_wheel_runs_the_flow(tmp_path):
    timings = {}
    t = time.monotonic()

    # 1. the wheel, without setuptools warnings
    src = _copy_sources(tmp_path / 'src')
    wheel_dir = tmp_path / 'wheel'
    pip = [sys.executable, '-m', 'pip', '--disable-pip-version-check', '--no-cache-dir']
    build = _run([*pip, 'wheel', '--no-deps', '--no-build-isolation', '-w', wheel_dir, src], cwd=tmp_path)
    warnings = re.findall(r'^.*\w+Warning\b.*$', build.stdout + build.stderr, re.MULTILINE)
    assert not warnings, 'building the wheel warned:\n' + '\n'.join(warnings)
    (wheel,) = wheel_dir.glob('lenet5_hls-*.whl')
    names = zipfile.ZipFile(wheel).namelist()
    packaged = {n for n in names if '.dist-info/' not in n}
    expected = _expected_wheel_files(src)
    assert packaged == expected, f'missing: {sorted(expected - packaged)}, not expected: {sorted(packaged - expected)}'
    assert {'lenet5_hls/model/lenet5.keras', 'lenet5_hls/verify/hdl/axis_file_source.v'} <= packaged
    assert any(n.endswith('.dist-info/licenses/LICENSE') for n in names)
    assert not [n for n in packaged if Path(n).name.startswith('test_') or Path(n).name == 'conftest.py']
    timings['wheel'] = time.monotonic() - t

    # 2. a fresh environment with the wheel alone, then the project environment's packages through a .pth
    venv = tmp_path / 'venv'
    _run([sys.executable, '-m', 'venv', '--without-pip', venv])
    python = venv / 'bin' / 'python'
    _run([*pip, '--python', python, 'install', '--no-deps', '--no-index', wheel])
    purelib = _run([python, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])']).stdout.strip()
    site_packages = Path(purelib)
    assert _inside(str(site_packages), venv)
    deps = dict.fromkeys(sysconfig.get_paths()[key] for key in ('purelib', 'platlib'))
    (site_packages / '_lenet5_hls_test_deps.pth').write_text(''.join(f'{d}\n' for d in deps))
    timings['venv'] = time.monotonic() - t

    work = tmp_path / 'work'  # the working directory: outside the checkout, empty
    work.mkdir()
    path = [str(venv / 'bin')] + [p for p in os.environ.get('PATH', '').split(os.pathsep) if p and not _inside(p, REPO)]
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV')}
    env.update(PATH=os.pathsep.join(path), VIRTUAL_ENV=str(venv))

    # 3. the package comes from the new environment, and the checkout's editable finder is not installed
    probe = _run([python, '-c', PROBE], cwd=work, env=env)
    info = json.loads(probe.stdout)
    assert _inside(info['file'], venv) and _inside(info['model'], venv), info
    assert not any('editable' in m for m in info['meta_path']) and not info['modules'], info
    assert not any(p and _inside(p, REPO) and not any(_inside(p, Path(d)) for d in deps) for p in info['path']), info

    # 4. the flow, from the entry point script, outside the checkout
    out = tmp_path / 'flow'
    cmd = [venv / 'bin' / 'lenet5-hls', 'flow', '--images', str(IMAGES), '--sim', 'icarus', '--out', out]
    flow = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    timings['flow'] = time.monotonic() - t
    print('seconds since start:', {k: round(v, 1) for k, v in timings.items()})
    assert flow.returncode == 0, f'flow exited {flow.returncode}\n{flow.stdout[-6000:]}\n{flow.stderr[-6000:]}'
    s = json.loads((out / 'summary.json').read_text())
    elements = 10 * IMAGES
    assert s['images'] == IMAGES and s['simulator'] == 'icarus' and s['output_elements_compared'] == elements
    assert s['rtl_vs_golden_mismatches'] == s['golden_vs_csim_mismatches'] == s['golden_vs_keras_mismatches'] == 0
    assert set(s['accuracy']) == {'keras', 'csim', 'golden', 'rtl'} and len(set(s['accuracy'].values())) == 1
    assert s['ii_cycles'] is None and s['analytical']['ii_cycles'] == 784
    assert s['latency_cycles'] == s['analytical']['latency_cycles'] == 3122
    assert s['multipliers'] == 406 and s['rtl_images_per_s'] > 0 and s['csim_images_per_s'] > 0
    assert f'RTL vs golden           0 of {elements} elements differ' in flow.stdout
    # the console is ours: no TensorFlow / absl / oneDNN start-up notices, no warnings pages
    noise = [line for line in flow.stderr.splitlines() if TENSORFLOW_NOISE.search(line) or 'Warning' in line]
    assert not noise, noise
    assert not any(work.iterdir()), 'the flow wrote into its working directory'
