"""relu: hls4ml's Activation('relu'), `x > 0 ? x : 0` assigned to the output type (relu_stream).

(The Keras ReLU layer reaches hls4ml as thresholded_relu: lenet5_hls.kinds.parametrized_relu.)
"""

from __future__ import annotations

import numpy as np

from lenet5_hls.core.fixed_point import cast
from lenet5_hls.core.kind import LayerKind, register
from lenet5_hls.core.spec import Layer, SpecError
from lenet5_hls.rtl.folding import stream_plan
from lenet5_hls.rtl.params import requant_params


@register
class Relu(LayerKind):
    name = 'relu'
    hls4ml_classes = ('Activation', 'ReLU')
    hls4ml_activations = ('relu',)

    def extract(self, hls_layer, common, types, input_type):
        return Layer(kind=self.name, types=types, **common)

    def check(self, layer, where):
        if layer.input_shape != layer.output_shape:
            raise SpecError(f'{where}: relu must keep its shape, got {layer.input_shape} -> {layer.output_shape}')

    def golden(self, x, layer):
        return cast(np.where(x > 0, x, 0), layer.types['input'].frac, layer.types['output'])

    def plan(self, layer, target_ii, override):
        return stream_plan(layer)

    def emit(self, design, layer, index):
        t_in, t_out = layer.types['input'], layer.types['output']
        beat = design.elements_per_beat(t_in)
        design.add(
            layer.name, 'relu_stream', layer.name, {'N': beat, **requant_params(t_in, t_out)}, beat * t_out.width
        )
