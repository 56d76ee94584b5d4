"""`lenet5-hls flow`: the whole flow in one command — model, hls4ml project + C simulation, pipeline
spec, golden model, RTL, cocotb simulation of N test images (MNIST or Fashion-MNIST) — and one summary of every figure.

Writes OUT/hls (HLS project, spec), OUT/rtl (Verilog), OUT/sim (simulation files), OUT/summary.json and
OUT/report (`lenet5-hls report` without synthesis).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from lenet5_hls.reports.compare import compare, reference_outputs
from lenet5_hls.reports.keras_parity import keras_ok, keras_parity, summary_line

log = logging.getLogger(__name__)


def run_flow(
    model_path: str,
    out: Path,
    images: int = 1000,
    sim: str = 'verilator',
    driver: str | None = None,
    data_dir: str | None = None,
    dataset: str | None = 'mnist',
    force: bool = False,
    waves: bool = False,
    jobs: int | None = None,
    device: str = 'generic',
    progress=log.info,
) -> dict:
    from lenet5_hls.core.fixed_point import from_float, to_float
    from lenet5_hls.frontend.convert import build_project, load_model
    from lenet5_hls.golden import GoldenModel
    from lenet5_hls.model.mnist import first_test_images
    from lenet5_hls.reports.report import accuracy_from_summary, write_report
    from lenet5_hls.rtl.generator import generate
    from lenet5_hls.verify.simulate import simulate

    out = Path(out)
    start = time.perf_counter()
    x, labels, source = first_test_images(images, data_dir, dataset)
    progress(f'[flow] {images} test images of {source}')
    keras_model = load_model(model_path)
    graph, spec = build_project(keras_model, out / 'hls', force=force, progress=progress)
    desc = generate(spec, out / 'rtl', force=force, device=device)
    fold = desc.folding
    progress(
        f'[flow] RTL: II {fold.ii_cycles} cycles/image, {fold.multipliers} multipliers, '
        f'latency {desc.timing.latency_cycles} cycles (analytical)'
    )
    golden = GoldenModel(spec)
    progress('[flow] quantized Keras, C simulation and golden model on the same images')
    outputs, speed = reference_outputs(keras_model, graph, golden, x)
    expected = from_float(outputs['golden'], spec.output.type)  # exact: the golden outputs are on the type's grid
    result = simulate(
        out / 'rtl' / f'{desc.top}.json',
        golden.quantize_input(x),
        expected,
        out / 'sim',
        sim=sim,
        driver=driver,
        waves=waves,
        jobs=jobs,
        progress=progress,
    )
    outputs['rtl'] = to_float(np.load(out / 'sim' / 'rtl_outputs.npy'), spec.output.type).reshape(images, -1)
    report = compare(outputs, labels)
    src = report['sources']
    progress('[flow] quantized Keras vs golden, per layer')
    parity = keras_parity(keras_model, spec, golden, x, outputs['keras'])
    summary = {
        'model': str(model_path),
        'dataset': dataset or 'mnist',
        'images': images,
        'image_source': source,
        'simulator': sim,
        'driver': result['driver'],
        'parallel_simulations': result['parallel_simulations'],
        'rtl_vs_golden_mismatches': src['rtl']['mismatches_vs_golden'],
        'golden_vs_csim_mismatches': src['csim']['mismatches_vs_golden'],
        'golden_vs_keras_mismatches': src['keras']['mismatches_vs_golden'],
        'keras_parity': parity,
        'output_elements_compared': report['elements'],
        'accuracy': {name: src[name]['accuracy'] for name in ('keras', 'csim', 'golden', 'rtl')},
        'ii_cycles': result['ii_cycles'],
        'latency_cycles': result['latency_cycles'],
        'analytical': {'ii_cycles': fold.ii_cycles, 'latency_cycles': desc.timing.latency_cycles},
        'multipliers': fold.multipliers,
        'rtl_images_per_s': result['rtl_images_per_s'],
        'csim_images_per_s': round(speed['csim'], 1),
        'golden_images_per_s': round(speed['golden'], 1),
        'keras_images_per_s': round(speed['keras'], 1),
        'rtl_build_seconds': result['build_seconds'],
        'rtl_build_reused': result['build_reused'],
        'rtl_run_seconds': result['run_seconds'],
        'wall_seconds': round(time.perf_counter() - start, 1),
        'comparison': report,
        'paths': {'hls': str(out / 'hls'), 'rtl': str(out / 'rtl'), 'sim': str(out / 'sim')},
        'report': str(out / 'report' / 'report.md'),
    }
    (out / 'summary.json').write_text(json.dumps(summary, indent=1) + '\n')
    (out / 'report').mkdir()
    write_report(
        out / 'report',
        spec,
        out / 'rtl',
        out / 'hls',
        x,
        labels,
        accuracy_from_summary(summary),
        model_path,
        source,
        flow=out,
        rtl_vs_golden_mismatches=summary['rtl_vs_golden_mismatches'],
        keras_parity=parity,
        progress=progress,
    )
    return summary


def flow_ok(s: dict) -> bool:
    """The comparison policy: RTL and C simulation must equal golden; Keras only where hls4ml claims it."""
    return (
        s['rtl_vs_golden_mismatches'] == 0
        and s['golden_vs_csim_mismatches'] == 0
        and keras_ok(s['keras_parity'], s['golden_vs_keras_mismatches'])
    )


def summary_table(s: dict) -> str:
    a = s['analytical']
    rows = [
        ('images', f'{s["images"]} ({s["image_source"]})'),
        ('simulator', f'{s["simulator"]} ({s["driver"]} driver)'),
        ('RTL vs golden', f'{s["rtl_vs_golden_mismatches"]} of {s["output_elements_compared"]} elements differ'),
        (
            'C simulation vs golden',
            f'{s["golden_vs_csim_mismatches"]} of {s["output_elements_compared"]} elements differ',
        ),
        (
            'Keras vs golden',
            summary_line(s['keras_parity'], s['golden_vs_keras_mismatches'], s['output_elements_compared']),
        ),
        ('accuracy', ', '.join(f'{k} {100 * v:.2f} %' for k, v in s['accuracy'].items())),
        ('II, cycles/image', f'{s["ii_cycles"]} measured, {a["ii_cycles"]} analytical'),
        ('latency, cycles', f'{s["latency_cycles"]} measured, {a["latency_cycles"]} analytical'),
        ('multipliers', str(s['multipliers'])),
        (
            'images/s',
            f'RTL simulation {s["rtl_images_per_s"]}, C simulation '
            f'{s["csim_images_per_s"]}, golden {s["golden_images_per_s"]}',
        ),
        (
            'wall time',
            f'{s["wall_seconds"]} s (RTL build {s["rtl_build_seconds"]} '
            f's{", reused" if s["rtl_build_reused"] else ""}, '
            f'RTL run {s["rtl_run_seconds"]} s)',
        ),
        ('report', s['report']),
    ]
    width = max(len(k) for k, _ in rows)
    return '\n'.join(f'  {k:{width}s}  {v}' for k, v in rows)
