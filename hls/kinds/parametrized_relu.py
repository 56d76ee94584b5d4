"""leaky_relu, thresholded_relu, linear: hls4ml's piecewise-linear activations besides relu
(nnet_activation_stream.h), computed by one RTL stage (param_relu_stream).

hls4ml (Keras 3) maps LeakyReLU, ReLU(negative_slope=a) and Activation('leaky_relu') to leaky_relu, and the
ReLU layer itself (threshold t, 0 by default) to thresholded_relu. The parameter is written into the C++ call
as a double literal (`nnet::leaky_relu<input_t, param_t, result_t, config>(x, 0.1, y)`) and converted to
param_t on the call: the spec keeps it as a raw param_t integer (ap_fixed's conversion from double, done once
at extraction), so the golden model and the RTL see the same exact value. Per element:
  leaky_relu:       y = x > 0     ? x : alpha * x   (the product at full precision, then assigned to res_T)
  thresholded_relu: y = x > theta ? x : 0           (an exact comparison of data_T and param_t)
  linear:           y = x                           (a cast: Dropout, and a linear activation, when hls4ml
                                                     keeps it because the config gives it another type)
All are y = x > THETA ? cast(x) : cast(x * ALPHA): ALPHA = 0, THETA = 0, or THETA = 0 and ALPHA = 1.
ReLU(max_value) is refused by hls4ml's converter and relu6 has no io_stream implementation, so neither is here.
"""

from __future__ import annotations

import numpy as np

from lenet5_hls.core.fixed_point import MAX_WIDTH, FixedType, cast, from_float
from lenet5_hls.core.kind import register
from lenet5_hls.core.spec import Layer, SpecError
from lenet5_hls.frontend.extract import UnsupportedLayer, describe, fixed_type
from lenet5_hls.kinds.elementwise import Elementwise
from lenet5_hls.rtl.generator import RtlGenerationError, register_module
from lenet5_hls.rtl.params import param_relu_params
from lenet5_hls.rtl.timing import two_beat_stage

MAX_PARAM_W = 31  # the RTL takes THETA and ALPHA as Verilog integers
ONE = FixedType(2, 2)  # linear's slope 1 (raw 1)

register_module('param_relu_stream', {'fxp_requant', 'axis_skid_buffer'}, two_beat_stage)


class PiecewiseLinear(Elementwise):
    """x > theta ? x : alpha * x, each branch assigned to the output type; subclasses give theta and alpha."""

    def piecewise(self, layer: Layer) -> tuple[FixedType, int, int]:
        """(parameter type, theta, alpha): theta and alpha raw at the parameter type."""
        raise NotImplementedError

    def golden(self, x, layer):
        t_in, t_out = layer.types['input'], layer.types['output']
        t_p, theta, alpha = self.narrowest(layer)  # the same values in fewer bits
        x = np.asarray(x, dtype=np.int64)
        frac = max(t_in.frac, t_p.frac)  # compare at the finer scale, exactly
        # products and aligned values beyond int64 (a 44-bit BatchNorm result times a 30-bit alpha) in Python integers
        bits = max(t_in.width + t_p.width, abs(t_in.frac - t_p.frac) + max(t_in.width, t_p.width))
        xw = x.astype(object) if bits > MAX_WIDTH else x
        above = (xw << (frac - t_in.frac)) > (theta << (frac - t_p.frac))
        return np.where(above, cast(x, t_in.frac, t_out), cast(xw * alpha, t_in.frac + t_p.frac, t_out))

    def narrowest(self, layer: Layer) -> tuple[FixedType, int, int]:
        """piecewise() with theta and alpha on the narrowest type that holds both exactly: the same values,
        so the same comparisons and products, in fewer bits (hls4ml may give param_t 32 bits or more)."""
        t_p, theta, alpha = self.piecewise(layer)
        shift = 0
        while shift < t_p.frac and theta % (2 << shift) == 0 and alpha % (2 << shift) == 0:
            shift += 1
        theta, alpha = theta >> shift, alpha >> shift
        width = max(abs(theta).bit_length(), abs(alpha).bit_length(), 1) + int(t_p.signed)
        frac = t_p.frac - shift
        return FixedType(width, width - frac, t_p.signed), theta, alpha

    def check_rtl(self, spec, index, where):
        t_p = self.narrowest(spec.layers[index])[0]
        if t_p.width > MAX_PARAM_W:
            raise RtlGenerationError(f'{where}: its parameters need {t_p.width} bits, more than {MAX_PARAM_W}')

    def emit(self, design, layer, index):
        beat = design.elements_per_beat(layer.types['input'])
        params = param_relu_params(layer, beat, *self.narrowest(layer))
        design.add(layer.name, 'param_relu_stream', layer.name, params, beat * layer.types['output'].width)


@register
class Linear(PiecewiseLinear):
    """A linear activation that keeps the type computes nothing and is left out of the spec."""

    name = 'linear'
    hls4ml_classes = ('Activation',)
    hls4ml_activations = ('linear',)

    def piecewise(self, layer):
        return ONE, 0, 1

    def extract(self, hls_layer, common, types, input_type):
        return None if types['output'] == input_type else Layer(kind=self.name, types=types, **common)


class ParametrizedRelu(PiecewiseLinear):
    """hls4ml's ParametrizedActivation: one of theta, alpha is the layer's parameter, the other 0."""

    hls4ml_classes = ('ParametrizedActivation',)
    types = ('input', 'param', 'output')
    param: str  # the spec attribute holding the raw param_t value: 'alpha' or 'theta'

    def piecewise(self, layer):
        value = layer.attrs[self.param]
        return layer.types['param'], *((0, value) if self.param == 'alpha' else (value, 0))

    def extract(self, hls_layer, common, types, input_type):
        where = describe(hls_layer)
        types['param'] = fixed_type(hls_layer.get_attr('param_t').precision, f'{where} param_t')
        value = hls_layer.get_attr('activ_param')
        try:
            raw = int(from_float(float(value), types['param']))
        except (TypeError, ValueError) as e:
            raise UnsupportedLayer(
                f'{where}: parameter {value!r} cannot be converted to {types["param"].cpp()} ({e})'
            ) from None
        return Layer(kind=self.name, types=types, attrs={self.param: raw}, **common)

    def check(self, layer, where):
        super().check(layer, where)
        value, t_p = layer.attrs[self.param], layer.types['param']
        if not isinstance(value, int) or isinstance(value, bool):
            raise SpecError(f'{where}.attrs.{self.param}: expected a raw {t_p.cpp()} integer, got {value!r}')
        if not t_p.raw_min <= value <= t_p.raw_max:
            raise SpecError(
                f'{where}.attrs.{self.param}: {value} outside {t_p.cpp()} (raw {t_p.raw_min}..{t_p.raw_max})'
            )


@register
class LeakyRelu(ParametrizedRelu):
    name = 'leaky_relu'
    hls4ml_activations = ('leakyrelu', 'leaky_relu')
    attrs = ('alpha',)
    param = 'alpha'


@register
class ThresholdedRelu(ParametrizedRelu):
    name = 'thresholded_relu'
    hls4ml_activations = ('thresholdedrelu',)
    attrs = ('theta',)
    param = 'theta'
