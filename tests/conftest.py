"""Shared fixtures: MNIST, the committed LeNet-5 converted once per session, its spec and C simulation."""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault('KERAS_BACKEND', 'tensorflow')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

REPO = Path(__file__).resolve().parent.parent
COMMITTED_MODEL = REPO / 'model' / 'lenet5.keras'


@dataclass
class Project:
    """A converted model: Keras model, hls4ml graph with compiled C simulation, pipeline spec."""

    keras_model: object
    graph: object
    spec: object
    path: Path


@pytest.fixture(scope='session')
def mnist_data():
    from lenet5_hls.model.mnist import load_mnist

    return load_mnist(quiet=True)


def build(model, path: Path) -> Project:
    from lenet5_hls.hls.convert import build_project

    graph, spec = build_project(model, path, trace=True, progress=lambda *_: None)
    return Project(model, graph, spec, path)


@pytest.fixture(scope='session')
def lenet5(tmp_path_factory) -> Project:
    from lenet5_hls.hls.convert import load_model

    return build(load_model(COMMITTED_MODEL), tmp_path_factory.mktemp('lenet5') / 'hls')


def csim(project: Project, x: np.ndarray) -> np.ndarray:
    """hls4ml C simulation in double precision (exact for outputs up to 53 bits)."""
    y = project.graph.predict(np.ascontiguousarray(x, dtype=np.float64))
    return np.asarray(y, dtype=np.float64).reshape(len(x), -1)


def mismatch_report(expected: np.ndarray, got: np.ndarray, what: str) -> str:
    bad = np.argwhere(expected != got)
    if bad.size == 0:
        return ''
    i, j = bad[0]
    return f'{what}: {len(bad)} of {expected.size} elements differ; first image {i} element {j}: {expected[i, j]} vs {got[i, j]}'
