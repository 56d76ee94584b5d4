"""Bit-accurate comparison of the model's outputs from every source: quantized Keras, hls4ml C
simulation, the golden model and the RTL simulation.

All sources are compared as real values of the output type (golden and RTL raw integers are scaled
exactly), element by element against the golden model; accuracy is the argmax against the labels.
"""

from __future__ import annotations

import time

import numpy as np

SOURCES = ('keras', 'csim', 'golden', 'rtl')


def reference_outputs(
    keras_model, graph, golden, x: np.ndarray, tasks: bool | None = None
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Outputs of quantized Keras, C simulation and golden model for real inputs x, and images/s of each
    (the C simulation's without the time its library took to compile on workers). Keras runs here; the C
    simulation and the golden model run as tasks over image ranges when tasks is True, or when None and
    the batch is large enough to gain from it (verify/reference_runs.py), else here."""
    from lenet5_hls.verify.reference_runs import csim_outputs, golden_outputs

    def csim(v):
        y, how = csim_outputs(graph, v, tasks)
        return y, how['build_seconds']

    runs = {
        'keras': lambda v: (keras_model.predict(v, batch_size=500, verbose=0), 0.0),
        'csim': csim,
        'golden': lambda v: (golden_outputs(golden, v, tasks), 0.0),
    }
    outputs, speed = {}, {}
    for name, fn in runs.items():
        start = time.perf_counter()
        y, build_seconds = fn(x)
        speed[name] = len(x) / (time.perf_counter() - start - build_seconds)
        outputs[name] = np.asarray(y, dtype=np.float64).reshape(len(x), -1)
    return outputs, speed


def compare(outputs: dict[str, np.ndarray], labels: np.ndarray | None = None) -> dict:
    """Mismatching elements of every source against the golden model (with the first one), and accuracy."""
    ref = outputs['golden']
    report = {'images': len(ref), 'elements': int(ref.size), 'sources': {}}
    for name, y in outputs.items():
        entry = {}
        if name != 'golden':
            if y.shape != ref.shape:
                raise ValueError(f'{name} outputs have shape {y.shape}, golden {ref.shape}: not the same images')
            bad = np.argwhere(y != ref)
            entry['mismatches_vs_golden'] = len(bad)
            if len(bad):
                i, j = bad[0]
                entry['first_mismatch'] = {
                    'image': int(i),
                    'element': int(j),
                    'golden': float(ref[i, j]),
                    name: float(y[i, j]),
                }
        if labels is not None:
            entry['accuracy'] = float(np.mean(y.argmax(1) == labels[: len(y)]))
        report['sources'][name] = entry
    return report


def table(report: dict) -> str:
    """The comparison as a plain-text table."""
    lines = [f'{"source":8s} {"mismatching elements vs golden":>32s} {"accuracy":>9s}']
    for name, e in report['sources'].items():
        mism = '(reference)' if name == 'golden' else f'{e["mismatches_vs_golden"]} of {report["elements"]}'
        acc = f'{100 * e["accuracy"]:.2f} %' if 'accuracy' in e else '-'
        lines.append(f'{name:8s} {mism:>32s} {acc:>9s}')
    return '\n'.join(lines)
