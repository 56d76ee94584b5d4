"""One execution layer for the flow's parallel work (simulation shards, C-simulation and golden-model batches,
Yosys and place-and-route runs): Dask distributed, an in-process local cluster by default or an existing
cluster named with `--scheduler ADDRESS`. Tasks carry their inputs and return their artifacts, so workers
need no shared filesystem; what a worker builds it caches by content on its machine (core/cache.py)."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from lenet5_hls.core.errors import UserError
from lenet5_hls.core.log import progress_bar

log = logging.getLogger(__name__)

# Retries of a task that raised an unexpected exception; a worker that dies mid-task is handled by the
# scheduler itself (the task moves to another worker, distributed.scheduler.allowed-failures).
RETRIES = 2
LARGE_TASK_BYTES = '1GiB'  # a task's own inputs up to this size go without Dask's large-graph warning
CONNECT_TIMEOUT = '10s'  # a scheduler that does not answer by then is reported, not waited for
_client = contextvars.ContextVar('lenet5_hls_dask_client', default=None)
# The tool processes this process's tasks are running (run_child), stopped when the client is interrupted.
_children: set[subprocess.Popen] = set()
_children_lock = threading.Lock()


class ExecutionError(UserError):
    """The Dask scheduler cannot be reached."""


@contextlib.contextmanager
def session(scheduler: str | None = None, workers: int | None = None) -> Iterator:
    """The `distributed.Client` every parallel step in the body uses: connected to `scheduler`
    (tcp://HOST:PORT), else to an in-process cluster of `workers` single-threaded workers (default one
    per core; threads suffice, the heavy work runs in subprocesses)."""
    from distributed import Client, LocalCluster

    # Dask's own notices (tasks cancelled by Ctrl-C, a comm closed while the cluster shuts down) are not the
    # user's business; set here, after distributed configured its loggers on import, and kept past the session
    # since a shutdown notice can come after it.
    logging.getLogger('distributed').setLevel(logging.ERROR)
    with contextlib.ExitStack() as stack:
        if scheduler:
            try:
                client = stack.enter_context(Client(scheduler, timeout=CONNECT_TIMEOUT))
            except (OSError, ValueError, TypeError) as e:
                raise ExecutionError(
                    f'cannot reach the Dask scheduler {scheduler!r} ({e}); start one with `dask scheduler` and '
                    '`dask worker ADDRESS`, or leave out --scheduler to run on a local cluster'
                ) from None
            log.info('[dask] %s: %d workers', scheduler, len(client.scheduler_info()['workers']))
        else:
            cluster = LocalCluster(
                n_workers=workers or os.cpu_count() or 1,
                threads_per_worker=1,
                processes=False,
                dashboard_address=':0',  # the scheduler's HTTP server on a free port (8787 may be taken), no dashboard
                scheduler_kwargs={'dashboard': False},
                silence_logs=False,  # the level set above, not one restored when the cluster closes
            )
            stack.enter_context(cluster)
            client = stack.enter_context(Client(cluster))
        token = _client.set(client)
        try:
            yield client
        except BaseException:
            # the workers' heartbeats to a scheduler that is shutting down now fail, and distributed logs each as
            # an ERROR with its traceback (seen after Ctrl-C on a loaded machine): the user has the real reason
            logging.getLogger('distributed').setLevel(logging.CRITICAL)
            stop_children()  # else the local workers' threads, and the command, wait for their tools to finish
            raise
        finally:
            _client.reset(token)


@contextlib.contextmanager
def current_client() -> Iterator:
    """The session's client, or a local cluster for the duration of the body."""
    client = _client.get()
    if client is not None:
        yield client
    else:
        with session() as client:
            yield client


def in_session() -> bool:
    """Whether a session's client is open (else current_client would start a local cluster)."""
    return _client.get() is not None


def worker_slots() -> int:
    """Tasks the cluster runs at once (its worker threads)."""
    with current_client() as client:
        return max(1, sum(client.nthreads().values()))


