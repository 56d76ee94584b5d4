"""Shared fixtures: MNIST, the committed LeNet-5 converted once per session, its spec and C simulation."""

import os
from dataclasses import dataclass
from pathlib import Path

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


@pytest.fixture(scope='session')
def mnist_data():
    from lenet5_hls.model.mnist import load_mnist

    return load_mnist(quiet=True)


def _build(model, path: Path) -> Project:
    from lenet5_hls.frontend.convert import build_project

    graph, spec = build_project(model, path, trace=True, progress=lambda *_: None)
    return Project(model, graph, spec)


@pytest.fixture(scope='session')
def lenet5(tmp_path_factory) -> Project:
    from lenet5_hls.frontend.convert import load_model

    return _build(load_model(COMMITTED_MODEL), tmp_path_factory.mktemp('lenet5') / 'hls')
