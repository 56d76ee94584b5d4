"""`lenet5-hls sweep`: design points over weight/activation bit widths and target rates, each with its
accuracy, multipliers, Yosys LUTs and II, and the Pareto front of the trade-off.

A bit-width pair is a LeNet-5 trained with HGQ2 at those widths (quantization-aware, seeded, the same
recipe as `lenet5-hls train`), converted by hls4ml and extracted to a pipeline spec; its accuracy is the
golden model's on the test images (bit-exact with the C simulation; the quantized Keras model is
compared element by element as a check). A target rate is a folding (`lenet5-hls rtl --target-ii`).
Every step runs as tasks on the session's Dask cluster (core/execution.py): one per bit-width pair
(training to spec, sweep_job.py), one per design point (RTL), one per distinct Yosys run; the client
writes what they return.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from lenet5_hls.core.errors import UserError

log = logging.getLogger(__name__)

OBJECTIVES = {'accuracy': +1, 'lut': -1, 'ii_cycles': -1}  # +1: larger is better
OBJECTIVES_NO_SYNTH = {'accuracy': +1, 'multipliers': -1, 'ii_cycles': -1}
PARETO_NOTE = (
    'A point is on the Pareto front when no other point is at least as good in accuracy, LUTs and II '
    'and better in one of them (without synthesis: multipliers instead of LUTs). The dashed line of the '
    'plot is the front of accuracy and area alone, for when the rate does not matter.'
)


class SweepError(UserError):
    """Bad sweep options (bit widths, rates), or a tool the sweep needs is missing."""


def parse_bits(text: str) -> list[tuple[int, int]]:
    """'4:4,6:8' -> [(4, 4), (6, 8)]: weight bits : activation bits per pair."""
    pairs = []
    for item in text.split(','):
        w, sep, a = item.strip().partition(':')
        if not (sep and w.isdigit() and a.isdigit()):
            raise SweepError(f'--bits item {item!r}: expected WEIGHT:ACTIVATION bit widths, e.g. --bits 4:4,6:6,8:8')
        if not (2 <= int(w) <= 16 and 2 <= int(a) <= 16):
            raise SweepError(f'--bits item {item!r}: bit widths must be 2..16 (sign + at least one magnitude bit)')
        pairs.append((int(w), int(a)))
    if len(set(pairs)) != len(pairs):
        raise SweepError(f'--bits {text!r} names a pair twice')
    return pairs


def parse_rates(text: str) -> list[int]:
    """'784,3136' -> [784, 3136] target IIs in cycles per image."""
    items = [s.strip() for s in text.split(',')]
    if not all(s.isdigit() and int(s) >= 1 for s in items):
        raise SweepError(f'--target-ii {text!r}: expected positive cycle counts per image, e.g. --target-ii 784,3136')
    if len(set(items)) != len(items):
        raise SweepError(f'--target-ii {text!r} names a rate twice')
    return [int(s) for s in items]


def pareto_front(points: list[dict], objectives: dict[str, int]) -> list[bool]:
    """For each point: True when no other point dominates it (>= in every objective, > in one)."""

    def dominates(a, b):
        signed = [(s * a[k], s * b[k]) for k, s in objectives.items()]
        return all(x >= y for x, y in signed) and any(x > y for x, y in signed)

    return [not any(dominates(q, p) for q in points if q is not p) for p in points]


TASK_THREADS = 1  # a task is one core: a Dask worker runs one task per thread


def _pair_task(arrays: dict[str, np.ndarray], job: dict) -> dict[str, bytes]:
    """sweep_job for one bit-width pair, in a child process on the worker; its output files as bytes."""
    from lenet5_hls.core.execution import run_child
    from lenet5_hls.reports.sweep_job import OUTPUTS

    env = dict(
        os.environ,
        KERAS_BACKEND='tensorflow',
        TF_CPP_MIN_LOG_LEVEL='3',
        TF_NUM_INTRAOP_THREADS=str(TASK_THREADS),
        TF_NUM_INTEROP_THREADS=str(TASK_THREADS),
        OMP_NUM_THREADS=str(TASK_THREADS),
        PYTHONWARNINGS='ignore',
    )
    with tempfile.TemporaryDirectory(prefix='lenet5_sweep_') as tmp:
        work = Path(tmp)
        (work / 'job.json').write_text(json.dumps(job))
        np.savez(work / 'data.npz', **arrays)
        cmd = [sys.executable, '-m', 'lenet5_hls.reports.sweep_job', str(work)]
        proc = run_child(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = '\n'.join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise SweepError(
                f'w{job["weight_bits"]}a{job["activation_bits"]}: training and conversion failed '
                f'(exit {proc.returncode}):\n{tail}'
            )
        return {name: (work / name).read_bytes() for name in OUTPUTS}


def _rtl_task(spec, target_ii: int) -> dict[str, bytes]:
    """The RTL of one design point, generated on the worker; its files as bytes."""
    from lenet5_hls.core.execution import pack_tree
    from lenet5_hls.rtl.generator import generate

    with tempfile.TemporaryDirectory(prefix='lenet5_rtl_') as tmp:
        generate(spec, Path(tmp) / 'rtl', target_ii=target_ii)
        return pack_tree(Path(tmp) / 'rtl')


def _training_set(data, train_images: int | None):
    from lenet5_hls.model.mnist import Dataset

    if train_images is None:
        return data
    if not 1 <= train_images <= len(data.x_train):
        raise SweepError(
            f'--train-images must be 1..{len(data.x_train)} (training images of {data.source}), got {train_images}'
        )
    return Dataset(
        data.x_train[:train_images], data.y_train[:train_images], data.x_test, data.y_test, data.source, subset=True
    )


def _train_pairs(out: Path, data, bits, epochs: int, images: int, seed: int, progress) -> dict[str, dict]:
    """Every bit-width pair trained, converted and measured as a task; OUT/wWaA/ holds its model and spec."""
    from lenet5_hls.core.execution import run_tasks, unpack_files

    arrays = {'x_train': data.x_train, 'y_train': data.y_train, 'x_test': data.x_test, 'y_test': data.y_test}
    jobs = [
        dict(
            weight_bits=w,
            activation_bits=a,
            epochs=epochs,
            seed=seed,
            images=images,
            source=data.source,
            subset=data.subset,
        )
        for w, a in bits
    ]
    models: list[dict] = [{}] * len(bits)  # in the order of bits, whatever order the tasks finish in

    def done(k: int, files: dict[str, bytes]) -> None:
        w, a = bits[k]
        result = json.loads(files.pop('result.json'))
        unpack_files(files, out / f'w{w}a{a}')
        metrics, acc = result['metrics'], result['accuracy']
        models[k] = {
            'weight_bits': w,
            'activation_bits': a,
            'keras_test_accuracy': metrics['test_accuracy'],
            'train_seconds': metrics['train_seconds'],
            **acc,
        }
        progress(
            f'[sweep] w{w}a{a}: quantized Keras {100 * metrics["test_accuracy"]:.2f} % on {metrics["test_images"]} '
            f'test images (trained in {metrics["train_seconds"]} s), golden {100 * acc["accuracy"]:.2f} % on '
            f'{images} images, quantized Keras vs golden {acc["keras_vs_golden_mismatches"]} of {acc["elements"]} '
            'elements differ'
        )

    progress(f'[sweep] training {len(bits)} LeNet-5 ({epochs} epochs, seed {seed}), one task per bit-width pair')
    run_tasks(_pair_task, [(job,) for job in jobs], 'training', 'model', done=done, shared=(arrays,))
    return {f'w{w}a{a}': model for (w, a), model in zip(bits, models)}


def run_sweep(
    out: Path,
    bits: list[tuple[int, int]],
    rates: list[int],
    epochs: int = 3,
    images: int = 1000,
    train_images: int | None = None,
    synth: bool = True,
    jobs: int | None = None,
    data_dir=None,
    seed: int = 1,
    progress=log.info,
    dataset: str = 'mnist',
) -> dict:
    """Train, convert, fold, generate and (synth) synthesize every design point, each step as tasks on the
    session's cluster; write OUT/sweep.json, OUT/sweep.md and OUT/sweep.png. OUT must exist and be empty.
    jobs: Yosys runs at a time (default: as many as the cluster runs)."""
    from lenet5_hls.core import spec as spec_mod
    from lenet5_hls.core.execution import run_tasks, unpack_files, worker_slots
    from lenet5_hls.model.mnist import head_of_test_split, load_dataset
    from lenet5_hls.reports.resources import ResourceError, resource_reports, yosys_exe
    from lenet5_hls.rtl.description import RtlDescription

    start = time.monotonic()
    if synth:
        yosys_exe()  # before any training
    data = load_dataset(dataset, data_dir)
    head_of_test_split(data, images)  # checks --images
    data = _training_set(data, train_images)
    models = _train_pairs(out, data, bits, epochs, images, seed, progress)
    specs = {name: spec_mod.load(out / name / 'spec.json') for name in models}
    grid = [(name, ii) for name in models for ii in rates]
    rtl = run_tasks(_rtl_task, [(specs[name], ii) for name, ii in grid], 'rtl', 'design')
    points = []
    for (name, ii), files in zip(grid, rtl):
        rtl_dir = unpack_files(files, out / name / f'ii{ii}')
        desc = RtlDescription.load(rtl_dir / f'{specs[name].project_name}.json')
        fold, m = desc.folding, models[name]
        points.append(
            {
                'point': f'{name}-ii{ii}',
                'weight_bits': m['weight_bits'],
                'activation_bits': m['activation_bits'],
                'target_ii': ii,
                'ii_cycles': fold.ii_cycles,
                'latency_cycles': desc.timing.latency_cycles,
                'multipliers': fold.multipliers,
                'accuracy': m['accuracy'],
                'rtl': str(rtl_dir),
            }
        )
        progress(f'[sweep] {name}-ii{ii}: II {fold.ii_cycles} cycles, {fold.multipliers} multipliers')
    tool = None
    if synth:
        jobs = jobs or worker_slots()
        progress(f'[sweep] Yosys synth_xilinx of {len(points)} designs, {jobs} at a time')
        try:
            reports = resource_reports([(Path(p['rtl']), None) for p in points], jobs, progress)
        except ResourceError as e:
            raise SweepError(f'synthesis failed: {e}') from e
        tool = reports[0]['tool']
        for p, rep in zip(points, reports):
            p.update({k: rep['total'][k] for k in ('lut', 'ff', 'dsp', 'bram')})
    objectives = OBJECTIVES if synth else OBJECTIVES_NO_SYNTH
    for p, on_front in zip(points, pareto_front(points, objectives)):
        p['pareto'] = on_front
    result = {
        'images': images,
        'image_source': data.source,
        'epochs': epochs,
        'seed': seed,
        'train_images': len(data.x_train),
        'objectives': objectives,
        'pareto_note': PARETO_NOTE,
        'models': models,
        'points': points,
        'synthesis': tool,
        'wall_seconds': round(time.monotonic() - start, 1),
    }
    (out / 'sweep.json').write_text(json.dumps(result, indent=1) + '\n')
    plot(result, out / 'sweep.png')
    (out / 'sweep.md').write_text(markdown(result))
    progress(table(result))
    progress(f'[sweep] {out / "sweep.md"} ({result["wall_seconds"]} s)')
    return result


COLUMNS = [
    ('point', 'point'),
    ('W bits', 'weight_bits'),
    ('A bits', 'activation_bits'),
    ('target II', 'target_ii'),
    ('II', 'ii_cycles'),
    ('latency', 'latency_cycles'),
    ('multipliers', 'multipliers'),
    ('LUT', 'lut'),
    ('FF', 'ff'),
    ('DSP48E1', 'dsp'),
    ('BRAM36', 'bram'),
    ('accuracy %', 'accuracy'),
    ('Pareto', 'pareto'),
]


def _cell(key: str, value) -> str:
    from lenet5_hls.reports.resources import fmt_count

    if key == 'accuracy':
        return f'{100 * value:.2f}'
    if key == 'pareto':
        return '**yes**' if value else ''
    return fmt_count(value) if not isinstance(value, str) else value


def table(result: dict) -> str:
    """Markdown table of the design points, Pareto points marked."""
    from lenet5_hls.reports.report import markdown_table

    cols = [(c, k) for c, k in COLUMNS if any(k in p for p in result['points'])]
    return markdown_table([c for c, _ in cols], [[_cell(k, p.get(k)) for _, k in cols] for p in result['points']])


def markdown(result: dict) -> str:
    synth = result['synthesis']
    how = (
        f'LUT/FF/DSP48E1/BRAM36: {synth["yosys"]}, `synth_xilinx -family xc7` of every stage, summed '
        f'({synth["wall_seconds"]} s with {synth["jobs"]} processes'
        + (f', {synth["cached_runs"]} runs from the cache' if synth.get('cached_runs') else '')
        + ').'
        if synth
        else 'Synthesis skipped (--no-synth).'
    )
    intro = (
        f'{len(result["points"])} design points: HGQ2 LeNet-5 trained {result["epochs"]} epochs (seed '
        f'{result["seed"]}, {result["train_images"]} training images) per weight:activation bit-width pair, folded '
        f"for each target II. Accuracy: golden model (bit-exact with hls4ml's C simulation) on the first "
        f'{result["images"]} test images of {result["image_source"]}. II and latency: analytical cycles of the '
        f'generated RTL (equal to simulation, see the README). {how}'
    )
    return (
        '\n\n'.join(
            [
                '# LeNet-5 design sweep',
                intro,
                '![trade-off](sweep.png)',
                table(result),
                result['pareto_note'],
                'Quantized Keras vs golden, per model: '
                + ', '.join(
                    f'{name} {m["keras_vs_golden_mismatches"]} of {m["elements"]} elements differ'
                    for name, m in result['models'].items()
                )
                + '.',
            ]
        )
        + '\n'
    )


def plot(result: dict, path: Path) -> None:
    """Accuracy against LUTs (or multipliers) and LUTs against II, Pareto points ringed and labelled
    (points at the same place share one label); dashed, the two-objective accuracy-vs-area front."""
    from matplotlib.figure import Figure

    points = result['points']
    area = 'lut' if result['synthesis'] else 'multipliers'
    area_label = 'LUTs (Yosys synth_xilinx)' if area == 'lut' else 'multipliers'
    fig = Figure(figsize=(12, 5.5))
    left, right = fig.subplots(1, 2)
    markers = dict(zip(sorted({p['target_ii'] for p in points}), 'os^Dvp*hX<>'))
    pairs = dict.fromkeys((p['weight_bits'], p['activation_bits']) for p in points)
    colors = {pair: f'C{i}' for i, pair in enumerate(pairs)}
    for ax, xy in ((left, lambda p: (p[area], 100 * p['accuracy'])), (right, lambda p: (p['ii_cycles'], p[area]))):
        labels = {}
        for p in points:
            ax.scatter(
                *xy(p),
                marker=markers[p['target_ii']],
                color=colors[p['weight_bits'], p['activation_bits']],
                s=60,
                zorder=2,
            )
            if p['pareto']:
                ax.scatter(*xy(p), s=220, facecolors='none', edgecolors='red', linewidths=1.5, zorder=3)
            labels.setdefault(xy(p), []).append(p)
        for i, (at, group) in enumerate(labels.items()):  # alternately above and below: neighbours stay legible
            ax.annotate(
                ', '.join(p['point'] for p in group),
                at,
                textcoords='offset points',
                xytext=(7, 5 - 15 * (i % 2)),
                fontsize=7,
                fontweight='bold' if any(p['pareto'] for p in group) else 'normal',
            )
        ax.grid(alpha=0.3)
    front = sorted(
        (p[area], 100 * p['accuracy']) for p, on in zip(points, pareto_front(points, {'accuracy': +1, area: -1})) if on
    )
    left.step(*zip(*front), where='post', color='red', linestyle='--', linewidth=1, zorder=1)
    left.set(xlabel=area_label, ylabel='accuracy, %', title='accuracy vs area')
    right.set(xlabel='II, cycles per image', ylabel=area_label, title='area vs rate')
    handles = [left.scatter([], [], color=c, label=f'w{w}a{a}') for (w, a), c in colors.items()]
    handles += [left.scatter([], [], marker=m, color='gray', label=f'target II {ii}') for ii, m in markers.items()]
    handles.append(
        left.scatter([], [], s=220, facecolors='none', edgecolors='red', label='Pareto front (accuracy, area, II)')
    )
    handles += left.plot([], [], color='red', linestyle='--', linewidth=1, label='accuracy-vs-area front (II ignored)')
    fig.legend(handles=handles, loc='lower center', ncol=min(len(handles), 5), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(path, dpi=100)
