"""Random small CNNs (verify/fuzz.py) through the generated RTL under Verilator: every output element against
the golden model (itself checked against hls4ml's C simulation on the same case), and the measured II and
latency against the analytical figures. The seeds cover 1x1 (pointwise) convs, 'same' padding with stride 2,
pooling windows of 3, three input channels, table and piecewise-linear activations."""

import pytest

from lenet5_hls.verify.fuzz import draw, run_case

# Measured II 100 against the model's 121: the analytical II of a padded layer is pessimistic (issue 11, one
# timing model). strict: the test reports when that is fixed.
PADDED_II_GAP = pytest.mark.xfail(strict=True, reason='analytical II of padded layers (issue 11)')
RTL_SEEDS = [1, 4, 12, 17, pytest.param(21, marks=PADDED_II_GAP)]


@pytest.mark.parametrize('seed', RTL_SEEDS)
def test_random_model_rtl_equals_golden_with_analytical_cycles(seed, tmp_path):
    r = run_case(draw(seed), images=20, rtl=True, rtl_images=8, work=tmp_path)
    assert r['status'] == 'ok' and r['stage'] == 'rtl', f'seed {seed}: {r.get("reason", r)}'
    assert r['csim_mismatches'] == 0 and r['rtl_mismatches'] == 0 and r['rtl_elements'] > 0
    assert r['measured']['latency_cycles'] == r['analytical']['latency_cycles']
    assert r['measured']['ii_cycles'] == r['analytical']['ii_cycles']
