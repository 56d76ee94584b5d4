"""`--scheduler`: a simulation and a sweep on a real Dask cluster (a `dask scheduler` and two `dask worker`
processes on 127.0.0.1) give the local run's outputs, and a worker killed mid-shard costs nothing but time."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from lenet5_hls.cli import main

DASK = [sys.executable, '-m', 'distributed.cli.dask_{}']


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture
def dask_cluster(tmp_path):
    """(scheduler address, worker processes by address); every process is killed at the end."""
    from distributed import Client

    address = f'tcp://127.0.0.1:{free_port()}'
    # both workers share one cache directory (simulator builds, C-simulation libraries, Yosys runs)
    env = dict(os.environ, LENET5_SIM_CACHE=str(tmp_path / 'worker-cache'), LENET5_CACHE=str(tmp_path / 'worker-cache'))
    logs = open(tmp_path / 'dask.log', 'w')
    start = dict(env=env, stdout=logs, stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp_path)
    scheduler = ['--host', '127.0.0.1', '--port', address.rsplit(':', 1)[1], '--dashboard-address', ':0']
    procs = [subprocess.Popen([*DASK[:2], DASK[2].format('scheduler'), *scheduler], **start)]
    workers = {f'tcp://127.0.0.1:{free_port()}': None for _ in range(2)}
    try:
        for w in workers:
            args = [address, '--host', '127.0.0.1', '--worker-port', w.rsplit(':', 1)[1], '--nthreads', '1']
            workers[w] = subprocess.Popen([*DASK[:2], DASK[2].format('worker'), *args, '--no-nanny'], **start)
            procs.append(workers[w])
        # generous: three Python processes start while the suite's other worker compiles or simulates
        with Client(address, timeout='180s') as client:
            client.wait_for_workers(2, timeout=180)
        yield address, workers
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=30)
        logs.close()


def tiny_case(tmp_path, images: int):
    """A small generated design (tiny.json) and random raw inputs with their golden outputs."""
    from lenet5_hls.golden import GoldenModel
    from lenet5_hls.rtl.generator import generate
    from test_timing import conv_spec

    spec = conv_spec()
    generate(spec, tmp_path / 'rtl')
    t = spec.input.type
    raw = np.random.default_rng(5).integers(t.raw_min, t.raw_max + 1, (images, *spec.input.shape))
    return tmp_path / 'rtl' / 'tiny.json', raw, GoldenModel(spec).run(raw)


def simulate_on(scheduler, case, out, jobs: int) -> tuple[dict, np.ndarray]:
    from lenet5_hls.core.execution import session
    from lenet5_hls.verify.simulate import simulate

    with session(scheduler, workers=2):
        result = simulate(*case, out, sim='icarus', jobs=jobs, progress=lambda *_: None)
    return result, np.load(out / 'rtl_outputs.npy')


def test_sim_on_cluster_matches_local(lenet5_project, dask_cluster, tmp_path):
    address, _ = dask_cluster
    case = tiny_case(tmp_path, 20)
    (local, local_out), (remote, remote_out) = (
        simulate_on(s, case, tmp_path / d, 1) for s, d in ((None, 'local'), (address, 'cluster'))
    )
    assert remote['images'] == 20 and remote['mismatches'] == local['mismatches'] == 0
    assert np.array_equal(local_out, remote_out) and (tmp_path / 'cluster' / 'sim.log').stat().st_size
    references_on_cluster(address, *lenet5_project)


@pytest.mark.slow  # LeNet-5 under Icarus on a worker: about 20 s; the simulation tasks are in the test above
def test_sim_command_on_cluster(lenet5_rtl, lenet5_dir, dask_cluster, tmp_path, capsys):
    """`lenet5-hls sim --scheduler`: LeNet-5's RTL simulated on the cluster, the golden outputs."""
    address, _ = dask_cluster
    spec = str(lenet5_dir / 'hls' / 'spec.json')
    argv = ['sim', '--spec', spec, '--rtl', str(lenet5_dir / 'rtl'), '--images', '2', '--sim', 'icarus']
    assert main([*argv, '--out', str(tmp_path / 'cli'), '--scheduler', address]) == 0
    assert '[sim] 2 images: 0 of 20 output elements differ' in capsys.readouterr().out
    expected = np.load(lenet5_rtl[1])['expected'][:2]
    assert np.array_equal(np.load(tmp_path / 'cli' / 'rtl_outputs.npy').reshape(expected.shape), expected)


