"""Random small CNNs (verify/fuzz.py) through the generated RTL under Verilator: every output element against
the golden model (itself checked against hls4ml's C simulation on the same case), and the measured II and
latency against the analytical figures. The seeds cover 1x1 (pointwise) convs, 'same' padding with stride 2,
pooling windows of 3, three input channels, table and piecewise-linear activations."""

import pytest

from lenet5_hls.verify.fuzz import draw, run_case

# tests/test_fuzz.py leaves these seeds of its 0-21 to this test
RTL_SEEDS = (1, 4, 12, 17, 21)
# Measured II 100 against the model's 121: the analytical II of a padded layer is pessimistic (issue 11, one
# timing model). Only that check is an expected failure, and the test fails once the figures agree.
PADDED_II_GAP = {21}


@pytest.mark.parametrize('seed', RTL_SEEDS)
def test_random_model_rtl_equals_golden_with_analytical_cycles(seed, tmp_path):
    r = run_case(draw(seed), images=20, rtl=True, rtl_images=8, work=tmp_path)
    assert r['status'] == 'ok' and r['stage'] == 'rtl', f'seed {seed}: {r.get("reason", r)}'
    assert r['csim_mismatches'] == 0 and r['rtl_mismatches'] == 0 and r['rtl_elements'] > 0
    assert r['measured']['latency_cycles'] == r['analytical']['latency_cycles']
    ii_equal = r['measured']['ii_cycles'] == r['analytical']['ii_cycles']
    if seed in PADDED_II_GAP:
        assert not ii_equal, f'seed {seed}: II now equals the analytical figure; take it out of PADDED_II_GAP'
        pytest.xfail(f'measured II {r["measured"]["ii_cycles"]} < analytical {r["analytical"]["ii_cycles"]} (issue 11)')
    assert ii_equal, r
