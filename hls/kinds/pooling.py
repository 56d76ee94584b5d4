"""maxpool2d and avgpool2d: hls4ml's Pooling2D (reduce_pool), one pool2d module for both.

Arithmetic: window values assigned to accum_t, nnet::reduce's balanced tree (max, or sum with a cast after
each addition), the average `sum / N` (ap_fixed division: truncation toward zero), assigned to the output type.
"""

from __future__ import annotations

import numpy as np

from lenet5_hls.core.fixed_point import cast
from lenet5_hls.core.kind import LayerKind, register
from lenet5_hls.core.spec import Layer
from lenet5_hls.frontend.extract import UnsupportedLayer, describe, fixed_type
from lenet5_hls.golden import _pad, _tree_reduce, _windows
from lenet5_hls.kinds.spatial import (
    check_output_shape,
    check_window_rtl,
    hls4ml_hw,
    hls4ml_padding,
    window_buffer_bits,
    window_positions,
)
from lenet5_hls.rtl.folding import stream_plan
from lenet5_hls.rtl.params import type_params


class Pool2d(LayerKind):
    attrs = ('pool', 'stride', 'padding')
    types = ('input', 'accum', 'output')
    average: bool  # the reduction: sum then divide, or max

    def extract(self, hls_layer, common, types, input_type):
        """Either kind: hls4ml has one class for both, the spec one kind per op."""
        where = describe(hls_layer)
        op = hls_layer.get_attr('pool_op')
        kind = {'Max': MaxPool2d.name, 'Average': AvgPool2d.name}.get(op)
        if kind is None:
            raise UnsupportedLayer(f'{where}: pooling op {op!r} is not supported (Max, Average)')
        types['accum'] = fixed_type(hls_layer.get_attr('accum_t').precision, f'{where} accum_t')
        attrs = {
            'pool': hls4ml_hw(hls_layer, 'pool'),
            'stride': hls4ml_hw(hls_layer, 'stride'),
            'padding': hls4ml_padding(hls_layer),
        }
        if any(attrs['padding']):
            raise UnsupportedLayer(f'{where}: padded pooling is not supported')
        return Layer(kind=kind, types=types, attrs=attrs, **common)

    def check(self, layer, where):
        check_output_shape(layer, (*window_positions(layer, 'pool', where), layer.input_shape[2]), where)

    def golden(self, x, layer):
        t_in, t_acc = layer.types['input'], layer.types['accum']
        win = _windows(_pad(x, layer.attrs['padding']), layer.attrs['pool'], layer.attrs['stride'])
        n, oh, ow, kh, kw, c = win.shape
        vals = cast(win.reshape(n, oh, ow, kh * kw, c), t_in.frac, t_acc)
        terms = [vals[:, :, :, i] for i in range(kh * kw)]  # index ky*KW + kx, as the line buffer orders it
        if self.average:
            total = _tree_reduce(terms, lambda a, b: cast(a + b, t_acc.frac, t_acc))
            count = kh * kw
            quotient = np.sign(total) * (np.abs(total) // count)  # ap_fixed '/': truncation toward zero
            result = cast(quotient, t_acc.frac, t_acc)
        else:
            result = _tree_reduce(terms, np.maximum)
        return cast(result, t_acc.frac, layer.types['output'])

    def plan(self, layer, target_ii, override, beats_in):
        return stream_plan(layer, beats_in, window_buffer_bits(layer, 'pool'))

    def check_rtl(self, spec, index, where):
        check_window_rtl(spec.layers[index], 'pool', where)

    def emit(self, design, layer, index):
        t_in, t_out = layer.types['input'], layer.types['output']
        h, w, c = layer.input_shape
        ph, pw = layer.attrs['pool']
        sh, sw = layer.attrs['stride']
        design.add(
            layer.name,
            'pool2d',
            layer.name,
            {
                'IN_H': h,
                'IN_W': w,
                'C': c,
                'POOL_H': ph,
                'POOL_W': pw,
                'STRIDE_H': sh,
                'STRIDE_W': sw,
                'POOL_OP': int(self.average),
                **type_params('DIN', t_in),
                **type_params('ACC', layer.types['accum'], modes=True),
                **type_params('DOUT', t_out, modes=True),
            },
            c * t_out.width,
        )


@register
class MaxPool2d(Pool2d):
    name = 'maxpool2d'
    hls4ml_classes = ('Pooling2D',)  # for both kinds: Pool2d.extract picks the kind from the op
    average = False


@register
class AvgPool2d(Pool2d):
    name = 'avgpool2d'
    average = True
