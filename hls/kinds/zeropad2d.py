"""zeropad2d: hls4ml's ZeroPadding2D, which io_stream puts before a 'same' convolution.

Golden: values move, and the assignment to the output type is applied anyway. In the RTL the next
convolution's window generator makes the zeros, so the layer adds no stage of its own.
"""

from __future__ import annotations

from lenet5_hls.core.fixed_point import cast
from lenet5_hls.core.kind import LayerKind, register
from lenet5_hls.core.spec import Layer
from lenet5_hls.golden import _pad
from lenet5_hls.kinds.conv2d import Conv2d
from lenet5_hls.kinds.spatial import check_output_shape, hls4ml_padding, padded_size
from lenet5_hls.rtl.folding import stream_plan
from lenet5_hls.rtl.generator import RtlGenerationError


@register
class ZeroPad2d(LayerKind):
    name = 'zeropad2d'
    hls4ml_classes = ('ZeroPadding2D',)
    attrs = ('padding',)
    builds_into_next = True  # the next convolution's window generator makes the zeros

    def extract(self, hls_layer, common, types, input_type):
        return Layer(kind=self.name, types=types, attrs={'padding': hls4ml_padding(hls_layer)}, **common)

    def check(self, layer, where):
        check_output_shape(layer, (*padded_size(layer, where), layer.input_shape[2]), where)

    def golden(self, x, layer):
        return cast(_pad(x, layer.attrs['padding']), layer.types['input'].frac, layer.types['output'])

    def plan(self, layer, target_ii, override, beats_in):
        return stream_plan(layer, beats_in)

    def check_rtl(self, spec, index, where):
        layer, following = spec.layers[index], spec.layers[index + 1 : index + 2]
        if not following or following[0].kind != Conv2d.name:
            raise RtlGenerationError(
                f'{where}: zero padding is built into the next convolution; it must be followed by one'
            )
        if layer.types['output'] != layer.types['input']:
            raise RtlGenerationError(f'{where}: zero padding that changes the type is not supported')

    def emit(self, design, layer, index):
        """Nothing: Conv2d.emit builds the padding into its window generator."""
