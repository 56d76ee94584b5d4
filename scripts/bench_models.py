"""Benchmark: LeNet-5 as users write it, through the whole flow. Four float Keras models written here, as a
new user would (not the committed ones): the textbook LeNet-5 (average pooling, C5 conv, tanh, softmax),
d2l's sigmoid LeNet on Fashion-MNIST, a CNN with `keras.layers.ReLU()` layers and Conv+BatchNormalization+
ReLU blocks; an HGQ2 CNN with a QUnaryFunctionLUT; plus the committed HGQ2 lenet5-classic and d2l. Each
written model is trained briefly (seeded), then `flow` runs on the first --images test images of its
dataset; the JSON holds every flow's mismatch counts, the Keras parity report and the exit status the
command would give.

Usage: python scripts/bench_models.py [--images 200] [--epochs 1] [--out build/bench_models.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


def textbook(keras):
    layers = keras.layers
    return [
        layers.Conv2D(6, 5, padding='same', activation='relu', name='c1'),
        layers.AveragePooling2D(2, name='s2'),
        layers.Conv2D(16, 5, activation='relu', name='c3'),
        layers.AveragePooling2D(2, name='s4'),
        layers.Conv2D(120, 5, activation='relu', name='c5'),
        layers.Flatten(name='flat'),
        layers.Dense(84, activation='tanh', name='f6'),
        layers.Dense(10, activation='softmax', name='out'),
    ]


def d2l(keras):
    layers = keras.layers
    return [
        layers.Conv2D(6, 5, padding='same', activation='sigmoid', name='conv1'),
        layers.AveragePooling2D(2, name='pool1'),
        layers.Conv2D(16, 5, activation='sigmoid', name='conv2'),
        layers.AveragePooling2D(2, name='pool2'),
        layers.Flatten(name='flat'),
        layers.Dense(120, activation='sigmoid', name='fc1'),
        layers.Dense(84, activation='sigmoid', name='fc2'),
        layers.Dense(10, name='out'),
    ]


def relu_layers(keras):
    layers = keras.layers
    return [
        layers.Conv2D(8, 3, name='conv1'),
        layers.ReLU(name='relu1'),
        layers.MaxPooling2D(2, name='pool1'),
        layers.Conv2D(16, 3, name='conv2'),
        layers.ReLU(name='relu2'),
        layers.MaxPooling2D(2, name='pool2'),
        layers.Flatten(name='flat'),
        layers.Dense(10, name='out'),
    ]


def batchnorm(keras):
    layers = keras.layers
    return [
        layers.Conv2D(8, 3, name='conv1'),
        layers.BatchNormalization(name='bn1'),
        layers.ReLU(name='relu1'),
        layers.MaxPooling2D(2, name='pool1'),
        layers.Conv2D(16, 3, name='conv2'),
        layers.BatchNormalization(name='bn2'),
        layers.ReLU(name='relu2'),
        layers.MaxPooling2D(2, name='pool2'),
        layers.Flatten(name='flat'),
        layers.Dense(32, name='fc'),
        layers.BatchNormalization(name='bn3'),
        layers.ReLU(name='relu3'),
        layers.Dense(10, name='out'),
    ]


def hgq2_unary_lut(keras):
    """An HGQ2 CNN with a lookup table of its own (QUnaryFunctionLUT, here SiLU) and an HGQ2 tanh."""
    from hgq.config import QuantizerConfig, QuantizerConfigScope
    from hgq.layers import QConv2D, QDense, QMaxPool2D

    from lenet5_hls.verify.fuzz import unary_lut

    # by name: a Keras activation survives saving the model, a Python function does not
    lut = unary_lut('silu', 'silu_lut', [1, 2, 4], [1, 1, 6])
    pixels = QuantizerConfig('kif', 'datalane', k0=0, i0=0, f0=8, trainable=False, heterogeneous_axis=())
    with QuantizerConfigScope(place='datalane', default_q_type='kbi', q_type='kbi', b0=7, heterogeneous_axis=()):
        return [
            QConv2D(6, 5, activation='tanh', iq_conf=pixels, name='conv1'),
            QMaxPool2D(2, name='pool1'),
            lut,
            QConv2D(12, 5, activation='relu', name='conv2'),
            QMaxPool2D(2, name='pool2'),
            keras.layers.Flatten(name='flat'),
            QDense(10, name='out'),
        ]


# name -> (layers, dataset, whether the model ends in a softmax)
FLOAT_MODELS = {
    'textbook-lenet5': (textbook, 'mnist', True),
    'd2l-float': (d2l, 'fashion-mnist', False),
    'relu-layers': (relu_layers, 'mnist', False),
    'conv-batchnorm-relu': (batchnorm, 'mnist', False),
    'hgq2-unary-lut': (hgq2_unary_lut, 'mnist', False),  # not a float model: HGQ2, trained the same way
}
COMMITTED = {'lenet5-classic': 'mnist', 'd2l': 'fashion-mnist'}


def train_float(name: str, path: Path, epochs: int, data_dir: str | None) -> float:
    import keras

    from lenet5_hls.model.mnist import load_dataset, to_model_input

    layers, dataset, probabilities = FLOAT_MODELS[name]
    keras.utils.set_random_seed(1)
    data = load_dataset(dataset, data_dir if dataset == 'mnist' else None)
    model = keras.Sequential([keras.Input((28, 28, 1)), *layers(keras)], name=name.replace('-', '_'))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=not probabilities)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss=loss, metrics=['accuracy'])
    model.fit(to_model_input(data.x_train), data.y_train, batch_size=128, epochs=epochs, verbose=0)
    model.save(path)
    _, accuracy = model.evaluate(to_model_input(data.x_test), data.y_test, verbose=0)
    return float(accuracy)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--images', type=int, default=200)
    p.add_argument('--epochs', type=int, default=1, help='training epochs of each float model')
    p.add_argument('--data-dir', default=None, help='MNIST IDX directory (default: $LENET5_DATA_DIR, ...)')
    p.add_argument('--only', default=None, help='comma-separated model names')
    p.add_argument('--out', default='build/bench_models.json')
    args = p.parse_args()

    import lenet5_hls  # noqa: F401 - fills the layer-kind registry
    from lenet5_hls.cli import resolve_model
    from lenet5_hls.core.execution import session
    from lenet5_hls.flow import flow_ok, run_flow

    names = [*FLOAT_MODELS, *COMMITTED]
    names = [n for n in names if args.only is None or n in args.only.split(',')]
    results = {}
    with tempfile.TemporaryDirectory(prefix='bench-models-') as tmp, session():
        for name in names:
            start = time.perf_counter()
            entry = {}
            if name in FLOAT_MODELS:
                model_path = Path(tmp) / f'{name}.keras'
                entry['float_test_accuracy'] = train_float(name, model_path, args.epochs, args.data_dir)
                dataset = FLOAT_MODELS[name][1]
            else:
                model_path, dataset = Path(resolve_model(name)), COMMITTED[name]
            s = run_flow(
                str(model_path),
                Path(tmp) / name,
                images=args.images,
                data_dir=args.data_dir if dataset == 'mnist' else None,
                dataset=dataset,
                progress=lambda m, name=name: print(f'[{name}] {m}', flush=True),
            )
            keep = ('images', 'image_source', 'rtl_vs_golden_mismatches', 'golden_vs_csim_mismatches')
            entry.update({k: s[k] for k in keep})
            entry.update(
                dataset=dataset,
                kinds=sorted(
                    {la['kind'] for la in json.loads((Path(tmp) / name / 'hls' / 'spec.json').read_text())['layers']}
                ),
                golden_vs_keras_mismatches=s['golden_vs_keras_mismatches'],
                output_elements_compared=s['output_elements_compared'],
                accuracy=s['accuracy'],
                keras_parity={
                    k: s['keras_parity'][k] for k in ('exact_claimed', 'reason', 'output', 'first_parting_layer')
                },
                ii_cycles={'measured': s['ii_cycles'], 'analytical': s['analytical']['ii_cycles']},
                latency_cycles={'measured': s['latency_cycles'], 'analytical': s['analytical']['latency_cycles']},
                exit_status=0 if flow_ok(s) else 1,
                seconds=round(time.perf_counter() - start, 1),
            )
            results[name] = entry
            print(
                f'[{name}] exit {entry["exit_status"]}: RTL {entry["rtl_vs_golden_mismatches"]}, C sim '
                f'{entry["golden_vs_csim_mismatches"]}, Keras {entry["golden_vs_keras_mismatches"]} of '
                f'{entry["output_elements_compared"]} differ',
                flush=True,
            )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({'benchmark': 'models', 'images': args.images, 'models': results}, indent=1) + '\n')
    return 0 if all(r['exit_status'] == 0 for r in results.values()) else 1


if __name__ == '__main__':
    sys.exit(main())
