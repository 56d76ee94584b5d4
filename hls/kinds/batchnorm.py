"""batchnorm: hls4ml's BatchNormalization (nnet_batchnorm_stream.h `normalize`), a scale and a bias per channel,
computed by one RTL stage (scale_bias_stream).

Per element: `res = product(x, scale[k]) + bias[k]` assigned to the output type, where product is
nnet::product::mult (`a * w` at full ap_fixed precision) and the sum of the product and bias_t is exact too;
so y = cast_out(x * s + b) with one rounding and overflow, at the output. There is no accumulator type:
the config has only scale_t and bias_t. hls4ml computes scale = gamma / sqrt(var + eps) and
bias = beta - scale * mean in double precision; the project's weight headers hold them as text, which the
C++ converts to scale_t / bias_t: the spec keeps those raw integers.

The index k: io_stream reads beats of N elements; for a 1-D input (n_filt = -1) k = i*N + j, the element's
index; otherwise k = j % n_filt, j its place in the beat. Both are "element e of the image uses entry
e % C" when N is a multiple of C = n_filt (for (H, W, C) tensors N = C: the channel); the spec's scale and
bias arrays have those C entries. Other packings make hls4ml scale elements by the wrong channel and are
refused, and so is a scale type for which hls4ml picks another product (ap_int<2>: its ternary product).
After a Flatten, hls4ml 1.3 gives the layer an output stream of one beat per image but writes one per input
beat, and its C simulation computes garbage: refused too (as is a Keras axis other than the last, in
frontend/convert.py: hls4ml normalizes the last axis whatever the axis).

When the layer before a BatchNormalization is a Dense or Conv2D whose result type is 'auto', hls4ml's
fuse_batch_normalization pass folds it into that layer's weights and biases (conv2d and dense read them as
any weights); a BatchNormalization after an activation, or after a layer with a configured result type,
stays a layer of its own.
"""

from __future__ import annotations

import numpy as np

from lenet5_hls.core.fixed_point import MAX_WIDTH, cast
from lenet5_hls.core.kind import register
from lenet5_hls.core.spec import Layer, SpecError
from lenet5_hls.frontend.extract import UnsupportedLayer, describe, fixed_type, loaded_weights, require_multiplication
from lenet5_hls.kinds.elementwise import Elementwise
from lenet5_hls.rtl.folding import FoldingError, LayerPlan, input_beats
from lenet5_hls.rtl.generator import MEM_DIR, register_module
from lenet5_hls.rtl.params import SCALE_BIAS_FILE_PARAMS, scale_bias_params, write_scale_bias_files
from lenet5_hls.rtl.timing import Buffer, Element


def _scale_bias_stream(p: dict, beats_in: int) -> tuple[list[Element], int]:
    return [Buffer(2), Buffer(2)], beats_in  # the sum's register, then the cast's


register_module('scale_bias_stream', {'fxp_requant', 'axis_skid_buffer'}, _scale_bias_stream)


def sum_frac(layer: Layer) -> int:
    """Fractional bits of the exact x * scale + bias."""
    t = layer.types
    return max(t['input'].frac + t['scale'].frac, t['bias'].frac)


