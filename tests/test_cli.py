"""The command line: bad input gives a clear error, exit status 2 and no half-written output."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lenet5_hls.cli import main


def test_hls_missing_model(tmp_path, capsys):
    assert main(['hls', '--model', str(tmp_path / 'nope.keras'), '--out', str(tmp_path / 'out')]) == 2
    assert 'nope.keras not found' in capsys.readouterr().err
    assert not (tmp_path / 'out').exists()


def test_hls_refuses_non_empty_output_dir(tmp_path, capsys):
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'keep.txt').write_text('user data')
    assert main(['hls', '--out', str(out)]) == 2
    assert 'not empty' in capsys.readouterr().err
    assert (out / 'keep.txt').read_text() == 'user data'


def test_hls_unsupported_layer_names_it(tmp_path, capsys):
    import keras

    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(2, 3, activation='softsign', name='soft_conv')(inputs)
    outputs = keras.layers.Dense(3, name='out')(keras.layers.Flatten()(x))
    keras.Model(inputs, outputs).save(tmp_path / 'soft.keras')
    out = tmp_path / 'out'
    assert main(['hls', '--model', str(tmp_path / 'soft.keras'), '--out', str(out)]) == 2
    err = capsys.readouterr().err
    assert "layer 'soft_conv_softsign'" in err and "activation 'softsign' is not supported" in err
    assert 'Activation(linear, relu, sigmoid, tanh)' in err
    assert not out.exists(), 'a failed conversion must not leave a project behind'


@pytest.mark.parametrize(
    'layer, message',
    [
        ('relu6', "layer 'r' (ReLU): max_value=6 is not supported"),
        ('elu', "layer 'r' (ParametrizedActivation): activation 'elu' is not supported"),
        ('act-relu6', "layer 'r' (Activation): activation 'relu6' is not supported"),
    ],
)
def test_hls_unsupported_relu_form_names_it(layer, message, tmp_path, capsys):
    """ReLU forms hls4ml cannot run in io_stream: exit 2 naming the layer and the reason, no traceback."""
    import keras

    make = {
        'relu6': lambda: keras.layers.ReLU(max_value=6, name='r'),
        'elu': lambda: keras.layers.ELU(name='r'),
        'act-relu6': lambda: keras.layers.Activation('relu6', name='r'),
    }[layer]
    inputs = keras.Input((6, 6, 1))
    outputs = keras.layers.Dense(2, name='out')(keras.layers.Flatten()(make()(inputs)))
    keras.Model(inputs, outputs).save(tmp_path / 'm.keras')
    assert main(['hls', '--model', str(tmp_path / 'm.keras'), '--out', str(tmp_path / 'out')]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / 'out').exists()


def test_hls_activation_behind_flatten_names_it(tmp_path, capsys):
    """hls4ml's io_stream activation behind a Flatten reads too few beats (its C simulation stalls): exit 2
    naming the layer and what to do, no project left behind."""
    import keras

    inputs = keras.Input((4, 4, 2))
    x = keras.layers.Flatten(name='flat')(keras.layers.Conv2D(3, 3, name='conv')(inputs))
    outputs = keras.layers.Dense(2, name='out')(keras.layers.Activation('tanh', name='t')(x))
    keras.Model(inputs, outputs).save(tmp_path / 'm.keras')
    assert main(['hls', '--model', str(tmp_path / 'm.keras'), '--out', str(tmp_path / 'out')]) == 2
    err = capsys.readouterr().err
    assert '(t_0): tanh reads a stream of 3 elements per beat and writes one of 12' in err, err  # hls4ml's name
    assert 'Put the layer before the Flatten' in err
    assert not (tmp_path / 'out').exists()


def test_hls_bad_precision_config(tmp_path, capsys):
    import keras

    inputs = keras.Input((4,))
    keras.Model(inputs, keras.layers.Dense(2, name='d')(inputs)).save(tmp_path / 'm.keras')
    cfg = tmp_path / 'cfg.json'
    cfg.write_text('{"LayerName": {"missing": {"Precision": "ap_fixed<8,2>"}}}')
    assert (
        main(
            ['hls', '--model', str(tmp_path / 'm.keras'), '--out', str(tmp_path / 'o'), '--precision-config', str(cfg)]
        )
        == 2
    )
    assert "names layer 'missing'" in capsys.readouterr().err


def test_console_script_help():
    result = subprocess.run([sys.executable, '-m', 'lenet5_hls.cli', '--help'], capture_output=True, text=True)
    assert result.returncode == 0 and 'train' in result.stdout and 'hls' in result.stdout


def test_train_rejects_bad_data_dir(tmp_path, capsys):
    assert main(['train', '--data-dir', str(tmp_path / 'none'), '--out', str(tmp_path / 'm.keras')]) == 2
    assert 'does not exist' in capsys.readouterr().err
    assert not (tmp_path / 'm.keras').exists()


def test_train_fashion_mnist_missing_dir_names_the_fix(tmp_path, capsys):
    out = tmp_path / 'm.keras'
    argv = ['train', '--dataset', 'fashion-mnist', '--data-dir', str(tmp_path / 'none'), '--out', str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert 'Fashion-MNIST directory' in err and 'dataset-fashion-mnist' in err and '--data-dir' in err
    assert not out.exists()


@pytest.mark.parametrize(
    'arch, dataset, probabilities',
    [
        pytest.param('lenet5', 'mnist', False, marks=pytest.mark.slow),  # the default suite trains one arch
        ('lenet5-classic', 'mnist', True),
        pytest.param('d2l', 'fashion-mnist', False, marks=pytest.mark.slow),
    ],
)
def test_train_small_run_writes_model_and_metrics(tmp_path, arch, dataset, probabilities):
    """End to end on a tiny IDX set: seeded, saves .keras and .json, the architecture asked for."""
    import json

    import keras
    import numpy as np

    from lenet5_hls.frontend.convert import load_model
    from test_mnist import _write_dir

    _write_dir(tmp_path, n_train=300, n_test=16)
    out = tmp_path / 'm.keras'
    argv = ['train', '--arch', arch, '--dataset', dataset, '--data-dir', str(tmp_path), '--out', str(out)]
    assert main([*argv, '--epochs', '1']) == 0
    metrics = json.loads(out.with_suffix('.json').read_text())
    assert metrics['arch'] == arch and metrics['epochs'] == 1 and 0 <= metrics['test_accuracy'] <= 1
    assert metrics['eager']  # 3 steps: no tf.function tracing
    assert metrics['data_source'].startswith('Fashion-MNIST' if dataset == 'fashion-mnist' else 'MNIST')
    assert max(metrics['quantizer_bits'].values()) <= 8
    assert np.isfinite(metrics['history']['loss'][0])
    model = load_model(out)
    y = keras.ops.convert_to_numpy(model(np.zeros((2, 28, 28, 1), np.float32)))
    assert y.shape == (2, 10)
    assert (type(model.layers[-1]).__name__ == 'QSoftmax') == probabilities
    if probabilities:  # HGQ2's table softmax: quantized probabilities
        assert np.all((y >= 0) & (y <= 1)) and np.all(np.abs(y.sum(1) - 1) < 0.1)


@pytest.mark.parametrize('name', ['lenet5', 'lenet5-classic', 'd2l'])
def test_committed_models_by_name(name, tmp_path, monkeypatch):
    """--model NAME finds the committed model in the package; a path is taken as it is."""
    import json

    from lenet5_hls.cli import resolve_model

    path = Path(resolve_model(name))
    assert path.is_file() and path.parent.name == 'model'
    metrics = json.loads(path.with_suffix('.json').read_text())
    assert metrics['arch'] == name if 'arch' in metrics else name == 'lenet5'
    monkeypatch.chdir(tmp_path)
    assert resolve_model('my.keras') == 'my.keras' and resolve_model(None) == resolve_model('lenet5')


def test_output_into_a_closed_pipe_stops_quietly(tmp_path):
    """`lenet5-hls rtl ... | head -0`: the reader has left before the first line; no traceback, SIGPIPE's
    status (the RTL is written all the same)."""
    from test_spec import tiny_spec

    tiny_spec().save(tmp_path / 'spec.json')
    cmd = [sys.executable, '-m', 'lenet5_hls.cli', 'rtl', '--spec', tmp_path / 'spec.json', '--out', tmp_path / 'rtl']
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(cmd, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert result.returncode == 141, (result.returncode, result.stderr)
    assert 'Traceback' not in result.stderr and 'BrokenPipeError' not in result.stderr, result.stderr
