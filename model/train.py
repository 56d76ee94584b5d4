"""Seeded quantization-aware training of a LeNet-5 variant; writes the .keras model and a metrics JSON."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from lenet5_hls.core.errors import UserError
from lenet5_hls.core.log import progress_bar
from lenet5_hls.model.mnist import Dataset, load_mnist, to_model_input

log = logging.getLogger(__name__)


def _epoch_logger(epochs: int):
    """Keras callback: a progress bar over epochs and one log line per epoch (Keras' own output is off)."""
    import keras

    class EpochLogger(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = progress_bar(total=epochs, desc='training', unit='epoch')

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            self.bar.update(1)
            log.info(
                f'[train] epoch {epoch + 1}/{epochs}: loss {logs.get("loss", float("nan")):.4f}, accuracy '
                f'{logs.get("accuracy", float("nan")):.4f}, validation '
                f'accuracy {logs.get("val_accuracy", float("nan")):.4f}'
            )

        def on_train_end(self, logs=None):
            self.bar.close()

    return EpochLogger()


# A run of at most this many steps trains eagerly: tracing the train, test and predict functions takes about 20 s
# here, an eager step about 1 s (a sweep's pair on 1,200 images, 9 steps: 35 -> 21 s; 43 steps: 30 -> 60 s).
EAGER_STEPS = 12


def train(
    out: str | Path,
    data: Dataset | None = None,
    arch: str = 'lenet5',
    epochs: int = 15,
    batch_size: int = 128,
    learning_rate: float = 2e-3,
    seed: int = 1,
    validation_fraction: float = 1 / 12,
    weight_bits: int = 8,
    activation_bits: int = 8,
    describe=None,
) -> dict:
    """Train `arch` (model.lenet5.ARCHITECTURES), evaluate on the full test split, save `out` (.keras) and `out`
    with .json metrics.

    describe(model) -> dict adds entries to the metrics (the CLI adds the types hls4ml gives each tensor)."""
    import keras

    from lenet5_hls.model.lenet5 import PROBABILITY_OUTPUTS, build, quantizer_bits

    out = Path(out)
    if out.suffix != '.keras':
        raise UserError(f'model path {out} must end in .keras (Keras 3 format)')
    data = data or load_mnist()
    keras.utils.set_random_seed(seed)
    x_train, y_train = to_model_input(data.x_train), data.y_train
    validation = max(1, int(len(x_train) * validation_fraction))  # 5,000 of the 60,000 MNIST images
    if len(x_train) - validation < batch_size:
        raise UserError(f'only {len(x_train)} training images; need more than {batch_size + validation} to train')
    x_val, y_val = x_train[-validation:], y_train[-validation:]
    x_fit, y_fit = x_train[:-validation], y_train[:-validation]

    model = build(arch, weight_bits, activation_bits)
    steps = epochs * int(np.ceil(len(x_fit) / batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps, alpha=0.02)
    eager = steps <= EAGER_STEPS
    model.compile(
        run_eagerly=eager,
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=arch not in PROBABILITY_OUTPUTS),
        metrics=['accuracy'],
    )
    start = time.time()
    history = model.fit(
        x_fit,
        y_fit,
        batch_size=batch_size,
        epochs=epochs,
        validation_data=(x_val, y_val),
        verbose=0,
        shuffle=True,
        callbacks=[_epoch_logger(epochs)],
    )
    train_seconds = time.time() - start
    logits = model.predict(to_model_input(data.x_test), batch_size=1000, verbose=0)
    accuracy = float(np.mean(np.argmax(logits, axis=1) == data.y_test))

    out.parent.mkdir(parents=True, exist_ok=True)
    metrics = {
        'arch': arch,
        'test_accuracy': accuracy,
        'test_images': int(len(data.y_test)),
        'data_source': data.source,
        'data_subset': data.subset,
        'epochs': epochs,
        'batch_size': batch_size,
        'eager': eager,
        'learning_rate': learning_rate,
        'seed': seed,
        'weight_bits': weight_bits,
        'activation_bits': activation_bits,
        'train_seconds': round(train_seconds, 1),
        'history': {k: [round(float(v), 5) for v in vals] for k, vals in history.history.items()},
        'quantizer_bits': quantizer_bits(model),
    }
    if describe is not None:
        metrics.update(describe(model))
    tmp = out.with_name(out.stem + '.tmp.keras')
    try:
        model.save(tmp)
        out.with_suffix('.json').write_text(json.dumps(metrics, indent=2) + '\n')
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return metrics
