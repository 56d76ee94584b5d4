"""Benchmark: the execution layer with 1 and with 2 Dask workers, side by side in one run.

Two workloads, each run on a local cluster of 1 worker and then of 2 (one thread each), from scratch every
time (a fresh output directory and an empty Yosys cache; the Verilator build is made once beforehand,
outside the timing, as a user's cache would hold it):
- a design sweep with synthesis (training per bit-width pair, RTL per point, Yosys per distinct stage);
- an RTL simulation of 10,000 MNIST images of the committed LeNet-5 (Verilator), split into one shard per
  worker.
The JSON gives each wall time, the speed-ups, and checks that both runs computed the same thing (every
sweep figure; every simulated output element, all equal to the golden model's).
A third workload (`--only references`) times the reference models of the committed LeNet-5 on
--reference-images images: the C simulation and the golden model in the client, then as tasks on 2 workers,
the C simulation with an empty library cache (a compile per worker) and again with it filled; all outputs
must be equal.
Usage: python scripts/bench_cluster.py [--out build/bench_cluster.json] [--sim-images 10000] [--data-dir DIR]
       [--only sweep|simulation|references] [--reference-images 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

WORKERS = (1, 2)


def _progress(message: str) -> None:
    print(message, file=sys.stderr)


def bench_sweep(tmp: Path, bits, rates, epochs: int, train_images: int, data_dir) -> dict:
    from lenet5_hls.core.execution import session
    from lenet5_hls.reports.sweep import run_sweep

    runs = {}
    for n in WORKERS:
        out = tmp / f'sweep-{n}'
        out.mkdir()
        os.environ['LENET5_CACHE'] = str(tmp / f'cache-{n}')  # every Yosys run made again, none from the cache
        start = time.perf_counter()
        with session(workers=n):
            result = run_sweep(out, bits, rates, epochs, 200, train_images, True, None, data_dir, 1, _progress)
        runs[n] = (time.perf_counter() - start, result)
        assert result['synthesis']['cached_runs'] == 0
    figures = [[{k: v for k, v in p.items() if k != 'rtl'} for p in r['points']] for _, r in runs.values()]
    one, two = runs[1][0], runs[2][0]
    return {
        'what': f'lenet5-hls sweep, bits {bits}, target II {rates}, {epochs} epoch(s) on {train_images} images, '
        'Yosys synth_xilinx of every distinct stage',
        'points': len(figures[0]),
        'yosys_seconds': {f'{n}_worker{"s" * (n > 1)}': r['synthesis']['wall_seconds'] for n, (_, r) in runs.items()},
        'wall_seconds': {'1_worker': round(one, 1), '2_workers': round(two, 1)},
        'speedup': round(one / two, 3),
        'same_figures': figures[0] == figures[1],
    }


def bench_simulation(tmp: Path, images: int, data_dir) -> dict:
    from lenet5_hls.core.execution import session
    from lenet5_hls.frontend.convert import convert, load_model
    from lenet5_hls.frontend.extract import extract
    from lenet5_hls.golden import GoldenModel
    from lenet5_hls.rtl.generator import generate
    from lenet5_hls.verify.simulate import simulate

    model_path = Path(__file__).resolve().parents[1] / 'model' / 'lenet5.keras'
    spec = extract(convert(load_model(model_path), output_dir=None))
    desc = generate(spec, tmp / 'rtl')
    golden = GoldenModel(spec)
    raw = golden.quantize_input(_images(images, data_dir))
    expected = golden.run(raw)
    desc_file = tmp / 'rtl' / f'{desc.top}.json'
    with session(workers=1):  # the build, cached for the timed runs
        simulate(desc_file, raw[:2], expected[:2], tmp / 'warm-up', jobs=1, progress=_progress)
    runs = {}
    for n in WORKERS:
        start = time.perf_counter()
        with session(workers=n):
            result = simulate(desc_file, raw, expected, tmp / f'sim-{n}', jobs=n, progress=_progress)
        runs[n] = (time.perf_counter() - start, result, np.load(tmp / f'sim-{n}' / 'rtl_outputs.npy'))
    one, two = runs[1][0], runs[2][0]
    return {
        'what': f'Verilator simulation of {images} MNIST images (test split first) through the committed LeNet-5',
        'images': images,
        'output_elements': int(expected.size),
        'mismatches_vs_golden': {f'{n}_worker{"s" * (n > 1)}': runs[n][1]['mismatches'] for n in WORKERS},
        'same_outputs': bool(np.array_equal(runs[1][2], runs[2][2])),
        'wall_seconds': {'1_worker': round(one, 1), '2_workers': round(two, 1)},
        'images_per_second': {'1_worker': round(images / one, 1), '2_workers': round(images / two, 1)},
        'speedup': round(one / two, 3),
    }


def _images(images: int, data_dir) -> np.ndarray:
    """The first `images` MNIST images as model inputs, a short test split topped up from the training one."""
    from lenet5_hls.model.mnist import load_mnist, to_model_input

    data = load_mnist(data_dir)
    return to_model_input(np.concatenate([data.x_test, data.x_train])[:images])


def bench_references(tmp: Path, images: int, data_dir) -> dict:
    from lenet5_hls.core.execution import session
    from lenet5_hls.frontend.convert import build_project, load_model
    from lenet5_hls.golden import GoldenModel
    from lenet5_hls.verify.reference_runs import csim_outputs, golden_outputs

    model_path = Path(__file__).resolve().parents[1] / 'model' / 'lenet5.keras'
    graph, spec = build_project(load_model(model_path), tmp / 'hls', progress=_progress)
    golden = GoldenModel(spec)
    x = _images(images, data_dir)
    seconds, outputs, builds = {}, {}, {}

    def timed(name, fn):
        start = time.perf_counter()
        y = fn()
        seconds[name] = time.perf_counter() - start
        if isinstance(y, tuple):
            y, builds[name] = y[0], y[1]['builds']
        outputs[name] = y

    timed('csim_client', lambda: csim_outputs(graph, x, tasks=False))
    timed('golden_client', lambda: golden_outputs(golden, x, tasks=False))
    os.environ['LENET5_CACHE'] = str(tmp / 'reference-cache')  # empty: the first tasks compile the library
    with session(workers=2):
        timed('csim_tasks_empty_cache', lambda: csim_outputs(graph, x, tasks=True))
        timed('csim_tasks_cached', lambda: csim_outputs(graph, x, tasks=True))
        timed('golden_tasks', lambda: golden_outputs(golden, x, tasks=True))
    return {
        'what': f'C simulation and golden model of the committed LeNet-5 on {images} MNIST images, in the client '
        f'and as tasks on 2 local workers',
        'images': images,
        'seconds': {k: round(v, 2) for k, v in seconds.items()},
        'images_per_second': {k: round(images / v, 1) for k, v in seconds.items()},
        'libraries_compiled': builds,
        'same_outputs': all(np.array_equal(y, outputs['csim_client']) for y in outputs.values()),
    }


def main() -> int:
    from lenet5_hls.reports.sweep import parse_bits, parse_rates

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default='build/bench_cluster.json')
    ap.add_argument('--bits', default='4:4,8:8', help='sweep bit-width pairs (default 4:4,8:8)')
    ap.add_argument('--target-ii', default='3136', help='sweep target IIs (default 3136)')
    ap.add_argument('--epochs', type=int, default=1)
    ap.add_argument('--train-images', type=int, default=6000)
    ap.add_argument('--sim-images', type=int, default=10000)
    ap.add_argument('--data-dir', help='directory with the MNIST IDX files (default: $LENET5_DATA_DIR, ...)')
    ap.add_argument('--reference-images', type=int, default=1000)
    ap.add_argument('--only', choices=('sweep', 'simulation', 'references'), help='run one of the workloads')
    args = ap.parse_args()
    result = {
        'benchmark': 'execution layer: 1 vs 2 Dask workers (local cluster, one thread each)',
        'machine': {'cpus': os.cpu_count(), 'platform': platform.platform(), 'python': platform.python_version()},
    }
    ok = True
    with tempfile.TemporaryDirectory(prefix='bench-cluster-') as tmp:
        tmp = Path(tmp)
        if args.only in (None, 'sweep'):
            bits, rates = parse_bits(args.bits), parse_rates(args.target_ii)
            result['sweep'] = bench_sweep(tmp, bits, rates, args.epochs, args.train_images, args.data_dir)
            ok &= result['sweep']['same_figures']
        if args.only in (None, 'simulation'):
            sim = result['simulation'] = bench_simulation(tmp, args.sim_images, args.data_dir)
            ok &= sim['same_outputs'] and not any(sim['mismatches_vs_golden'].values())
        if args.only in (None, 'references'):
            result['references'] = bench_references(tmp, args.reference_images, args.data_dir)
            ok &= result['references']['same_outputs']
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + '\n')
    print(json.dumps(result, indent=1))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
