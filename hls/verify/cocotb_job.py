"""One cocotb_tools.runner build or test, in a process of its own: the runner takes the simulator's
settings (PATH, VERILATOR_ROOT, MAKEFLAGS, PYTHONPATH) from its process environment, so sim_runner
gives each job an explicit environment instead of changing its own. Run as a script (it imports nothing of
lenet5_hls). Exit status: the runner's."""

from __future__ import annotations

import json
import sys


def main(job: dict) -> int:
    from cocotb_tools.runner import get_runner

    runner = get_runner(job['sim'])
    try:
        getattr(runner, job['action'])(**job['kwargs'])
    except SystemExit as e:  # the runner exits on a failed build, failing tests or a crash
        return e.code if isinstance(e.code, int) else 1
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group: the command reports it, once
        return 130
    return 0


if __name__ == '__main__':
    sys.exit(main(json.loads(sys.argv[1])))