def references_on_cluster(address: str, graph, spec) -> None:
    """The C simulation and the golden model as tasks on the workers (the project's sources sent along,
    compiled once into the workers' shared cache, then reused): the client's outputs exactly."""
    from lenet5_hls.core.execution import session
    from lenet5_hls.golden import GoldenModel
    from lenet5_hls.model.mnist import first_test_images
    from lenet5_hls.verify.reference_runs import csim_outputs, golden_outputs

    x = first_test_images(300)[0]
    client = np.asarray(graph.predict(np.ascontiguousarray(x, dtype=np.float64))).reshape(len(x), -1)
    with session(address):
        (first, how), (again, how_again) = (csim_outputs(graph, x, tasks=True) for _ in range(2))
        golden = golden_outputs(GoldenModel(spec), x, tasks=True)
    assert how['tasks'] == how_again['tasks'] == 2 and how['builds'] == 1 and how_again['builds'] == 0
    assert np.array_equal(first, client) and np.array_equal(again, client)
    assert np.array_equal(golden, GoldenModel(spec).predict(x)) and np.array_equal(golden, client)


SWEEP = ['sweep', '--no-synth', '--bits', '3:3', '--target-ii', '784,3136', '--epochs', '1', '--train-images', '1200']


@pytest.mark.slow  # a training task and two RTL tasks: about 70 s; test_sim_on_cluster covers the cluster path
def test_sweep_on_cluster_matches_local(dask_cluster, tmp_path):
    """Two design points (one training task, two RTL tasks) on the workers: the same figures, spec and RTL."""
    address, _ = dask_cluster
    assert main([*SWEEP, '--images', '40', '--out', str(tmp_path / 'local')]) == 0
    assert main([*SWEEP, '--images', '40', '--out', str(tmp_path / 'cluster'), '--scheduler', address]) == 0
    local, remote = (json.loads((tmp_path / d / 'sweep.json').read_text()) for d in ('local', 'cluster'))
    assert [p['point'] for p in remote['points']] == ['w3a3-ii784', 'w3a3-ii3136']
    assert {**remote['models']['w3a3'], 'train_seconds': None} == {**local['models']['w3a3'], 'train_seconds': None}
    for a, b in zip(local['points'], remote['points'], strict=True):
        assert {**a, 'rtl': None} == {**b, 'rtl': None}
    # the same weights in the spec and the same RTL; the .keras archive and its metrics hold dates and times
    tree = tmp_path / 'local' / 'w3a3'
    files = sorted(p.relative_to(tree) for p in tree.rglob('*') if p.is_file() and not p.name.startswith('model.'))
    assert len(files) > 20
    for f in files:
        assert (tmp_path / 'cluster' / 'w3a3' / f).read_bytes() == (tree / f).read_bytes(), f


def kill_when_busy(address: str, workers: dict, killed: list) -> None:
    """SIGKILL the first worker process the scheduler sees running a task (at most once)."""
    from distributed import Client

    with Client(address, timeout='30s') as client:
        deadline = time.monotonic() + 100
        while time.monotonic() < deadline:
            busy = [w for w, tasks in client.processing().items() if tasks]
            if busy:
                os.killpg(workers[busy[0]].pid, signal.SIGKILL)
                killed.append(busy[0])
                return
            time.sleep(0.1)


def test_worker_killed_mid_run(dask_cluster, tmp_path):
    """4 shards on two workers, one worker killed while it simulates: every image once, the golden outputs."""
    address, workers = dask_cluster
    case = tiny_case(tmp_path, 400)
    killed = []
    killer = threading.Thread(target=kill_when_busy, args=(address, workers, killed))
    killer.start()
    try:
        remote, remote_out = simulate_on(address, case, tmp_path / 'cluster', 4)
    finally:
        killer.join(timeout=120)
    assert killed, 'no worker was running a shard'
    assert workers[killed[0]].wait(timeout=10) == -signal.SIGKILL
    assert remote['images'] == 400 and remote['parallel_simulations'] == 4 and remote['mismatches'] == 0
    assert np.array_equal(remote_out.reshape(case[2].shape), case[2])


def test_failing_shard_reports_its_error(tmp_path):
    """A deterministic failure in a task (here a build of broken Verilog) reaches the caller as its UserError."""
    from lenet5_hls.verify.sim_runner import SimulationError

    desc_file, raw, expected = tiny_case(tmp_path, 4)
    with (desc_file.parent / 'tiny.v').open('a') as f:
        f.write('this is not verilog\n')
    with pytest.raises(SimulationError, match='icarus build of tb_tiny failed'):
        simulate_on(None, (desc_file, raw, expected), tmp_path / 'sim', 1)
