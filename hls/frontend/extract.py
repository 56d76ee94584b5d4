"""hls4ml ModelGraph (after the backend's optimizer passes) -> pipeline spec.

Types, weights and stream packing are read from the graph that writes the HLS C++, so the spec describes
exactly what the C simulation computes. Weights go through hls4ml's own text formatting and the
weight type's cast, as the C++ loads them.
"""

from __future__ import annotations

import numpy as np

from lenet5_hls.core.errors import UserError
from lenet5_hls.core.fixed_point import FixedType, from_float
from lenet5_hls.core.spec import KINDS, Layer, Port, Spec

SUPPORTED = 'Input, Conv2D, Dense, Activation(relu), ReLU, Pooling2D (max/average), ZeroPadding2D, Reshape (flatten)'


class UnsupportedLayer(UserError):
    """The graph holds a layer or type the pipeline spec cannot express."""


def fixed_type(precision, where: str) -> FixedType:
    try:
        return FixedType.parse(str(precision))
    except ValueError as e:
        raise UnsupportedLayer(f'{where}: type {precision} is not a supported ap_fixed/ap_int type ({e})') from None


def _weights(layer, key: str, t: FixedType) -> np.ndarray:
    var = layer.weights[key]
    text = list(var)  # hls4ml's own formatting of the values written to the project
    values = np.array([float(s) for s in text], dtype=np.float64).reshape(var.data.shape)
    return from_float(values, t)


def _stream_beat(var) -> int:
    return int(getattr(var.type, 'n_elem', 1))


def _layer(layer, input_type: FixedType, in_beat: int) -> Layer:
    cls, name = layer.class_name, layer.name
    where = f'layer {name!r} ({cls})'
    out_var = layer.get_output_variable()
    types = {'input': input_type, 'output': fixed_type(out_var.type.precision, where)}
    in_shape = tuple(layer.get_input_variable().shape)
    common = dict(
        name=name,
        input_shape=in_shape,
        output_shape=tuple(out_var.shape),
        in_elements_per_beat=in_beat,
        out_elements_per_beat=_stream_beat(out_var),
        stream=out_var.name,
    )
    get = layer.get_attr
    if cls in ('Conv2D', 'Dense'):
        for t in ('weight', 'bias', 'accum'):
            types[t] = fixed_type(get(f'{t}_t').precision, f'{where} {t}_t')
        arrays = {'weight': _weights(layer, 'weight', types['weight']), 'bias': _weights(layer, 'bias', types['bias'])}
        if cls == 'Dense':
            return Layer(kind='dense', types=types, arrays=arrays, **common)
        if get('dilation_height', 1) != 1 or get('dilation_width', 1) != 1:
            raise UnsupportedLayer(f'{where}: dilated convolution is not supported')
        attrs = {
            'kernel': [get('filt_height'), get('filt_width')],
            'stride': [get('stride_height'), get('stride_width')],
            'padding': [get('pad_top'), get('pad_bottom'), get('pad_left'), get('pad_right')],
        }
        return Layer(kind='conv2d', types=types, attrs=attrs, arrays=arrays, **common)
    if cls in ('Activation', 'ReLU'):
        act = (get('activation') or '').lower()
        if act == 'linear':
            if types['output'] != input_type:
                raise UnsupportedLayer(f'{where}: a linear activation that changes the type is not supported')
            return None
        if act != 'relu':
            raise UnsupportedLayer(f'{where}: activation {act!r} is not supported (only relu; linear is removed)')
        return Layer(kind='relu', types=types, **common)
    if cls == 'Pooling2D':
        op = get('pool_op')
        kind = {'Max': 'maxpool2d', 'Average': 'avgpool2d'}.get(op)
        if kind is None:
            raise UnsupportedLayer(f'{where}: pooling op {op!r} is not supported (Max, Average)')
        types['accum'] = fixed_type(get('accum_t').precision, f'{where} accum_t')
        attrs = {
            'pool': [get('pool_height'), get('pool_width')],
            'stride': [get('stride_height'), get('stride_width')],
            'padding': [get('pad_top'), get('pad_bottom'), get('pad_left'), get('pad_right')],
        }
        if any(attrs['padding']):
            raise UnsupportedLayer(f'{where}: padded pooling is not supported')
        return Layer(kind=kind, types=types, attrs=attrs, **common)
    if cls == 'ZeroPadding2D':
        attrs = {'padding': [get('pad_top'), get('pad_bottom'), get('pad_left'), get('pad_right')]}
        return Layer(kind='zeropad2d', types=types, attrs=attrs, **common)
    if cls == 'Reshape':
        if len(out_var.shape) != 1:
            raise UnsupportedLayer(f'{where}: only a reshape to 1-D (flatten) is supported, got {out_var.shape}')
        return Layer(kind='flatten', types=types, **common)
    raise UnsupportedLayer(f'{where}: layer type {cls} is not supported; supported: {SUPPORTED}')


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
    return Spec(graph.config.get_project_name(), port_in, port_out, spec_layers, source=source or {})
