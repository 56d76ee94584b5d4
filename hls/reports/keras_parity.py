"""Where and by how much quantized Keras departs from the hardware (the golden model).

hls4ml claims Keras == hardware bit for bit only for HGQ2 models without table functions: HGQ2 quantizes
every tensor as the hardware does, while sigmoid, tanh and softmax are float functions in Keras and lookup
tables in hardware, and a float Keras model with an hls4ml precision config is approximated by its types.
Where the claim holds a Keras mismatch is an error; elsewhere this report says, per layer and at the
output, how many elements differ and by how many LSBs, whether argmax agrees and at which layer Keras
and the hardware first part, instead of failing.

Each Keras value is rounded onto the LSB of the matching spec layer's output type (as HGQ2's next input
quantizer or hls4ml's type does; without the overflow, which is the hardware's departure to measure), so
differences count whole LSBs of that type.
"""

from __future__ import annotations

import numpy as np

from lenet5_hls.core.fixed_point import FixedType, from_float, wide
from lenet5_hls.core.kind import kind
from lenet5_hls.core.spec import Spec

SHAPE_ONLY = ('InputLayer', 'Flatten', 'Reshape', 'Dropout')  # Keras layers that compute nothing


def exactness_claim(keras_model, spec: Spec) -> tuple[bool, str]:
    """Whether hls4ml claims Keras == hardware bit for bit for this model, and why (or why not)."""
    layers = keras_model.layers
    if not any(type(layer).__module__.startswith('hgq') for layer in layers):
        return False, "not an HGQ2 model: hls4ml's fixed-point types approximate the float model"
    plain = [
        f'{layer.name} ({type(layer).__name__})'
        for layer in layers
        if not type(layer).__module__.startswith('hgq') and type(layer).__name__ not in SHAPE_ONLY
    ]
    if plain:
        return False, f'layers {", ".join(plain)} are not HGQ2 layers: Keras computes them in float'
    tables = [f'{layer.name} ({layer.kind})' for layer in spec.layers if not kind(layer.kind).keras_exact]
    if tables:
        return False, f'{", ".join(tables)}: lookup tables in hardware, float functions in Keras'
    return True, 'HGQ2 model without table functions: hls4ml claims Keras and hardware agree bit for bit'


def layer_pairs(keras_model, spec: Spec) -> list[tuple[str, str]]:
    """(Keras layer, spec layer) pairs whose outputs are the same tensor, in spec order.

    A spec layer hls4ml split off a Keras layer (conv1_relu) or inserted before one (zero padding) belongs
    to the Keras layer before it; a Keras layer hls4ml removed or fused (Dropout, BatchNormalization into a
    conv) extends the Keras layer before it. Each Keras group is paired with its last spec layer of the same
    size."""
    keras_names = [layer.name for layer in keras_model.layers if type(layer).__name__ != 'InputLayer']
    owner, current = {}, None
    for layer in spec.layers:
        if layer.name in keras_names:
            current = layer.name
        if current is not None:
            owner[layer.name] = current
    last_keras = {}  # group (a Keras layer with spec layers) -> the last Keras layer whose output it is
    group = None
    for name in keras_names:
        if name in owner.values():
            group = name
        if group is not None:
            last_keras[group] = name
    pairs = []
    for group, keras_name in last_keras.items():
        size = int(np.prod(keras_model.get_layer(keras_name).output.shape[1:]))
        same_size = [s for s in spec.layers if owner.get(s.name) == group and int(np.prod(s.output_shape)) == size]
        if same_size:
            pairs.append((keras_name, same_size[-1].name))
    return pairs


def _on_lsb(x: np.ndarray, t: FixedType) -> np.ndarray:
    """Real values rounded onto t's LSB with t's rounding but without overflow (raw integers): where the
    hardware wrapped or saturated and Keras did not, the difference shows at its full size."""
    bound = 2.0 ** (61 - wide(t).frac - 31)  # from_float's range at t's LSB
    return from_float(np.clip(x, -bound, bound), wide(t))


def _differences(keras_out: np.ndarray, golden_raw: np.ndarray, t: FixedType) -> dict:
    k = _on_lsb(keras_out.reshape(golden_raw.shape), t)
    diff = np.abs(k - golden_raw)
    return {'elements_differing': int(np.count_nonzero(diff)), 'max_error_lsb': int(diff.max(initial=0))}


