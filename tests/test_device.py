"""`lenet5-hls rtl --device`: the folding that fits a device's DSP blocks at the best II, its DSP primitive for
every product whose operands fit, the generic design unchanged, and unknown devices refused by name."""

import dataclasses

import pytest

from lenet5_hls.cli import main
from lenet5_hls.core.errors import UserError
from lenet5_hls.rtl import device as D
from lenet5_hls.rtl.folding import plan
from lenet5_hls.rtl.generator import generate
from test_spec import tiny_spec

# tiny_spec at one input beat per clock needs 18 + 8 multipliers (conv 3x3x1 -> 2, dense 8 -> 3)
BUDGETS = [26, 20, 9, 4, 2]


@pytest.mark.parametrize('budget', BUDGETS, ids=[f'{b}-dsp' for b in BUDGETS])
def test_fit_plan_is_the_best_ii_that_fits(budget):
    spec = tiny_spec()
    dev = dataclasses.replace(D.DEVICES['ecp5-85k'], dsp_budget=budget)
    fitted = D.fit_plan(spec, dev, None, None)
    assert fitted.multipliers <= budget
    assert fitted.target_ii == plan(spec).target_ii or plan(spec, fitted.target_ii - 1).multipliers > budget


def test_fit_plan_refuses_what_cannot_fit():
    dev = dataclasses.replace(D.DEVICES['ecp5-85k'], dsp_budget=1)
    with pytest.raises(UserError, match=r'even one multiplier per layer needs more than its budget of 1 DSP blocks'):
        D.fit_plan(tiny_spec(), dev, None, None)


def test_device_puts_fitting_products_on_the_primitive(tmp_path):
    generic = generate(tiny_spec(), tmp_path / 'generic')
    ecp5 = generate(tiny_spec(), tmp_path / 'ecp5', device='ecp5-85k')
    macs = [s for s in ecp5.stages if s.module == 'dense_unit']
    assert len(macs) == 2 and all(s.params['MULT_TARGET'] == 1 for s in macs)
    assert all('MULT_TARGET' not in s.params for s in generic.stages)
    # tiny_spec fits the ECP5's DSP budget (109 of 156) unfolded: the same folding and cycles as generic
    assert (ecp5.folding.multipliers, ecp5.timing.ii_cycles) == (generic.folding.multipliers, generic.timing.ii_cycles)
    assert 'device ecp5-85k' in (tmp_path / 'ecp5' / 'tiny.v').read_text()


def test_operands_wider_than_the_dsp_stay_generic(tmp_path):
    stage = next(s for s in generate(tiny_spec(), tmp_path / 'rtl').stages if s.module == 'dense_unit')
    wide = dataclasses.replace(stage, params={**stage.params, 'W_W': 18, 'W_SIGNED': 0})
    narrow = dataclasses.replace(stage, params={**stage.params, 'W_W': 17, 'W_SIGNED': 0})
    dev = D.DEVICES['ecp5-85k']
    assert [s.params.get('MULT_TARGET') for s in D.place_multipliers([wide, narrow], dev)] == [None, 1]


def test_unknown_device_is_named(tmp_path, capsys):
    spec_file, _ = tiny_spec().save(tmp_path / 'spec.json')
    with pytest.raises(SystemExit) as exit_info:
        main(['rtl', '--spec', str(spec_file), '--out', str(tmp_path / 'rtl'), '--device', 'ice40-up5k'])
    assert exit_info.value.code == 2
    assert "invalid choice: 'ice40-up5k'" in capsys.readouterr().err
    assert not (tmp_path / 'rtl').exists()
    with pytest.raises(UserError, match=r"unknown device 'xc7'; choose one of: generic, ecp5-85k"):
        generate(tiny_spec(), tmp_path / 'rtl2', device='xc7')
    assert not (tmp_path / 'rtl2').exists()


def test_device_registers_every_adder_tree_level_where_it_needs(tmp_path):
    """The ECP5's DSP blocks of one output lie up to a row apart: its dense_units' adder trees get a register
    after every level (more pipeline stages, the same II); the generic design keeps two levels a stage."""
    generic = generate(tiny_spec(), tmp_path / 'generic')
    ecp5 = generate(tiny_spec(), tmp_path / 'ecp5', device='ecp5-85k')
    levels = [[s.params['ADD_LEVELS'] for s in d.stages if s.module == 'dense_unit'] for d in (generic, ecp5)]
    assert levels == [[2, 2], [1, 1]]
    # the conv's 9 products per output: a 4-level tree, 2 register stages in the generic design, 4 on the ECP5
    assert ecp5.timing.latency_cycles == generic.timing.latency_cycles + 2
    assert ecp5.timing.ii_cycles == generic.timing.ii_cycles
