"""The reference models, hls4ml's C simulation and the golden model, over image ranges as tasks of the
execution layer, the outputs concatenated in image order on the client.

A C-simulation task carries the HLS project's C++ sources (csim_bundle, sent to each worker once) and its
images; the worker compiles the sources with the project's own build_lib.sh once per content key in its cache
(frontend/csim_build.py) and runs the library in a child process (csim_job) as ModelGraph.predict does. A golden
task carries the spec and its images. Small batches stay in the client process, where the C simulation is already
compiled: a task pays for sending the images, a child process and, the first time on a worker, a compile of the
library (LeNet-5: 10-25 s); see MIN_TASK_IMAGES.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from lenet5_hls.core.execution import in_session, run_child, run_tasks, worker_slots
from lenet5_hls.frontend.csim_build import CSimError, build_csim, csim_bundle, project_library

log = logging.getLogger(__name__)

# Images per task at most: ~3 MB of float32 MNIST inputs (Dask warns of task graphs over 10 MB), and a
# lost worker costs at most that much work again.
TASK_IMAGES = 1000
# The fewest images run as tasks (when the cluster has two or more worker threads and a session is open).
# Measured with LeNet-5 on 2 local workers (docs/results.md): at 4,000 images C-simulation tasks break even
# when they compile the library first (10-30 s) and run 1.86x faster than the process once it is cached;
# golden tasks ran 2.1x faster, at 1,000 images slower than the process.
MIN_TASK_IMAGES = {'csim': 4000, 'golden': 4000}
# the C simulation's bound: LeNet-5 takes about 7 ms an image; a stalled stream never returns
CSIM_START_SECONDS = 60
CSIM_SECONDS_PER_IMAGE = 1.0


def use_tasks(source: str, images: int, tasks: bool | None) -> bool:
    """Whether `source` runs as tasks: as asked, else for MIN_TASK_IMAGES images or more when a session with
    two or more worker threads is open (outside a session no cluster is started for it). Never for no images."""
    if tasks is not None:
        return tasks and images > 0
    return images >= MIN_TASK_IMAGES[source] and in_session() and worker_slots() > 1


def image_ranges(images: int) -> list[tuple[int, int]]:
    """[start, end) of the tasks: one per worker thread at least, TASK_IMAGES at most each."""
    n = min(images, max(worker_slots(), -(-images // TASK_IMAGES)))
    bounds = [k * images // n for k in range(n + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def _run_batches(fn, x: np.ndarray, shared: tuple, desc: str) -> list:
    """fn(*shared, x[start:end]) as one task per image range, the results in image order."""
    ranges = image_ranges(len(x))
    tasks = [(x[a:b],) for a, b in ranges]
    return run_tasks(fn, tasks, desc, 'image', weights=[b - a for a, b in ranges], shared=shared)


# ---- golden model ----


def _golden_task(spec, x: np.ndarray) -> np.ndarray:
    from lenet5_hls.core.fixed_point import to_float
    from lenet5_hls.golden import GoldenModel

    golden = GoldenModel(spec)
    return to_float(golden.run(golden.quantize_input(x)), spec.output.type).reshape(len(x), -1)


def golden_outputs(golden, x: np.ndarray, tasks: bool | None = None) -> np.ndarray:
    """Real outputs (N, outputs) of the golden model for real inputs x, as tasks if use_tasks says so."""
    if not use_tasks('golden', len(x), tasks):
        return _golden_task(golden.spec, x)
    parts = _run_batches(_golden_task, x, (golden.spec,), 'golden model')
    log.info(f'[golden] {len(x)} images in {len(parts)} tasks')
    return np.concatenate(parts)


# ---- hls4ml C simulation ----


def run_library(library: Path, project: str, n_out: int, x: np.ndarray) -> np.ndarray:
    """Outputs (N, n_out) of a compiled C simulation for inputs x, in a process of its own (csim_job) that is
    killed after CSIM_START_SECONDS + CSIM_SECONDS_PER_IMAGE per image: hls4ml's stream code can read an empty
    stream forever (its C simulation then never returns)."""
    timeout = CSIM_START_SECONDS + CSIM_SECONDS_PER_IMAGE * len(x)
    with tempfile.TemporaryDirectory(prefix='lenet5_csim_') as tmp:
        inputs, outputs = Path(tmp) / 'inputs.npy', Path(tmp) / 'outputs.npy'
        np.save(inputs, x)
        cmd = [sys.executable, '-m', 'lenet5_hls.verify.csim_job', str(library), project, str(n_out)]
        try:
            proc = run_child([*cmd, str(inputs), str(outputs)], capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise CSimError(
                f'the C simulation of {project} ({library}) did not finish {len(x)} images in {timeout:.0f} s and '
                "was stopped: hls4ml's stream code stalls when a layer reads more beats than its input stream "
                'carries (its log repeats "read while empty")'
            ) from None
        if proc.returncode != 0 or not outputs.exists():
            tail = '\n'.join(proc.stderr.splitlines()[-15:])
            raise CSimError(f'the C simulation of {project} ({library}) failed (exit {proc.returncode}):\n{tail}')
        return np.load(outputs)


def _csim_task(bundle: dict[str, bytes], project: str, n_out: int, x: np.ndarray) -> dict:
    """One image range through the C simulation on a worker: outputs, whether the library was built now
    and the seconds that took."""
    library, built, seconds = build_csim(bundle, project)
    return {'outputs': run_library(library, project, n_out, x), 'built': built, 'build_seconds': seconds}


def bounded_predict(graph, x: np.ndarray) -> np.ndarray:
    """graph.predict for a compiled graph of one input and one output, in a process of its own with a time bound
    (run_library on the library hls4ml's compile linked)."""
    project = graph.config.get_project_name()
    return run_library(project_library(graph), project, graph.get_output_variables()[0].size(), x)


def csim_outputs(graph, x: np.ndarray, tasks: bool | None = None) -> tuple[np.ndarray, dict]:
    """Real outputs (N, outputs) of the compiled hls4ml graph for real inputs x, and how they were made
    ({'tasks', 'builds': libraries compiled on workers, 'build_seconds': the longest}): as tasks if
    use_tasks says so and the graph has one input and one output and compiles with build_lib.sh (Vivado,
    Vitis), else here (0 tasks): bounded_predict, or graph.predict for other graphs."""
    single = len(graph.get_input_variables()) == len(graph.get_output_variables()) == 1
    plain = single and not hasattr(graph.config.backend, 'predict')
    if not (plain and use_tasks('csim', len(x), tasks)):
        if plain:
            y = bounded_predict(graph, x)
        else:
            y = np.asarray(graph.predict(np.ascontiguousarray(x, dtype=np.float64))).reshape(len(x), -1)
        return y, {'tasks': 0, 'builds': 0, 'build_seconds': 0.0}
    project = graph.config.get_project_name()
    bundle = csim_bundle(Path(graph.config.get_output_dir()), project)
    n_out = graph.get_output_variables()[0].size()
    parts = _run_batches(_csim_task, x, (bundle, project, n_out), 'C simulation')
    how = {
        'tasks': len(parts),
        'builds': sum(p['built'] for p in parts),
        'build_seconds': max(p['build_seconds'] for p in parts),
    }
    built = f'compiled by {how["builds"]} of them ({how["build_seconds"]:.1f} s)' if how['builds'] else 'cached'
    log.info(f'[csim] {len(x)} images in {how["tasks"]} tasks, the library {built} on the workers')
    return np.concatenate([p['outputs'] for p in parts]), how
