"""dense: hls4ml's Dense (dense_latency), as a dense_unit behind a width converter when it reads several beats.

Arithmetic: each product a*w assigned to accum_t, the accumulator starts at the bias cast to accum_t,
`acc += mult` in input order, the result cast to the output type.
"""

from __future__ import annotations

from lenet5_hls.core.kind import register
from lenet5_hls.core.spec import Layer, SpecError
from lenet5_hls.frontend.extract import describe
from lenet5_hls.golden import _mac
from lenet5_hls.kinds.mac import MacKind


@register
class Dense(MacKind):
    name = 'dense'
    hls4ml_classes = ('Dense',)

    def extract(self, hls_layer, common, types, input_type):
        arrays = self.read_weights(hls_layer, types, describe(hls_layer))
        return Layer(kind=self.name, types=types, arrays=arrays, **common)

    def check(self, layer, where):
        ins, outs = layer.input_shape, layer.output_shape
        if len(ins) != 1 or len(outs) != 1:
            raise SpecError(f'{where}: a dense layer needs 1-D shapes, got {ins} -> {outs}')
        if layer.arrays['weight'].shape != (ins[0], outs[0]):
            raise SpecError(
                f'{where}.arrays.weight: shape {layer.arrays["weight"].shape}, '
                f'expected {(ins[0], outs[0])} (n_in, n_out)'
            )
        self.check_bias(layer, where)

    def golden(self, x, layer):
        return _mac(x, layer.arrays['weight'], layer.arrays['bias'], layer.types)

    def emit(self, design, layer, index):
        t_in = layer.types['input']
        n_in, beat = layer.input_shape[0], design.elements_per_beat(t_in)
        if beat != n_in:  # hls4ml's dense reads n_in/beat beats into one vector: a width converter
            design.add(
                f'{layer.name}_gather',
                'stream_flatten',
                layer.name,
                {'ELEM_W': t_in.width, 'C': beat, 'BEATS': n_in // beat},
                n_in * t_in.width,
            )
        self.add_dense_unit(design, layer)
