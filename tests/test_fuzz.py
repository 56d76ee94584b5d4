"""Random small CNNs (verify/fuzz.py), float models with a precision config and HGQ2 models with lookup tables,
through the flow: golden model vs hls4ml C simulation on every output element of 200 inputs spread over the
input type's range (rtl_tests/test_fuzz_rtl.py takes a few through the RTL). A drawn model is either refused
during extraction, naming the layer, or bit-exact; `scripts/bench_fuzz.py` runs the long campaign."""

import pytest

from lenet5_hls.verify.fuzz import BACKENDS, SOFTMAX_IMPLEMENTATIONS, draw, run_case, unsupported

# Seeds 0-21: the RTL test takes five of them (its run checks golden vs C simulation too), this file the rest;
# 20 or more of the 22 extract (the ones drawn to be refused aside).
RTL_SEEDS = (1, 4, 12, 17, 21)
CSIM_SEEDS = [seed for seed in range(22) if seed not in RTL_SEEDS]
IMAGES = 200


def explain(record: dict) -> str:
    """The record of a case that went wrong, for the assertion message."""
    return f'seed {record["seed"]}: {record.get("stage")}: {record.get("reason", record)}'


@pytest.mark.parametrize('seed', CSIM_SEEDS)
def test_random_model_is_refused_by_name_or_golden_equals_csim(seed, tmp_path):
    case = draw(seed)
    r = run_case(case, images=IMAGES, work=tmp_path)
    if unsupported(case):
        assert r['status'] == 'refused' and r['stage'] == 'extraction', explain(r)
        assert any(f"'{name}" in r['reason'] for name in unsupported(case)), r['reason']
        return
    assert r['status'] == 'ok', explain(r)
    assert r['csim_mismatches'] == 0 and r['elements'] >= IMAGES * 2


def test_suite_seeds_cover_the_kinds_and_refusals():
    """The suite's cases are worth running: every layer kind the generator draws, and at least one refusal."""
    drawn = [draw(seed) for seed in range(22)]
    kinds = {spec['kind'] for case in drawn for spec in case.layers}
    assert kinds >= {
        'Conv2D',
        'Dense',
        'MaxPooling2D',
        'AveragePooling2D',
        'ReLU',
        'LeakyReLU',
        'Activation',
        'UnaryLUT',
    }
    assert any(spec.get('kernel') == 1 for case in drawn for spec in case.layers)  # hls4ml's PointwiseConv2D
    # both backends on both sides (the golden tests of single kinds run Vivado in the slow set only)
    assert {drawn[seed].backend for seed in RTL_SEEDS} == {drawn[seed].backend for seed in CSIM_SEEDS} == set(BACKENDS)
    # HGQ2 models (hls4ml's bit-exact type propagation) on both sides, C simulation and RTL
    assert (
        {bool(drawn[seed].hgq2) for seed in RTL_SEEDS}
        == {bool(drawn[seed].hgq2) for seed in CSIM_SEEDS}
        == {
            True,
            False,
        }
    )
    softmax = [case.config['LayerName']['softmax'] for case in drawn if 'softmax' in case.config.get('LayerName', {})]
    assert {c['Implementation'] for c in softmax} == set(SOFTMAX_IMPLEMENTATIONS)
    assert 1 <= sum(bool(unsupported(case)) for case in drawn) <= len(drawn) - 20


def test_oversized_table_is_refused_by_name(tmp_path):
    """Seed 1009 of the campaign: a plain sigmoid behind an HGQ2 BatchNormalization, for which hls4ml sizes the
    table to the 29-bit input (2^31 entries); it used to exhaust memory during extraction."""
    r = run_case(draw(1009), images=IMAGES, work=tmp_path)
    assert r['status'] == 'refused' and r['stage'] == 'extraction', explain(r)
    assert "layer 'act0' (Activation): hls4ml made its table 2,147,483,648 entries" in r['reason']
