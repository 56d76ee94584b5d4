"""Target devices of `lenet5-hls rtl --device`: where the multipliers go and the DSP budget the folding
must fit.

A device with DSP primitives gets them instantiated with their registers (mult_bank TARGET) wherever a
product's operands fit the DSP, and the folding with the best II whose multipliers fit its DSP budget: the
part's DSP blocks less a margin for routing. On the LFE5U-85F, LeNet-5 with 153 of its 156 MULT18X18D
(98 %) placed but nextpnr's router did not converge (15,000 wires still overused after 10 iterations, no
longer falling); with 107 (69 %) it routed (58 iterations). 'generic' is any tool and any part: inferred
multipliers, no budget.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from lenet5_hls.core.errors import UserError
from lenet5_hls.core.spec import Spec
from lenet5_hls.rtl.description import Stage
from lenet5_hls.rtl.folding import FoldingError, Plan, plan
from lenet5_hls.rtl.params import ADD_LEVELS, MULT_TARGETS


@dataclass(frozen=True)
class Device:
    name: str
    mult_target: str  # a key of rtl.params.MULT_TARGETS
    dsp_operand_bits: int  # widest two's-complement operand one DSP multiplier takes (0: no DSP primitive)
    dsp_blocks: int | None  # DSP multipliers on the part (None: no budget)
    dsp_budget: int | None  # of those, what the folding may use, leaving the router room (None: no budget)
    add_levels: int = ADD_LEVELS  # dense_unit's ADD_LEVELS: adder-tree levels between pipeline registers


DEVICES = {
    'generic': Device('generic', 'generic', 0, None, None),
    # Lattice LFE5U-85F: 156 sysDSP 18x18 multipliers (MULT18X18D), 70 % of them for the folding; a register
    # after every adder-tree level, since one output's products come from DSP blocks up to a row apart (two
    # levels between registers: conv2's tree the whole design's critical path at 94.8 MHz, split 50 columns)
    'ecp5-85k': Device('ecp5-85k', 'ecp5', 18, 156, 109, add_levels=1),
}


def device(name: str) -> Device:
    if name not in DEVICES:
        raise UserError(f'unknown device {name!r}; choose one of: {", ".join(DEVICES)}')
    return DEVICES[name]


def fit_plan(spec: Spec, dev: Device, target_ii: int | None, overrides: dict[str, int] | None) -> Plan:
    """The plan for target_ii (default: one input beat per clock) if its multipliers fit the device's DSP
    budget, else the plan of the smallest II that fits (the multipliers never grow with the II)."""
    best = plan(spec, target_ii, overrides)
    budget = dev.dsp_budget
    if budget is None or best.multipliers <= budget:
        return best
    lo, hi = best.target_ii, 1 << 40  # at that II every layer folds to its fewest multipliers
    if plan(spec, hi, overrides).multipliers > budget:
        raise FoldingError(
            f'{dev.name}: even one multiplier per layer needs more than its budget of {budget} DSP blocks '
            f'(of {dev.dsp_blocks}; layers with fixed multipliers: {", ".join(sorted(overrides or {})) or "none"})'
        )
    while hi - lo > 1:  # plan(lo) does not fit, plan(hi) does
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if plan(spec, mid, overrides).multipliers <= budget else (mid, hi)
    return plan(spec, hi, overrides)


def _fits_dsp(params: dict, dev: Device) -> bool:
    widths = [(params['IN_W'], params['IN_SIGNED']), (params['W_W'], params['W_SIGNED'])]
    return all(w + (0 if signed else 1) <= dev.dsp_operand_bits for w, signed in widths)


def place_multipliers(stages: list[Stage], dev: Device) -> list[Stage]:
    """The stages with every dense_unit whose operands fit the device's DSP on its primitive."""
    code = MULT_TARGETS[dev.mult_target]
    return [
        dataclasses.replace(s, params={**s.params, 'MULT_TARGET': code})
        if s.module == 'dense_unit' and code and _fits_dsp(s.params, dev)
        else s
        for s in stages
    ]


def space_adder_registers(stages: list[Stage], dev: Device) -> list[Stage]:
    """The stages with every dense_unit's adder tree registered every dev.add_levels levels."""
    return [
        dataclasses.replace(s, params={**s.params, 'ADD_LEVELS': dev.add_levels}) if s.module == 'dense_unit' else s
        for s in stages
    ]
