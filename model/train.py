"""Seeded quantization-aware training of LeNet-5; writes the .keras model and a metrics JSON."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .mnist import Dataset, load_mnist, to_model_input


def quantized_bit_widths(model) -> dict[str, dict[str, int]]:
    """Hardware bit widths per tensor, as hls4ml derives them from the HGQ2 quantizers."""
    from ..hls.convert import convert  # local import: hls4ml is slow to import

    graph = convert(model, output_dir=None)
    widths = {}
    for layer in graph.get_layers():
        entry = {'output': layer.get_output_variable().type.precision.width}
        for wname, w in layer.weights.items():
            entry[wname] = w.type.precision.width
        widths[layer.name] = entry
    return widths


def train(
    out: str | Path,
    data: Dataset | None = None,
    epochs: int = 15,
    batch_size: int = 128,
    learning_rate: float = 2e-3,
    seed: int = 1,
    validation: int = 5000,
) -> dict:
    """Train, evaluate on the full test split, save `out` (.keras) and `out` with .json metrics."""
    import keras

    from .lenet5 import build_lenet5

    out = Path(out)
    if out.suffix != '.keras':
        raise ValueError(f'model path {out} must end in .keras (Keras 3 format)')
    data = data or load_mnist()
    keras.utils.set_random_seed(seed)
    x_train, y_train = to_model_input(data.x_train), data.y_train
    x_val, y_val = x_train[-validation:], y_train[-validation:]
    x_fit, y_fit = x_train[:-validation], y_train[:-validation]

    model = build_lenet5()
    steps = epochs * int(np.ceil(len(x_fit) / batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps, alpha=0.02)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=['accuracy'],
    )
    start = time.time()
    history = model.fit(
        x_fit, y_fit, batch_size=batch_size, epochs=epochs, validation_data=(x_val, y_val), verbose=2, shuffle=True
    )
    train_seconds = time.time() - start
    logits = model.predict(to_model_input(data.x_test), batch_size=1000, verbose=0)
    accuracy = float(np.mean(np.argmax(logits, axis=1) == data.y_test))

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + '.tmp.keras')
    model.save(tmp)
    metrics = {
        'test_accuracy': accuracy,
        'test_images': int(len(data.y_test)),
        'data_source': data.source,
        'data_subset': data.subset,
        'epochs': epochs,
        'batch_size': batch_size,
        'learning_rate': learning_rate,
        'seed': seed,
        'train_seconds': round(train_seconds, 1),
        'history': {k: [round(float(v), 5) for v in vals] for k, vals in history.history.items()},
        'bit_widths': quantized_bit_widths(model),
    }
    tmp.replace(out)
    out.with_suffix('.json').write_text(json.dumps(metrics, indent=2) + '\n')
    return metrics
