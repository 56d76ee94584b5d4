"""`lenet5-hls sim`: images through the accelerator RTL under Icarus or Verilator, every output element
scored against the golden model, with the measured II and latency.

Two drivers run the package's cocotb benches (verify/benches): `hdl` keeps stimulus and capture in Verilog
(file_io_tb; thousands of images, optimized Verilator build, images split over parallel
simulations) and `python` drives every beat from cocotbext-axi (network_tb; split-layout vendor RTL,
names the first diverging layer on a mismatch). Shards are tasks of the execution layer: each carries the
RTL's files and its images and returns its figures, outputs and log; builds are cached by content on each
worker (sim_runner).
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np

from lenet5_hls.core.execution import pack_files, run_tasks, unpack_files, worker_slots
from lenet5_hls.rtl.description import RtlDescription
from lenet5_hls.verify.benches.config import BenchConfig
from lenet5_hls.verify.sim_runner import (
    SimulationError,
    build,
    check_simulator,
    default_cache_dir,
    network_build,
    run,
)

log = logging.getLogger(__name__)

DRIVERS = ('hdl', 'python')
DESCRIPTION = '.description.json'  # in a task's RTL bundle: the description, paths relative to the bundle


def _merge(parts: list[dict], starts: list[int]) -> dict:
    """One result from the shards' results (each shard's images start at its own reset)."""
    merged = dict(parts[0])
    for key in ('images', 'elements', 'mismatches', 'extra_beats'):
        merged[key] = sum(p[key] for p in parts)
    merged['mismatched_images'] = [start + i for p, start in zip(parts, starts) for i in p['mismatched_images']]
    iis = [p['ii_cycles'] for p in parts if p['ii_cycles'] is not None]
    merged['ii_cycles'] = float(np.median(iis)) if iis else None
    merged['latency_cycles'] = max(p['latency_cycles'] for p in parts)
    return merged


def rtl_bundle(desc_file: Path) -> dict[str, bytes]:
    """The description and every file it names, by path relative to their common directory (a task's input)."""
    desc = RtlDescription.load(desc_file)
    root, files = pack_files([desc_file, *desc.source_files(), *(desc.path(f.path) for f in desc.data_files)])
    files[DESCRIPTION] = json.dumps(desc.rebased(root).to_json()).encode()
    return files


def _shard(rtl: dict[str, bytes], case: dict, options: dict, seed: int) -> dict:
    """One simulation of `case` (raw inputs and expected outputs) on a worker, in a temporary directory: the
    scoreboard's figures, the raw outputs, the log text and any waveform files (name: bytes)."""
    sim, driver, stress, waves = options['sim'], options['driver'], options['stress'], options['waves']
    with tempfile.TemporaryDirectory(prefix='lenet5_sim_') as tmp:
        root = unpack_files(rtl, Path(tmp) / 'rtl')
        # the bundle's description holds its paths relative to root; saved there it resolves them
        desc = RtlDescription.from_json(json.loads(rtl[DESCRIPTION]), root)
        desc_file = desc.save(root / 'description.json')
        run_dir = Path(tmp) / 'run'
        run_dir.mkdir()
        desc.copy_data_files(run_dir)  # ROM images: $readmemh opens them relative to the run directory
        np.savez(run_dir / 'case.npz', **case)
        result_file = run_dir / 'sim_result.json'
        config = BenchConfig(
            str(desc_file), str(run_dir / 'case.npz'), str(run_dir), result=str(result_file), stress=stress
        )
        plusargs = [config.write(run_dir / 'bench.json')]
        sources = desc.source_files()
        if driver == 'hdl':
            from lenet5_hls.verify.benches.file_io_bench import HDL_FILES, prepare, public_modules, tb_verilog

            tb = root / f'tb_{desc.top}.v'
            tb.write_text(tb_verilog(desc))
            top, module, test = f'tb_{desc.top}', 'lenet5_hls.verify.benches.file_io_tb', 'images_match_golden_file_io'
            sources = [*HDL_FILES, *sources, tb]
            ii = desc.ii_cycles
            plusargs += prepare(
                run_dir,
                desc,
                case['inputs'],
                idle=30 if stress else 0,
                backpressure=40 if stress else 0,
                seed=seed,
                stall_cycles=20 * ii + 5000 if ii else desc.timeout_cycles,
            )
        else:
            top, module, test = desc.top, 'lenet5_hls.verify.benches.network_tb', 'network_matches_golden'
        build_args = []
        if sim == 'verilator':
            public = public_modules(desc) if driver == 'hdl' else [desc.top]
            sources, build_args = network_build(sources, public, root, options['optimize'])
        build_dir, built, build_seconds = build(
            top,
            sim,
            sources,
            options['cache_dir'] or default_cache_dir(),
            build_args=build_args,
            waves=waves,
            cache=True,
        )
        log_file = Path(tmp) / 'sim.log'

        def log_text() -> str:  # the temporary directory goes with the task: errors carry the log's end
            return log_file.read_text(errors='replace') if log_file.exists() else ''

        def failure(what: str) -> SimulationError:
            return SimulationError(f'{what}; the end of its log:\n' + '\n'.join(log_text().splitlines()[-15:]))

        try:
            r = run(
                top,
                module,
                None,
                sim,
                sources,
                build_dir,
                run_dir=run_dir,
                seed=seed,
                test_filter=test,
                waves=waves,
                plusargs=plusargs,
                build_args=build_args,
                log_file=log_file,
            )
        except SimulationError as e:
            raise failure(str(e)) from None
        if not result_file.exists():
            raise failure('simulation ended without a result')
        wave_files = [*run_dir.glob('*.vcd'), *build_dir.glob('*.fst')]  # Icarus dumps into the build directory
        figures = json.loads(result_file.read_text())
        wave_data = {f.name: f.read_bytes() for f in wave_files}
        for f in wave_files:  # not left in the shared build cache
            f.unlink()
        return figures | {
            'outputs': np.load(run_dir / 'rtl_outputs.npy'),
            'failed': r.failed,
            'built': built,
            'build_seconds': build_seconds,
            'log': log_text(),
            'waves': wave_data,
        }


def simulate(
    desc_file: Path,
    inputs: np.ndarray,
    expected: np.ndarray,
    out_dir: Path,
    sim: str = 'verilator',
    driver: str | None = None,
    stress: bool = False,
    waves: bool = False,
    seed: int = 1,
    jobs: int | None = None,
    cache_dir: Path | None = None,
    progress=log.info,
    optimize: bool = True,
) -> dict:
    """Run raw `inputs` through the RTL described by desc_file; `expected` are the golden raw outputs.
    driver None: hdl for packed streams, python for the split layout. jobs: simulations the images are split
    between (hdl driver; default: one per worker thread of the cluster). Writes out_dir/rtl_outputs.npy (raw
    outputs), sim_result.json and the simulations' logs. cache_dir: the builds' cache on the workers (default:
    each worker's default_cache_dir()). optimize False: Verilator compiles the model unoptimized, for a small
    model's few images (LeNet-5, 100 images, with every signal visible to VPI: -O0 build 102 s + run 136 s,
    -O2 218 s + 13 s; with only the bench's modules visible the -O2 make takes 50 s)."""
    desc_file = Path(desc_file).resolve()
    desc = RtlDescription.load(desc_file)
    split = any(len(p.lanes) > 1 for p in (desc.input, desc.output))
    driver = driver or ('python' if split else 'hdl')
    if driver not in DRIVERS:
        raise SimulationError(f'unknown driver {driver!r}; choose one of {", ".join(DRIVERS)}')
    if driver == 'hdl' and split:
        raise SimulationError(
            'the hdl driver needs packed streams (<name>_TDATA); this RTL has the split layout: use --driver python'
        )
    check_simulator(sim)
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    if driver == 'hdl':
        from lenet5_hls.verify.benches.file_io_bench import tb_verilog

        (out_dir / f'tb_{desc.top}.v').write_text(tb_verilog(desc))
        # a shard costs a reset and a pipeline fill; waveforms come from one simulation
        jobs = 1 if waves else max(1, min(jobs or worker_slots(), len(inputs) // 50 or 1))
    else:
        jobs = 1
    progress(
        f'[sim] {len(inputs)} images, {sim}, {driver} driver{", idle + backpressure" if stress else ""}: '
        f'{jobs} simulation{"s" if jobs > 1 else ""}, builds cached per worker ({cache_dir or default_cache_dir()}), '
        f'logs in {out_dir}/sim*.log'
    )
    start = time.perf_counter()
    starts = [int(a[0]) for a in np.array_split(np.arange(len(inputs)), jobs)]
    ends = starts[1:] + [len(inputs)]
    rtl = rtl_bundle(desc_file)
    options = {
        'sim': sim,
        'driver': driver,
        'stress': stress,
        'waves': waves,
        'cache_dir': cache_dir,
        'optimize': optimize,
    }
    tasks = [
        (rtl, {'inputs': inputs[a:b], 'expected': expected[a:b]}, options, seed + k)
        for k, (a, b) in enumerate(zip(starts, ends))
    ]
    parts = run_tasks(_shard, tasks, 'simulating', 'image', weights=[b - a for a, b in zip(starts, ends)])
    for k, p in enumerate(parts):
        (out_dir / (f'sim{k}.log' if jobs > 1 else 'sim.log')).write_text(p.pop('log'))
        for name, data in p.pop('waves').items():
            (out_dir / name).write_bytes(data)
    np.save(out_dir / 'rtl_outputs.npy', np.concatenate([p.pop('outputs') for p in parts]))
    result = _merge(parts, starts)
    build_seconds = max(p['build_seconds'] for p in parts)
    run_seconds = time.perf_counter() - start - build_seconds
    result.update(
        {
            'simulator': sim,
            'driver': driver,
            'stress': stress,
            'parallel_simulations': jobs,
            'cocotb_tests_failed': sum(p['failed'] for p in parts),
            'build_reused': not any(p['built'] for p in parts),
            'build_seconds': round(build_seconds, 1),
            'run_seconds': round(run_seconds, 1),
            'rtl_images_per_s': round(len(inputs) / max(run_seconds, 1e-3), 2),
            'analytical': {
                'ii_cycles': desc.ii_cycles,
                'latency_cycles': desc.timing.latency_cycles if desc.timing else None,
            },
            'waves': [str(p) for p in (*out_dir.glob('*.vcd'), *out_dir.glob('*.fst'))] if waves else [],
            'wall_seconds': round(time.perf_counter() - start, 1),
        }
    )
    del result['built']
    (out_dir / 'sim_result.json').write_text(json.dumps(result, indent=1) + '\n')
    return result
