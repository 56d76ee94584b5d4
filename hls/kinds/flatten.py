"""flatten: hls4ml's Reshape to 1-D. Raster order with channels fastest already is the flattened order,
so the RTL has no stage for it; golden moves the values and applies the assignment to the output type."""

from __future__ import annotations

import numpy as np

from lenet5_hls.core.fixed_point import cast
from lenet5_hls.core.kind import LayerKind, register
from lenet5_hls.core.spec import Layer, SpecError
from lenet5_hls.frontend.extract import UnsupportedLayer, describe
from lenet5_hls.rtl.folding import stream_plan
from lenet5_hls.rtl.generator import RtlGenerationError


@register
class Flatten(LayerKind):
    name = 'flatten'
    hls4ml_classes = ('Reshape',)

    def extract(self, hls_layer, common, types, input_type):
        shape = hls_layer.get_output_variable().shape
        if len(shape) != 1:
            raise UnsupportedLayer(f'{describe(hls_layer)}: only a reshape to 1-D (flatten) is supported, got {shape}')
        return Layer(kind=self.name, types=types, **common)

    def check(self, layer, where):
        if int(np.prod(layer.input_shape)) != int(np.prod(layer.output_shape)):
            raise SpecError(
                f'{where}: flatten must keep the element count, got {layer.input_shape} -> {layer.output_shape}'
            )

    def golden(self, x, layer):
        return cast(x.reshape(x.shape[0], -1), layer.types['input'].frac, layer.types['output'])

    def plan(self, layer, target_ii, override, beats_in):
        return stream_plan(layer, beats_in, int(np.prod(layer.output_shape)) * layer.types['output'].width)

    def check_rtl(self, spec, index, where):
        layer = spec.layers[index]
        if layer.types['output'] != layer.types['input']:
            raise RtlGenerationError(f'{where}: a flatten that changes the type is not supported')

    def emit(self, design, layer, index):
        """Nothing: the stream already carries the elements in flattened order."""
