"""The Keras comparison policy: Keras must equal the hardware only where hls4ml claims it (HGQ2 without
table functions); elsewhere the per-layer report says where and by how much they part, and the commands
exit 0 as long as the C simulation and the RTL equal the golden model."""

import dataclasses
import json

import pytest

from lenet5_hls.cli import main
from lenet5_hls.golden import GoldenModel
from lenet5_hls.model.mnist import to_model_input
from lenet5_hls.reports.keras_parity import exactness_claim, keras_ok, keras_parity, layer_pairs

IMAGES = 200
LENET5_PAIRS = [
    ('conv1', 'conv1_relu'),
    ('pool1', 'pool1'),
    ('conv2', 'conv2_relu'),
    ('pool2', 'pool2'),
    ('flatten', 'flatten'),
    ('fc1', 'fc1_relu'),
    ('fc2', 'fc2_relu'),
    ('logits', 'logits'),
]


def float_model():
    """A float CNN with table activations, average pooling and a Dropout hls4ml removes."""
    import keras

    keras.utils.set_random_seed(5)
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(4, 5, activation='tanh', name='c1')(inputs)
    x = keras.layers.AveragePooling2D(2, name='avg')(x)
    x = keras.layers.Dropout(0.2, name='drop')(x)
    x = keras.layers.Flatten(name='flat')(x)
    x = keras.layers.Dense(12, activation='sigmoid', name='fc')(x)
    return keras.Model(inputs, keras.layers.Dense(10, name='out')(x))


def spec_of(model):
    """The pipeline spec alone (no project written, no C simulation compiled: the parity needs neither)."""
    from lenet5_hls.frontend.convert import convert
    from lenet5_hls.frontend.extract import extract

    return extract(convert(model, None))


@pytest.fixture(scope='module')
def images(mnist_data):
    return to_model_input(mnist_data.x_test[:IMAGES])


def parity(keras_model, spec, x):
    keras_out = keras_model.predict(x, batch_size=500, verbose=0)
    return keras_parity(keras_model, spec, GoldenModel(spec), x, keras_out)


def test_hgq2_model_is_claimed_exact_and_agrees_at_every_layer(lenet5, images):
    p = parity(lenet5.keras_model, lenet5.spec, images)
    assert p['exact_claimed'], p['reason']
    assert [(e['keras_layer'], e['spec_layer']) for e in p['layers']] == LENET5_PAIRS
    assert [e['elements_differing'] for e in p['layers']] == [0] * len(LENET5_PAIRS)
    assert p['first_parting_layer'] is None
    assert p['output']['elements_differing'] == 0 and p['output']['argmax_agreement'] == 1.0


def test_one_lsb_on_every_fc2_weight_is_found_at_fc2(lenet5, images):
    """The hardware made to differ from Keras at one layer: the report finds that layer, and the layers
    before it still agree, and the policy fails the claimed-exact model."""
    fc2 = lenet5.spec.layer('fc2')
    changed = dataclasses.replace(fc2, arrays={**fc2.arrays, 'weight': fc2.arrays['weight'] + 1})
    spec = dataclasses.replace(lenet5.spec, layers=[changed if la is fc2 else la for la in lenet5.spec.layers])
    p = parity(lenet5.keras_model, spec, images)
    assert p['first_parting_layer'] == 'fc2_relu'
    by_layer = {e['spec_layer']: e for e in p['layers']}
    assert all(by_layer[s]['elements_differing'] == 0 for _, s in LENET5_PAIRS[:6])
    assert by_layer['fc2_relu']['elements_differing'] > 0 and by_layer['fc2_relu']['max_error_lsb'] > 0
    assert p['output']['elements_differing'] > 0
    assert not keras_ok(p, p['output']['elements_differing'])


def test_float_model_is_not_claimed_and_the_report_says_where_it_parts(images):
    model = float_model()
    p = parity(model, spec_of(model), images)
    assert not p['exact_claimed'] and 'not an HGQ2 model' in p['reason']
    pairs = [(e['keras_layer'], e['spec_layer']) for e in p['layers']]
    # the Dropout extends the pooling (hls4ml removed it); the split activations belong to their layer
    assert pairs == [('c1', 'c1_tanh'), ('drop', 'avg'), ('flat', 'flat'), ('fc', 'fc_sigmoid'), ('out', 'out')]
    assert p['first_parting_layer'] == 'c1_tanh'  # tanh: a table in hardware, a float function in Keras
    assert p['output']['elements_differing'] > 0 and len(p['output']['elements_differing_per_output']) == 10
    assert keras_ok(p, p['output']['elements_differing'])


def test_plain_keras_layer_in_an_hgq2_model_is_named():
    import keras
    from hgq.layers import QDense

    inputs = keras.Input((8,))
    x = QDense(6, activation='relu', name='q')(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, name='plain')(x))
    spec = spec_of(model)
    exact, reason = exactness_claim(model, spec)
    assert not exact and 'plain (Dense)' in reason
    assert [s for _, s in layer_pairs(model, spec)] == ['q_relu', 'plain']


def test_compare_command_passes_a_float_model_and_writes_the_parity(tmp_path, capsys):
    """A float model with a precision config always differs from Keras: compare reports it and exits 0."""
    model_path = tmp_path / 'float.keras'
    float_model().save(model_path)
    rc = main(['compare', '--model', str(model_path), '--images', '50', '--out', str(tmp_path / 'cmp')])
    out = capsys.readouterr().out
    report = json.loads((tmp_path / 'cmp' / 'compare.json').read_text())
    assert rc == 0, out
    assert report['sources']['csim']['mismatches_vs_golden'] == 0
    assert report['sources']['keras']['mismatches_vs_golden'] > 0
    assert report['keras_parity']['first_parting_layer'] == 'c1_tanh'
    assert 'expected, not an HGQ2 model' in out and 'first parts at layer c1_tanh' in out
    output = report['keras_parity']['output']
    assert sum(output['elements_differing_per_output']) == output['elements_differing'] > 0
