"""The execution layer on a local cluster: results in task order, a user error reported as raised and not
retried, other tasks cancelled; a scheduler that cannot be reached is named before any work starts."""

import threading
import warnings

import numpy as np
import pytest

from lenet5_hls.core.errors import UserError
from lenet5_hls.core.execution import run_tasks, session, worker_slots

CALLS = []
LOCK = threading.Lock()


def square_or_fail(x: int) -> int:
    with LOCK:
        CALLS.append(x)
    if x == 3:
        raise UserError(f'bad point {x}')
    return x * x


def test_results_in_order_and_user_error_once():
    CALLS.clear()
    with session(workers=2):
        assert worker_slots() == 2
        assert run_tasks(square_or_fail, [(x,) for x in (5, 1, 2)], 'test', 'task') == [25, 1, 4]
        with pytest.raises(UserError, match='bad point 3'):
            run_tasks(square_or_fail, [(3,)], 'test', 'task')
    assert sorted(CALLS) == [1, 2, 3, 5]  # the deterministic failure ran once


def element(data: np.ndarray, k: int) -> int:
    return int(data[k])


def test_shared_data_goes_once_without_warnings():
    """24 MB every task reads: sent once (with every task, Dask warns of the graph's size on the console)."""
    data = np.arange(3_000_000)
    with session(workers=2), warnings.catch_warnings():
        warnings.simplefilter('error')
        assert run_tasks(element, [(k,) for k in (7, 0, 2_999_999)], 'test', 'task', shared=(data,)) == [
            7,
            0,
            2_999_999,
        ]


def total(data: np.ndarray) -> int:
    return int(data.sum())


def test_large_inputs_of_each_task_go_without_warnings():
    """Each task's own 16 MB (a simulation shard's images): sent with the task, no warning on the console."""
    shards = [np.full(2_000_000, k) for k in (1, 2)]
    with session(workers=2), warnings.catch_warnings():
        warnings.simplefilter('error')
        assert run_tasks(total, [(shard,) for shard in shards], 'test', 'task') == [2_000_000, 4_000_000]


@pytest.mark.parametrize(
    'address, reason',
    [('tcp://127.0.0.1:1', 'Timed out trying to connect'), ('foo://bar', 'unknown address scheme')],
    ids=['unreachable', 'bad-scheme'],
)
def test_bad_scheduler_is_named_before_any_work(tmp_path, capsys, address, reason):
    from lenet5_hls.cli import main

    out = tmp_path / 'sweep'
    assert main(['sweep', '--out', str(out), '--no-synth', '--bits', '4:4', '--scheduler', address]) == 2
    err = capsys.readouterr().err
    assert f"cannot reach the Dask scheduler '{address}'" in err and reason in err
    assert 'leave out --scheduler' in err and not out.exists()
