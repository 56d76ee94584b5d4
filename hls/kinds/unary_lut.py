"""unary_lut: HGQ2's QUnaryFunctionLUT, a lookup table of any unary function indexed by the input's raw bits.

hls4ml's converter (converters/keras_v3/hgq2/unary_lut.py) evaluates the function at every value of the
layer's input quantizer type (k, i, f): N = 2^(k+i+f) points from the smallest value up, through the
output quantizer, and for a signed type moves the non-negative half to the front, so that entry r holds
the value of the input whose two's complement bits read r. The bit-exact pass types the table with the
smallest table_t that holds it. nnet_activation_stream.h's unary_lut then computes, per element,
`index = (unsigned) x.V(x.width - 1, 0)` (get_index_unary_lut: every raw bit of the input, unsigned) and
`out = table[index]`, an assignment of table_t to the output type.

The golden model follows that C++, whatever input type hls4ml gives the layer (it may differ from the
input quantizer's: the bit-exact pass narrows it to what the previous layer produces, e.g. unsigned after a
sigmoid). The spec carries the table as the raw table_t integers the C++ loads (hls4ml's text of it).
An input wider than log2(table_size) bits would read outside the table in the C++: refused.
"""

from __future__ import annotations

import numpy as np

from lenet5_hls.core.kind import register
from lenet5_hls.core.spec import Layer, SpecError
from lenet5_hls.frontend.extract import UnsupportedLayer, describe, loaded_weights
from lenet5_hls.kinds.elementwise import TableLookup


def _too_wide(width: int, size: int) -> str:
    """Why an input of `width` bits cannot index a table of `size` entries ('' when it can)."""
    if (1 << width) <= size:
        return ''
    return (
        f'its {width} raw bits index {1 << width} table entries, but the table has {size} (hls4ml reads the table '
        "at the input's raw bits, so the C++ would read outside it)"
    )


@register
class UnaryLut(TableLookup):
    name = 'unary_lut'
    hls4ml_classes = ('UnaryLUT',)

    def index(self, raw, t_in, table_size):
        return np.asarray(raw, dtype=np.int64) & ((1 << t_in.width) - 1)

    def extract(self, hls_layer, common, types, input_type):
        where = describe(hls_layer)
        size = self.read_table(hls_layer, types)
        if why := _too_wide(input_type.width, size):
            raise UnsupportedLayer(
                f"{where}: input type {input_type.cpp()}: {why}; quantize the layer's input to the type its "
                'input quantizer has'
            )
        bad = np.flatnonzero(~np.isfinite(hls_layer.weights['table'].data))
        if bad.size:
            raise UnsupportedLayer(
                f'{where}: table entries {bad[:8].tolist()} ({bad.size} in all) are not finite: the function is '
                "undefined somewhere on its input quantizer's range (entry r: the input whose raw bits read r)"
            )
        table = loaded_weights(hls_layer, 'table', types['table'])
        return Layer(kind=self.name, types=types, attrs={'table_size': size}, arrays={'table': table}, **common)

    def check(self, layer, where):
        super().check(layer, where)
        t_in = layer.types['input']
        if why := _too_wide(t_in.width, layer.attrs['table_size']):
            raise SpecError(f'{where}.types.input: {t_in.cpp()}: {why}')
