"""relu: hls4ml's Activation('relu'), `x > 0 ? x : 0` assigned to the output type (relu_stream).

(The Keras ReLU layer reaches hls4ml as thresholded_relu: lenet5_hls.kinds.parametrized_relu.)
"""

from __future__ import annotations

import numpy as np

from lenet5_hls.core.fixed_point import cast
from lenet5_hls.core.kind import register
from lenet5_hls.core.spec import Layer
from lenet5_hls.kinds.elementwise import Elementwise
from lenet5_hls.rtl.generator import register_module
from lenet5_hls.rtl.params import requant_params
from lenet5_hls.rtl.timing import two_beat_stage

register_module('relu_stream', {'fxp_requant', 'axis_skid_buffer'}, two_beat_stage)


@register
class Relu(Elementwise):
    name = 'relu'
    hls4ml_classes = ('Activation', 'ReLU')
    hls4ml_activations = ('relu',)

    def extract(self, hls_layer, common, types, input_type):
        return Layer(kind=self.name, types=types, **common)

    def golden(self, x, layer):
        return cast(np.where(x > 0, x, 0), layer.types['input'].frac, layer.types['output'])

    def emit(self, design, layer, index):
        t_in, t_out = layer.types['input'], layer.types['output']
        beat = design.elements_per_beat(t_in)
        design.add(
            layer.name, 'relu_stream', layer.name, {'N': beat, **requant_params(t_in, t_out)}, beat * t_out.width
        )
