"""What the caller (`lenet5-hls sim`, a test) tells a whole-network bench: one JSON file named by the
`+bench=` plusarg. The simulator's Python sees nothing else of the caller, so this is the bench's whole
input, typed and in one place (the description and the case file hold the design and the images)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

PLUSARG = 'bench'


@dataclass(frozen=True)
class BenchConfig:
    description: str  # RTL description JSON (rtl/description.py)
    case: str  # NPZ: raw `inputs`, golden raw `expected` outputs, optionally the golden per-layer trace
    run_dir: str  # where the file-driven bench reads its stimulus and writes its capture
    result: str | None = None  # JSON the scoreboard writes its figures to (rtl_outputs.npy beside it)
    stress: bool = False  # python driver: random idle cycles on the input, backpressure on the output
    check_cycles: bool = False  # assert the measured II and latency against the analytical figures

    def write(self, path: str | Path) -> str:
        """Save as JSON; returns the plusarg that points a bench at it."""
        Path(path).write_text(json.dumps(asdict(self), indent=1) + '\n')
        return f'+{PLUSARG}={Path(path).resolve()}'

    @classmethod
    def current(cls) -> BenchConfig:
        """The configuration of the running simulation (cocotb side)."""
        import cocotb

        if PLUSARG not in cocotb.plusargs:
            raise AssertionError(f'no +{PLUSARG}=FILE plusarg: the bench needs a BenchConfig file (benches/config.py)')
        return cls(**json.loads(Path(cocotb.plusargs[PLUSARG]).read_text()))