@register
class BatchNorm(Elementwise):
    name = 'batchnorm'
    hls4ml_classes = ('BatchNormalization',)
    types = ('input', 'scale', 'bias', 'output')
    arrays = ('scale', 'bias')
    keras_exact = False  # Keras computes x * scale + bias in float32 (HGQ2's QBatchNormalization too)

    def extract(self, hls_layer, common, types, input_type):
        where = describe(hls_layer)
        for t in ('scale', 'bias'):
            types[t] = fixed_type(hls_layer.get_attr(f'{t}_t').precision, f'{where} {t}_t')
        require_multiplication(hls_layer, 'scale', where)
        if common['out_elements_per_beat'] != common['in_elements_per_beat']:
            raise UnsupportedLayer(
                f'{where}: hls4ml 1.3 gives it {common["in_elements_per_beat"]} elements per input beat but '
                f'{common["out_elements_per_beat"]} per output beat (a BatchNormalization after Flatten); its '
                'normalize() writes one output beat per input beat and the next layer reads them wrongly, so the '
                'C simulation is not the model. Put the BatchNormalization before the Flatten'
            )
        n_in = int(np.prod(common['input_shape']))
        n_filt, beat = int(hls_layer.get_attr('n_filt', -1)), common['in_elements_per_beat']
        entries = n_in if n_filt == -1 else n_filt
        if n_filt != -1 and beat % n_filt:
            raise UnsupportedLayer(
                f'{where}: hls4ml scales element j of each {beat}-element stream beat by entry j % {n_filt} '
                f'(n_filt), which does not follow the channels of input {common["input_shape"]}; not supported'
            )
        arrays = {k: loaded_weights(hls_layer, k, types[k]).reshape(-1) for k in ('scale', 'bias')}
        for k, a in arrays.items():
            if a.size != entries:
                raise UnsupportedLayer(
                    f'{where}: {a.size} {k} values for {entries} channels of input {common["input_shape"]} '
                    '(hls4ml normalizes the last axis only)'
                )
        return Layer(kind=self.name, types=types, arrays=arrays, **common)

    def check(self, layer, where):
        super().check(layer, where)
        n = int(np.prod(layer.input_shape))
        for k in ('scale', 'bias'):
            a = layer.arrays[k]
            if a.ndim != 1 or a.size < 1 or n % a.size:
                raise SpecError(
                    f'{where}.arrays.{k}: shape {a.shape}; expected (C,) with C dividing the {n} elements of '
                    f'{layer.input_shape} (element e uses entry e % C)'
                )
        if layer.arrays['scale'].shape != layer.arrays['bias'].shape:
            raise SpecError(
                f'{where}.arrays: scale {layer.arrays["scale"].shape} and bias {layer.arrays["bias"].shape} differ'
            )
        if _sum_width(layer) > MAX_WIDTH:
            t = layer.types
            raise SpecError(
                f'{where}.types: {t["input"].cpp()} * {t["scale"].cpp()} + {t["bias"].cpp()} needs '
                f'{_sum_width(layer)} bits, more than {MAX_WIDTH}'
            )

    def golden(self, x, layer):
        t = layer.types
        frac = sum_frac(layer)
        scale, bias = (np.asarray(layer.arrays[k], dtype=np.int64) for k in ('scale', 'bias'))
        flat = np.asarray(x, dtype=np.int64).reshape(len(x), -1, scale.size)  # [image, period, entry]
        prod = (flat * scale) << (frac - t['input'].frac - t['scale'].frac)
        total = prod + (bias << (frac - t['bias'].frac))
        return cast(total, frac, t['output']).reshape(x.shape)

    def plan(self, layer, target_ii, override, beats_in):
        """One multiplier per element of a beat, one beat per clock: not foldable."""
        beat = layer.in_elements_per_beat
        if override is not None and override != beat:
            raise FoldingError(
                f'layer {layer.name}: a batchnorm multiplies the {beat} elements of each beat at once '
                f'({beat} multipliers); it cannot be folded to {override}'
            )
        beats = input_beats(layer)
        size = layer.arrays['scale'].size
        rom = size * (layer.types['scale'].width + layer.types['bias'].width)
        buffers = 2 * beat * (_sum_width(layer) + layer.types['output'].width)  # the two skid buffers
        return LayerPlan(layer.name, layer.kind, beat, beats, beat, 1, beats, buffers, rom)

    def emit(self, design, layer, index):
        beat = design.elements_per_beat(layer.types['input'])
        s_rel, b_rel = f'{MEM_DIR}/{layer.name}_scale.mem', f'{MEM_DIR}/{layer.name}_bias.mem'
        depth = write_scale_bias_files(layer, beat, design.out / s_rel, design.out / b_rel)
        params = scale_bias_params(layer, beat, depth, s_rel, b_rel)
        width = beat * layer.types['output'].width
        design.add(layer.name, 'scale_bias_stream', layer.name, params, width, SCALE_BIAS_FILE_PARAMS)


def _sum_width(layer: Layer) -> int:
    """Bits of the exact x * scale + bias as scale_bias_stream's first register holds it (SUM_W): each factor
    sign-extended by one bit, each term shifted onto the common scale, one carry bit."""
    t, frac = layer.types, sum_frac(layer)
    prod = t['input'].width + t['scale'].width + 2 + frac - t['input'].frac - t['scale'].frac
    return max(prod, t['bias'].width + 1 + frac - t['bias'].frac) + 1