def keras_parity(keras_model, spec: Spec, golden, x: np.ndarray, keras_outputs: np.ndarray) -> dict:
    """The parity report for real inputs x: claim, output and per-layer differences, first parting layer.

    keras_outputs: quantized Keras's outputs on x (already computed by the comparison)."""
    import keras

    exact, reason = exactness_claim(keras_model, spec)
    raw_out, trace = golden.run(golden.quantize_input(x), trace=True)
    raw_out = raw_out.reshape(len(x), -1)
    keras_outputs = np.asarray(keras_outputs, dtype=np.float64).reshape(len(x), -1)
    output = _differences(keras_outputs, raw_out, spec.output.type)
    per_element = _on_lsb(keras_outputs, spec.output.type) != raw_out
    output['elements_differing_per_output'] = per_element.sum(0).tolist()
    output['argmax_agreement'] = float(np.mean(keras_outputs.argmax(1) == raw_out.argmax(1)))
    report = {'exact_claimed': exact, 'reason': reason, 'images': len(x), 'output': output}
    try:
        pairs = layer_pairs(keras_model, spec)
        probe = keras.Model(keras_model.inputs, [keras_model.get_layer(k).output for k, _ in pairs])
        values = probe.predict(x, batch_size=500, verbose=0) if pairs else []
    except (ValueError, AttributeError) as e:  # a graph Keras cannot cut at these layers
        report['layers'] = None
        report['layers_note'] = f'per-layer comparison not available: {e}'
        report['first_parting_layer'] = None
        return report
    if len(pairs) == 1:
        values = [values]
    layers = []
    for (keras_name, spec_name), value in zip(pairs, values, strict=True):
        golden_raw = trace[spec_name].reshape(len(x), -1)
        entry = {'keras_layer': keras_name, 'spec_layer': spec_name, 'elements': int(golden_raw.size)}
        entry.update(
            _differences(np.asarray(value, dtype=np.float64), golden_raw, spec.layer(spec_name).types['output'])
        )
        layers.append(entry)
    report['layers'] = layers
    parted = [e['spec_layer'] for e in layers if e['elements_differing']]
    report['first_parting_layer'] = parted[0] if parted else None
    return report


def keras_ok(parity: dict, keras_mismatches: int) -> bool:
    """The comparison policy for Keras: a mismatch fails only where hls4ml claims bit-exactness."""
    return keras_mismatches == 0 or not parity['exact_claimed']


def summary_line(parity: dict, keras_mismatches: int, elements: int) -> str:
    """One line for the console summaries."""
    head = f'{keras_mismatches} of {elements} elements differ'
    if parity['exact_claimed']:
        return head + ' (must be 0: ' + parity['reason'] + ')'
    out = parity['output']
    where = parity['first_parting_layer']
    return (
        f'{head}; expected, {parity["reason"]}. Rounded onto the output LSB: {out["elements_differing"]} differ, '
        f'max {out["max_error_lsb"]} LSB; argmax agrees on {100 * out["argmax_agreement"]:.2f} % of images'
        + (f'; first parts at layer {where}' if where else '')
    )


def markdown(parity: dict) -> str:
    """The report section: claim, output figures and the per-layer table."""
    out = parity['output']
    lines = [
        f'Bit-exactness claimed by hls4ml: **{"yes" if parity["exact_claimed"] else "no"}** ({parity["reason"]}).',
        '',
        f'At the output ({parity["images"]} images, Keras rounded onto the output LSB): '
        f'{out["elements_differing"]} elements differ, max {out["max_error_lsb"]} LSB; argmax agrees on '
        f'{100 * out["argmax_agreement"]:.2f} % of images.',
    ]
    if parity['layers'] is None:
        return '\n'.join([*lines, '', parity['layers_note']])
    where = parity['first_parting_layer']
    lines += [
        '',
        f'First layer where Keras and the hardware part: **{where}**.' if where else 'Every layer agrees.',
        '',
        '| Keras layer | spec layer | elements | differing | max error (LSB) |',
        '|---|---|---:|---:|---:|',
    ]
    columns = ('keras_layer', 'spec_layer', 'elements', 'elements_differing', 'max_error_lsb')
    lines += ['| ' + ' | '.join(str(e[c]) for c in columns) + ' |' for e in parity['layers']]
    return '\n'.join(lines)
