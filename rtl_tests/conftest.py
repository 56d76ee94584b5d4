"""Fixtures shared by the whole-network RTL tests: the committed LeNet-5 through hls4ml, the spec, the
generated RTL and golden outputs of real MNIST test images."""

from pathlib import Path

import numpy as np
import pytest

from harness import N_IMAGES

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope='session')
def lenet5_dir(tmp_path_factory) -> Path:
    """Per pytest-xdist worker, so parallel workers never share a project directory."""
    return tmp_path_factory.mktemp('lenet5')


@pytest.fixture(scope='session')
def lenet5_project(lenet5_dir):
    """(hls4ml graph with its C simulation compiled, pipeline spec) of the committed LeNet-5."""
    from lenet5_hls.frontend.convert import build_project, load_model

    return build_project(load_model(REPO / 'model' / 'lenet5.keras'), lenet5_dir / 'hls', progress=lambda *_: None)


@pytest.fixture(scope='session')
def lenet5_spec(lenet5_project):
    return lenet5_project[1]


@pytest.fixture(scope='session')
def lenet5_rtl(lenet5_spec, lenet5_dir):
    """(RTL description JSON, NPZ with raw inputs and golden raw outputs of N_IMAGES MNIST test images).

    The NPZ also holds every layer's golden raw output (`trace/<layer>`, int32) and output type
    (`trace_type/<layer>` = [width, signed]): a failing scoreboard uses them to name the first diverging layer."""
    from lenet5_hls.golden import GoldenModel
    from lenet5_hls.model.mnist import load_mnist, to_model_input
    from lenet5_hls.rtl.generator import generate

    base = lenet5_dir
    desc = generate(lenet5_spec, base / 'rtl')
    golden = GoldenModel(lenet5_spec)
    raw_in = golden.quantize_input(to_model_input(load_mnist(quiet=True).x_test[:N_IMAGES]))
    case = base / 'case.npz'
    expected, trace = golden.run(raw_in, trace=True)
    layers = {f'trace/{name}': out.astype(np.int32) for name, out in trace.items()}
    types = {
        f'trace_type/{la.name}': np.array([la.types['output'].width, la.types['output'].signed])
        for la in lenet5_spec.layers
    }
    np.savez(case, inputs=raw_in, expected=expected, **layers, **types)
    return desc, case
