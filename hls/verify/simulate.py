"""`lenet5-hls sim`: images through the accelerator RTL under Icarus or Verilator, every output element
scored against the golden model, with the measured II and latency.

Two drivers run the package's cocotb benches (verify/benches): `hdl` keeps stimulus and capture in Verilog
(file_io_tb; thousands of images, optimized Verilator build, images split over parallel
simulations) and `python` drives every beat from cocotbext-axi (network_tb; split-layout vendor RTL,
names the first diverging layer on a mismatch). Builds are cached by content (sim_runner).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from lenet5_hls.core.log import progress_bar
from lenet5_hls.rtl.description import RtlDescription
from lenet5_hls.verify.benches.config import BenchConfig
from lenet5_hls.verify.sim_runner import VERILATOR_FAST, SimulationError, build, default_cache_dir, run

log = logging.getLogger(__name__)

DRIVERS = ('hdl', 'python')


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
) -> dict:
    """Run raw `inputs` through the RTL described by desc_file; `expected` are the golden raw outputs.
    driver None: hdl for packed streams, python for the split layout. jobs: parallel simulations (hdl
    driver; default: one per core). Writes out_dir/rtl_outputs.npy (raw outputs) and sim_result.json."""
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
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    ii = desc.ii_cycles
    sources = desc.source_files()
    if driver == 'hdl':
        from lenet5_hls.verify.benches.file_io_bench import HDL_FILES, prepare, tb_verilog

        tb = out_dir / f'tb_{desc.top}.v'
        tb.write_text(tb_verilog(desc))
        top, module, test = f'tb_{desc.top}', 'lenet5_hls.verify.benches.file_io_tb', 'images_match_golden_file_io'
        sources = [*HDL_FILES, *sources, tb]
        # a shard costs a reset and a pipeline fill; waveforms come from one simulation
        jobs = 1 if waves else max(1, min(jobs or os.cpu_count() or 1, len(inputs) // 50 or 1))
    else:
        top, module, test, jobs = desc.top, 'lenet5_hls.verify.benches.network_tb', 'network_matches_golden', 1
    build_args = VERILATOR_FAST if sim == 'verilator' else []
    cache_dir = cache_dir or default_cache_dir()
    progress(
        f'[sim] {len(inputs)} images, {sim}, {driver} driver{", idle + backpressure" if stress else ""}: '
        f'building {top} (cache {cache_dir})'
    )
    start = time.perf_counter()
    build_dir, built, build_seconds = build(
        top, sim, sources, cache_dir, build_args=build_args, waves=waves, cache=True
    )
    progress(
        f'[sim] build {"took " + format(build_seconds, ".1f") + " s" if built else "reused"}; running '
        f'{jobs} simulation{"s" if jobs > 1 else ""}, logs in {out_dir}/sim*.log'
    )
    starts = [int(a[0]) for a in np.array_split(np.arange(len(inputs)), jobs)]
    ends = starts[1:] + [len(inputs)]

    def shard(k: int) -> dict:
        sdir = out_dir if jobs == 1 else out_dir / f'shard{k}'
        sdir.mkdir(parents=True, exist_ok=True)
        desc.copy_data_files(sdir)  # ROM images: $readmemh opens them relative to the run directory
        x, y = inputs[starts[k] : ends[k]], expected[starts[k] : ends[k]]
        np.savez(sdir / 'case.npz', inputs=x, expected=y)
        result_file = sdir / 'sim_result.json'
        result_file.unlink(missing_ok=True)
        config = BenchConfig(str(desc_file), str(sdir / 'case.npz'), str(sdir), result=str(result_file), stress=stress)
        plusargs = [config.write(sdir / 'bench.json')]
        if driver == 'hdl':
            plusargs += prepare(
                sdir,
                desc,
                x,
                idle=30 if stress else 0,
                backpressure=40 if stress else 0,
                seed=seed + k,
                stall_cycles=20 * ii + 5000 if ii else desc.timeout_cycles,
            )
        log_file = out_dir / (f'sim{k}.log' if jobs > 1 else 'sim.log')
        r = run(
            top,
            module,
            None,
            sim,
            sources,
            build_dir,
            run_dir=sdir,
            seed=seed + k,
            test_filter=test,
            waves=waves,
            plusargs=plusargs,
            build_args=build_args,
            log_file=log_file,
        )
        if not result_file.exists():
            tail = '\n'.join(log_file.read_text(errors='replace').splitlines()[-15:]) if log_file.exists() else ''
            raise SimulationError(
                f'simulation of images {starts[k]}..{ends[k] - 1} ended without a result; log {log_file}:\n{tail}'
            )
        return json.loads(result_file.read_text()) | {'outputs': np.load(sdir / 'rtl_outputs.npy'), 'failed': r.failed}

    run_start = time.perf_counter()
    parts = [None] * jobs
    with ThreadPoolExecutor(jobs) as pool, progress_bar(total=len(inputs), desc='simulating', unit='image') as bar:
        futures = {pool.submit(shard, k): k for k in range(jobs)}
        for done in as_completed(futures):
            k = futures[done]
            parts[k] = done.result()
            bar.update(ends[k] - starts[k])
    run_seconds = time.perf_counter() - run_start
    np.save(out_dir / 'rtl_outputs.npy', np.concatenate([p.pop('outputs') for p in parts]))
    for f in build_dir.glob('*.fst'):  # Icarus dumps into the (shared) build directory
        shutil.move(f, out_dir / f.name)
    result = _merge(parts, starts)
    result.update(
        {
            'simulator': sim,
            'driver': driver,
            'stress': stress,
            'parallel_simulations': jobs,
            'cocotb_tests_failed': sum(p['failed'] for p in parts),
            'build_reused': not built,
            'build_seconds': round(build_seconds, 1),
            'run_seconds': round(run_seconds, 1),
            'rtl_images_per_s': round(len(inputs) / run_seconds, 2),
            'analytical': {'ii_cycles': ii, 'latency_cycles': desc.timing.latency_cycles if desc.timing else None},
            'waves': [str(p) for p in (*out_dir.glob('*.vcd'), *out_dir.glob('*.fst'))] if waves else [],
            'wall_seconds': round(time.perf_counter() - start, 1),
        }
    )
    (out_dir / 'sim_result.json').write_text(json.dumps(result, indent=1) + '\n')
    return result
