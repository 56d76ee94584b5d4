"""One bit-width pair of a sweep in a process of its own: train (HGQ2), convert (hls4ml), extract the pipeline
spec and measure the golden accuracy. A process per pair because Keras seeds and TensorFlow's thread pools are
global to a process: two pairs trained side by side in one worker would not be reproducible. The job reads
DIR/job.json and DIR/data.npz and writes the model, its metrics, the spec and DIR/result.json into DIR."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

INPUTS = ('job.json', 'data.npz')
OUTPUTS = ('model.keras', 'model.json', 'spec.json', 'spec.npz', 'result.json')


def accuracy_and_spec(model_path: Path, x: np.ndarray, labels: np.ndarray) -> tuple[object, dict]:
    """Pipeline spec of the model (hls4ml conversion) and golden accuracy on x, with the quantized
    Keras model's outputs compared element by element."""
    from lenet5_hls.core.fixed_point import to_float
    from lenet5_hls.frontend.convert import convert, load_model
    from lenet5_hls.frontend.extract import extract
    from lenet5_hls.golden import GoldenModel

    model = load_model(model_path)
    spec = extract(convert(model, output_dir=None))
    golden = GoldenModel(spec)
    raw = golden.run(golden.quantize_input(x)).reshape(len(x), -1)
    keras_out = np.asarray(model.predict(x, batch_size=500, verbose=0)).reshape(len(x), -1)
    mismatches = int(np.count_nonzero(keras_out != to_float(raw, spec.output.type)))
    accuracy = float(np.mean(raw.argmax(1) == labels))
    return spec, {'accuracy': accuracy, 'keras_vs_golden_mismatches': mismatches, 'elements': int(raw.size)}


def main(work: Path) -> None:
    from lenet5_hls.frontend.convert import hls_types
    from lenet5_hls.model.mnist import Dataset, to_model_input
    from lenet5_hls.model.train import train

    job = json.loads((work / 'job.json').read_text())
    with np.load(work / 'data.npz') as npz:
        arrays = {k: npz[k] for k in npz.files}
    data = Dataset(
        arrays['x_train'], arrays['y_train'], arrays['x_test'], arrays['y_test'], job['source'], job['subset']
    )
    metrics = train(
        work / 'model.keras',
        data,
        epochs=job['epochs'],
        seed=job['seed'],
        weight_bits=job['weight_bits'],
        activation_bits=job['activation_bits'],
        describe=lambda model: {'hls_types': hls_types(model)},
    )
    n = job['images']
    spec, acc = accuracy_and_spec(work / 'model.keras', to_model_input(data.x_test[:n]), data.y_test[:n])
    spec.save(work / 'spec.json')
    (work / 'result.json').write_text(json.dumps({'metrics': metrics, 'accuracy': acc}) + '\n')


if __name__ == '__main__':
    try:
        main(Path(sys.argv[1]))
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group: the command reports it, once
        sys.exit(130)
