"""The reference models as tasks (verify/reference_runs.py): when they run as tasks, the image ranges, the
golden model's tasks against the client, the C simulation's time bound (what a task carries and how it is
compiled: test_csim_build.py). The C simulation as tasks on a real cluster against graph.predict:
rtl_tests/test_cluster.py."""

import numpy as np
import pytest

from lenet5_hls.core.execution import session
from lenet5_hls.golden import GoldenModel
from lenet5_hls.verify import reference_runs as R
from test_spec import tiny_spec


def test_tasks_only_where_they_gain():
    """As asked; by default only in an open session of two or more worker threads, for many images."""
    many = R.MIN_TASK_IMAGES['csim']
    assert R.use_tasks('csim', many, None) is False  # no session: no cluster is started for it
    assert R.use_tasks('csim', 1, True) is True and R.use_tasks('csim', many, False) is False
    with session(workers=1):
        assert R.use_tasks('csim', many, None) is False
    with session(workers=2):
        assert R.use_tasks('csim', many - 1, None) is False
        assert R.use_tasks('csim', many, None) is True
        assert R.image_ranges(5) == [(0, 2), (2, 5)]
        for images in (1, 3, 999, 2 * R.TASK_IMAGES + 1):
            ranges = R.image_ranges(images)
            assert ranges[0][0] == 0 and ranges[-1][1] == images
            assert all(a < b == c for (a, b), (c, _) in zip(ranges, ranges[1:]))
            assert len(ranges) >= min(2, images) and max(b - a for a, b in ranges) <= R.TASK_IMAGES


def test_golden_tasks_match_the_client():
    spec = tiny_spec()
    golden = GoldenModel(spec)
    x = np.random.default_rng(3).uniform(-4, 4, (301, *spec.input.shape)).astype(np.float32)
    with session(workers=2):
        remote = R.golden_outputs(golden, x, tasks=True)
    assert remote.shape == (301, 3)
    assert np.array_equal(remote, golden.predict(x)) and np.array_equal(remote, R.golden_outputs(golden, x))


def test_stalled_csim_is_stopped_and_named(tmp_path, monkeypatch):
    """A C simulation that never returns (hls4ml's stream code reading an empty stream loops so) is killed
    at its bound, and the error says so; a library that returns runs through the same path."""
    import subprocess
    import time

    src = tmp_path / 'top.c'
    src.write_text(
        'void stall_double(double *in, double *out) { for (;;) {} }\n'
        'void ok_double(double *in, double *out) { out[0] = 2 * in[0]; }\n'
    )
    library = tmp_path / 'top.so'
    subprocess.run(['gcc', '-O0', '-shared', '-fPIC', str(src), '-o', str(library)], check=True)
    x = np.arange(3.0).reshape(3, 1)
    assert np.array_equal(R.run_library(library, 'ok', 1, x), 2 * x)
    monkeypatch.setattr(R, 'CSIM_START_SECONDS', 2)
    monkeypatch.setattr(R, 'CSIM_SECONDS_PER_IMAGE', 0.5)
    start = time.monotonic()
    with pytest.raises(R.CSimError, match=r'did not finish 3 images in 4 s and was stopped'):
        R.run_library(library, 'stall', 1, x)
    assert time.monotonic() - start < 30
