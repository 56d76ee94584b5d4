"""Random small CNNs (verify/fuzz.py) through the generated RTL under Verilator: every output element against
the golden model (itself checked against hls4ml's C simulation on the same case), and the measured II and
latency against the cycle model's (rtl/timing.py), exactly, seed 21's 'same' padding included. The seeds cover
1x1 (pointwise) convs, 'same' padding with stride 2, pooling windows of 3, three input channels, table and
piecewise-linear activations, a latency and a stable softmax."""

import pytest

from lenet5_hls.verify.fuzz import draw, run_case

# tests/test_fuzz.py leaves these seeds of its 0-21 to this test
RTL_SEEDS = (1, 4, 12, 17, 21)


@pytest.mark.parametrize('seed', RTL_SEEDS)
def test_random_model_rtl_equals_golden_with_analytical_cycles(seed, tmp_path):
    r = run_case(draw(seed), images=20, rtl=True, rtl_images=8, work=tmp_path)
    assert r['status'] == 'ok' and r['stage'] == 'rtl', f'seed {seed}: {r.get("reason", r)}'
    assert r['csim_mismatches'] == 0 and r['rtl_mismatches'] == 0 and r['rtl_elements'] > 0
    assert r['measured']['latency_cycles'] == r['analytical']['latency_cycles']
    assert r['measured']['ii_cycles'] == r['analytical']['ii_cycles'], r
