"""One batch of images through a compiled hls4ml C simulation, in a process of its own, exactly as hls4ml's
ModelGraph.predict runs it: the library loaded with ctypes, `<project>_double(input, output)` called once per
image, in image order. A process of its own because the library keeps state in static variables (weights
loaded on the first call, the stream layers' line buffers): two worker threads must not share one copy.

Usage: python -m lenet5_hls.verify.csim_job LIBRARY PROJECT OUTPUT_SIZE INPUTS.npy OUTPUTS.npy
"""

from __future__ import annotations

import ctypes
import sys

import numpy as np
import numpy.ctypeslib as npc


def run(library: str, project: str, n_out: int, x: np.ndarray) -> np.ndarray:
    """Outputs (N, n_out) float64 of inputs x (N, ...) converted to float64 as ModelGraph.predict takes them."""
    top = getattr(ctypes.cdll.LoadLibrary(library), f'{project}_double')
    top.restype = None
    top.argtypes = [npc.ndpointer(ctypes.c_double, flags='C_CONTIGUOUS')] * 2
    x = np.ascontiguousarray(x, dtype=np.float64).reshape(len(x), -1)
    y = np.zeros((len(x), n_out), dtype=np.float64)
    for i in range(len(x)):
        out = np.zeros(n_out, dtype=np.float64)
        top(np.ascontiguousarray(x[i]), out)
        y[i] = out
    return y


def main(argv: list[str]) -> int:
    library, project, n_out, inputs, outputs = argv
    np.save(outputs, run(library, project, int(n_out), np.load(inputs)))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
