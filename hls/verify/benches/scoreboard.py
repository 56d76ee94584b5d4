"""The whole-network scoreboard of both drivers (test_lenet5.py: cocotbext-axi, test_lenet5_file_io.py:
Verilog file source/sink): every output element of every image against the golden model, the cycle
figures against the generator's analytical ones, and the result file `lenet5-hls sim` reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lenet5_hls.rtl.description import RtlDescription
from lenet5_hls.verify.benches.config import BenchConfig
from lenet5_hls.verify.benches.streams import assert_cycles


@dataclass
class Timing:
    """Cycle figures of a run: per-image steady-state interval and first-input-to-result latency."""

    ii_cycles: float | None  # median interval between consecutive results (None: < 5 images)
    latency_cycles: int  # first image: first input beat accepted -> its last result beat accepted

    @classmethod
    def measure(cls, in_cycles, out_cycles, beats_per_image: int) -> Timing:
        """in_cycles: handshake cycle of each image's first input beat; out_cycles: of every output beat."""
        done = np.asarray(out_cycles)[beats_per_image - 1 :: beats_per_image]
        ii = float(np.median(np.diff(done)[2:])) if len(done) >= 5 else None  # skip the pipeline fill
        return cls(ii, int(round(done[0] - in_cycles[0])))


def score(got: np.ndarray, expected: np.ndarray, timing: Timing, extra_beats: int) -> dict:
    """The run's figures; also written to the bench configuration's `result` file, if it names one (JSON,
    with the raw outputs beside it as rtl_outputs.npy)."""
    bad = np.argwhere(got != expected)
    result = {
        'images': len(expected),
        'elements': int(expected.size),
        'mismatches': len(bad),
        'extra_beats': extra_beats,
        'mismatched_images': sorted({int(i) for i in bad[:, 0]}),
        'ii_cycles': timing.ii_cycles,
        'latency_cycles': timing.latency_cycles,
    }
    if (result_file := BenchConfig.current().result) is not None:
        path = Path(result_file)
        np.save(path.parent / 'rtl_outputs.npy', got)
        path.write_text(json.dumps(result, indent=1) + '\n')
    return result


def assert_no_extra_beats(result: dict) -> None:
    assert result['extra_beats'] == 0, f'{result["extra_beats"]} extra output beats after the last image'


def check_cycles(desc: RtlDescription, timing: Timing) -> None:
    """FINN-style, exact: measured II and latency equal the cycle model's (our RTL; vendor RTL has none)."""
    if desc.ii_cycles is not None and timing.ii_cycles is not None:
        assert_cycles(round(timing.ii_cycles), desc.ii_cycles, 'II (cycles between consecutive results)', 0)
    if desc.timing:
        assert_cycles(timing.latency_cycles, desc.timing.latency_cycles, 'latency (first input beat to result)', 0)
