"""hls4ml ModelGraph (after the backend's optimizer passes) -> pipeline spec.

Types, weights and stream packing are read from the graph that writes the HLS C++, so the spec describes
exactly what the C simulation computes. This module reads what every layer has (shapes, types, stream
packing); the kind registered for the layer's hls4ml class reads the rest (lenet5_hls.kinds).
"""

from __future__ import annotations

import numpy as np

from lenet5_hls.core.errors import UserError
from lenet5_hls.core.fixed_point import FixedType, from_float
from lenet5_hls.core.kind import HLS4ML_READERS, KINDS, readable, reader
from lenet5_hls.core.spec import Layer, Port, Spec, validate


class UnsupportedLayer(UserError):
    """The graph holds a layer or type the pipeline spec cannot express."""


def fixed_type(precision, where: str) -> FixedType:
    try:
        return FixedType.parse(str(precision))
    except ValueError as e:
        raise UnsupportedLayer(f'{where}: type {precision} is not a supported ap_fixed/ap_int type ({e})') from None


def loaded_weights(hls_layer, key: str, t: FixedType) -> np.ndarray:
    """Raw values of one of the layer's weight variables (weights, biases, tables) as the C++ loads them:
    hls4ml's own text formatting of the values written to the project, assigned to t."""
    var = hls_layer.weights[key]
    values = np.array([float(s) for s in var], dtype=np.float64).reshape(var.data.shape)
    return from_float(values, t)


def require_multiplication(hls_layer, weight_key: str, where: str) -> None:
    """hls4ml multiplies by the layer's `<weight_key>_t` with the product its backend picks for the two types
    (FPGABackend.product_type): a 1-bit or 2-bit integer weight type gets a binary or ternary one (with
    ap_int<2>, -2 acts as +1), which the kinds do not model. Refuse those."""
    precision = hls_layer.get_attr(f'{weight_key}_t').precision
    product = hls_layer.model.config.backend.product_type(hls_layer.get_input_variable().type.precision, precision)
    if product != 'mult':
        raise UnsupportedLayer(
            f'{where}: {weight_key} type {precision} makes hls4ml use its {product} product instead of a '
            f'multiplication; give the {weight_key} another type (e.g. ap_fixed<8,2>)'
        )


def _stream_beat(var) -> int:
    return int(getattr(var.type, 'n_elem', 1))


def describe(layer) -> str:
    """How errors name an hls4ml layer: layer 'conv1' (Conv2D)."""
    return f'layer {layer.name!r} ({layer.class_name})'


def _layer(layer, input_type: FixedType, in_beat: int) -> Layer | None:
    """The spec layer the kind reading this hls4ml class makes of it (None: the layer is dropped)."""
    where = describe(layer)
    out_var = layer.get_output_variable()
    types = {'input': input_type, 'output': fixed_type(out_var.type.precision, where)}
    common = dict(
        name=layer.name,
        input_shape=tuple(layer.get_input_variable().shape),
        output_shape=tuple(out_var.shape),
        in_elements_per_beat=in_beat,
        out_elements_per_beat=_stream_beat(out_var),
        stream=out_var.name,
    )
    activation = layer.get_attr('activation')
    activation = activation.lower() if isinstance(activation, str) else None
    layer_kind = reader(layer.class_name, activation)
    if layer_kind is None:
        known_class = any(c == layer.class_name for c, _ in HLS4ML_READERS)
        what = f'activation {activation!r}' if known_class else f'layer type {layer.class_name}'
        raise UnsupportedLayer(f'{where}: {what} is not supported; supported: Input, {readable()}')
    return layer_kind.extract(layer, common, types, input_type)


def extract(graph, source: dict | None = None) -> Spec:
    """Walk the graph's layers in order; the graph must be a single chain (no branches)."""
    layers = list(graph.get_layers())
    first = layers[0]
    if first.class_name != 'Input':
        raise UnsupportedLayer(f'layer {first.name!r}: expected the Input layer first, got {first.class_name}')
    in_var = first.get_output_variable()
    in_type = fixed_type(in_var.type.precision, f'input {first.name!r}')
    port_in = Port(in_var.name, tuple(in_var.shape), in_type, _stream_beat(in_var))
    prev_type, prev_beat, prev_name = in_type, port_in.elements_per_beat, first.name
    spec_layers = []
    for layer in layers[1:]:
        if len(layer.inputs) != 1 or layer.inputs[0] != prev_name:
            raise UnsupportedLayer(
                f'layer {layer.name!r} ({layer.class_name}): reads {layer.inputs}, but only single-chain models are '
                f'supported (expected it to read {prev_name!r})'
            )
        spec_layer = _layer(layer, prev_type, prev_beat)
        prev_name = layer.name
        if spec_layer is None:
            continue
        assert spec_layer.kind in KINDS
        spec_layers.append(spec_layer)
        prev_type, prev_beat = spec_layer.types['output'], spec_layer.out_elements_per_beat
    last = spec_layers[-1]
    out_var = graph.get_output_variables()[0]
    port_out = Port(out_var.name, last.output_shape, last.types['output'], last.out_elements_per_beat)
    spec = Spec(graph.config.get_project_name(), port_in, port_out, spec_layers, source=source or {})
    validate(spec)  # what the spec cannot describe is refused here, naming the layer, not in a later stage
    return spec
