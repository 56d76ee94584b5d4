"""Benchmark: golden model images/s against hls4ml C-simulation images/s on the same MNIST test images.

Both run in this process on the same inputs, alternating, several repetitions; the medians and their
ratio go to a JSON file together with the element-by-element mismatch count between the two.
Usage: python -m lenet5_hls.bench_golden [--images 2000] [--out build/bench_golden.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _timed(fn, x) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    y = fn(x)
    return time.perf_counter() - start, y


def run(model_path: str, images: int, repeats: int, data_dir: str | None) -> dict:
    from lenet5_hls.hls.convert import build_project, load_model
    from lenet5_hls.model.golden import GoldenModel
    from lenet5_hls.model.mnist import load_mnist, to_model_input

    data = load_mnist(data_dir)
    if images > len(data.x_test):
        raise ValueError(f'--images {images} but the test split has only {len(data.x_test)} images')
    x = to_model_input(data.x_test[:images]).astype(np.float64)
    with tempfile.TemporaryDirectory(prefix='bench-golden-') as tmp:
        graph, spec = build_project(load_model(model_path), Path(tmp) / 'hls', progress=lambda m: print(m, file=sys.stderr))
        golden = GoldenModel(spec)

        def csim(v):
            return np.asarray(graph.predict(v), dtype=np.float64).reshape(len(v), -1)

        golden.predict(x[:8]), csim(x[:8])  # warm up: imports, library load
        t_golden, t_csim = [], []
        for r in range(repeats):
            print(f'[bench] repetition {r + 1}/{repeats}', file=sys.stderr)
            tg, yg = _timed(golden.predict, x)
            tc, yc = _timed(csim, x)
            t_golden.append(tg)
            t_csim.append(tc)
    mismatches = int(np.sum(yg != yc))
    golden_ips = images / statistics.median(t_golden)
    csim_ips = images / statistics.median(t_csim)
    return {
        'images': images,
        'repeats': repeats,
        'output_elements_compared': int(yg.size),
        'golden_vs_csim_mismatches': mismatches,
        'golden_images_per_s': round(golden_ips, 1),
        'csim_images_per_s': round(csim_ips, 1),
        'speedup_golden_over_csim': round(golden_ips / csim_ips, 2),
        'golden_seconds': [round(t, 3) for t in t_golden],
        'csim_seconds': [round(t, 3) for t in t_csim],
        'target_speedup': 5.0,
        'machine': {'python': platform.python_version(), 'processor': platform.processor() or platform.machine()},
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--model', default=str(Path(__file__).resolve().parent.parent / 'model' / 'lenet5.keras'))
    p.add_argument('--images', type=int, default=2000)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--data-dir', default=None, help='MNIST IDX directory (default: $LENET5_DATA_DIR, ...)')
    p.add_argument('--out', default='build/bench_golden.json')
    args = p.parse_args(argv)
    result = run(args.model, args.images, args.repeats, args.data_dir)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + '\n')
    print(json.dumps({k: v for k, v in result.items() if not k.endswith('seconds')}, indent=2))
    return 0 if result['golden_vs_csim_mismatches'] == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
