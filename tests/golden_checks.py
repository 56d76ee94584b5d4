"""Comparison helpers for the golden-model tests (C simulation outputs, mismatch reports)."""

import numpy as np


def csim(project, x: np.ndarray) -> np.ndarray:
    """hls4ml C simulation in double precision (exact for outputs up to 53 bits)."""
    y = project.graph.predict(np.ascontiguousarray(x, dtype=np.float64))
    return np.asarray(y, dtype=np.float64).reshape(len(x), -1)


def mismatch_report(expected: np.ndarray, got: np.ndarray, what: str) -> str:
    bad = np.argwhere(expected != got)
    if bad.size == 0:
        return ''
    i, j = bad[0]
    return (
        f'{what}: {len(bad)} of {expected.size} elements differ; '
        f'first image {i} element {j}: {expected[i, j]} vs {got[i, j]}'
    )
