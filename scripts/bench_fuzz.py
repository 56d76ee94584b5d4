"""Benchmark: the fuzzing campaign. Draws --models random CNNs (seeds from --first-seed), takes each through
extraction and golden vs hls4ml C simulation, every --rtl-every-th extracted one through the RTL under
Verilator too, as tasks of the execution layer; writes the counts (tried, extracted, refused with reasons,
failed, elements compared, mismatches) and every case's record to JSON.

Usage: python scripts/bench_fuzz.py [--models 200] [--rtl-every 10] [--out build/bench_fuzz.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path


def _case(seed: int, images: int, rtl: bool) -> dict:
    from lenet5_hls.verify.fuzz import draw, run_case

    return run_case(draw(seed), images=images, rtl=rtl, rtl_images=10)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--models', type=int, default=200)
    p.add_argument('--first-seed', type=int, default=1000, help='seeds first..first+models-1 (the suite uses 0..21)')
    p.add_argument('--images', type=int, default=200, help='random inputs per model for the C simulation')
    p.add_argument('--rtl-every', type=int, default=10, help='every Nth seed also through the RTL (0: none)')
    p.add_argument('--scheduler', default=None, help='Dask scheduler address (default: a local cluster)')
    p.add_argument('--out', default='build/bench_fuzz.json')
    args = p.parse_args()

    import lenet5_hls  # noqa: F401 - fills the layer-kind registry
    from lenet5_hls.core.execution import run_tasks, session
    from lenet5_hls.verify.fuzz import summary

    seeds = range(args.first_seed, args.first_seed + args.models)
    tasks = [(s, args.images, bool(args.rtl_every) and (s - args.first_seed) % args.rtl_every == 0) for s in seeds]
    start = time.perf_counter()
    with session(args.scheduler):
        records = run_tasks(_case, tasks, 'fuzz', 'model')
    result = {
        'benchmark': 'fuzz',
        'seeds': [seeds.start, seeds.stop - 1],
        'images_per_model': args.images,
        'rtl_every': args.rtl_every,
        **summary(records),
        'wall_seconds': round(time.perf_counter() - start, 1),
        'machine': {'python': platform.python_version(), 'cpus': __import__('os').cpu_count()},
        'records': records,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + '\n')
    print(json.dumps({k: v for k, v in result.items() if k != 'records'}, indent=1))
    return 0 if result['failed'] == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