def _call(fn: Callable, args: tuple, *shared):
    """Run a task on a worker; a user error comes back as a value so that it is not retried."""
    try:
        return True, fn(*shared, *args)
    except UserError as e:
        return False, e


def run_tasks(
    fn: Callable,
    tasks: Sequence[tuple],
    desc: str,
    unit: str,
    weights: Sequence[int] | None = None,
    at_once: int | None = None,
    done: Callable[[int, object], None] | None = None,
    shared: tuple = (),
) -> list:
    """fn(*shared, *args) for every args tuple in tasks, on the cluster, at most at_once at a time (default all);
    the results in the order of tasks, each task counted once however often it was retried. done(k, result) is
    called on the client as task k completes. The first failure (a UserError as raised) or Ctrl-C cancels
    the rest. weights: progress units per task (default 1). shared: large inputs every task reads (a data
    set), sent to the cluster once rather than with every task."""
    import dask
    from distributed import as_completed

    weights = weights or [1] * len(tasks)
    results = [None] * len(tasks)
    waiting = iter(enumerate(tasks))
    index = {}
    # A task's own inputs (a simulation shard's 5,000 images: 30 MB) go with it, once, to the worker that runs it
    # and again if that worker dies; Dask's advice to scatter them instead would lose them with the worker, so
    # its large-graph warning is not for these.
    no_large_graph_warning = dask.config.set({'distributed.admin.large-graph-warning-threshold': LARGE_TASK_BYTES})
    with (
        no_large_graph_warning,
        current_client() as client,
        progress_bar(total=sum(weights), desc=desc, unit=unit) as bar,
    ):
        running = as_completed()
        # on every worker: a copy survives a worker that dies
        shared_data = client.scatter(list(shared), hash=False, broadcast=True) if shared else []

        def submit_next() -> None:
            k, args = next(waiting, (None, None))
            if k is not None:
                future = client.submit(_call, fn, args, *shared_data, retries=RETRIES, pure=False)
                index[future] = k
                running.add(future)

        try:
            for _ in range(at_once or len(tasks)):
                submit_next()
            for future in running:
                k = index[future]
                ok, value = future.result()
                if not ok:
                    raise value
                results[k] = value
                bar.update(weights[k])
                if done:
                    done(k, value)
                submit_next()
        except BaseException:
            client.cancel(list(index))
            raise
    return results


def run_child(
    cmd: list[str], capture_output: bool = False, timeout: float | None = None, **kwargs
) -> subprocess.CompletedProcess:
    """subprocess.run for a task's tool, in a process group of its own that stop_children ends (with the
    tool's own children: a simulator under cocotb's runner, say). After `timeout` seconds the group is
    killed and subprocess.TimeoutExpired raised."""
    pipe = subprocess.PIPE if capture_output else None
    with subprocess.Popen(cmd, stdout=pipe, stderr=pipe, start_new_session=True, **kwargs) as proc:
        with _children_lock:
            _children.add(proc)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
        finally:
            with _children_lock:
                _children.discard(proc)
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


def stop_children(grace: float = 5.0) -> None:
    """End every run_child process group: SIGTERM, then SIGKILL after `grace` seconds."""
    with _children_lock:
        children = list(_children)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for proc in children:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
        for proc in children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace)
        children = [proc for proc in children if proc.poll() is None]
        if not children:
            return


def pack_files(paths: Iterable[Path]) -> tuple[Path, dict[str, bytes]]:
    """Files as a task's input: their common directory and their contents by path relative to it."""
    paths = [Path(p).resolve() for p in paths]
    root = Path(os.path.commonpath([p.parent for p in paths]))
    return root, {p.relative_to(root).as_posix(): p.read_bytes() for p in paths}


def pack_tree(root: Path) -> dict[str, bytes]:
    """Every file under root, by path relative to it: a directory a task made, to send back."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob('*')) if p.is_file()}


def unpack_files(files: dict[str, bytes], root: Path) -> Path:
    """Write pack_files' contents under root (on a worker); returns root."""
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root
