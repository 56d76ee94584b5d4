"""Quantization-aware LeNet-5 (HGQ2, Keras 3) for 28x28x1 MNIST images.

Bit budget: every weight, the input and every post-activation tensor has at most 8 bits. Each tensor
has one trainable bit width (HGQ2 'kbi', at most 7 magnitude bits + sign, heterogeneous_axis=()):
per-element widths would be merged by hls4ml into one wider union type per layer, and the hardware
stores and multiplies that union type. The input
quantizer is fixed at ap_ufixed<8,0>, so pixel/256 passes through exactly and the hardware input is
the raw 8-bit pixel.
"""

from __future__ import annotations

import keras
from hgq.config import LayerConfigScope, QuantizerConfig, QuantizerConfigScope
from hgq.constraints import MinMax
from hgq.layers import QConv2D, QDense, QMaxPool2D

from lenet5_hls.core.errors import UserError

MAX_BITS = 8
# Weights start with their LSB at 2^-5 whatever their width (HGQ2's default i0 = 2 integer bits with 7
# magnitude bits): fewer bits cut the initial range, not the resolution. With i0 = 2 a 4-bit weight would
# start at a 0.5 LSB, every initial weight would round to 0 and the network would not train.
FIRST_LSB_BITS = 5


def input_quantizer() -> QuantizerConfig:
    """ap_ufixed<8,0>: the raw pixel, fixed (not trained)."""
    return QuantizerConfig('kif', 'datalane', k0=False, i0=0, f0=8, trainable=False, heterogeneous_axis=())


def build_lenet5(weight_bits: int = MAX_BITS, activation_bits: int = MAX_BITS, beta0: float = 0.0) -> keras.Model:
    """LeNet-5: Conv 6@5x5+ReLU, MaxPool 2, Conv 16@5x5+ReLU, MaxPool 2, Dense 120/84 + ReLU, Dense 10.

    weight_bits bounds every weight and bias quantizer, activation_bits every layer-input (datalane)
    quantizer after the first; the input stays the raw 8-bit pixel."""
    for what, bits in (('weight', weight_bits), ('activation', activation_bits)):
        if not 2 <= bits <= 16:
            raise UserError(f'{what} bits must be 2..16 (sign + at least one magnitude bit), got {bits}')

    def scope(place, bits, **init):
        magnitude_bits = bits - 1  # kbi counts bits excluding the sign
        return QuantizerConfigScope(
            place=place,
            q_type='kbi',
            default_q_type='kbi',
            b0=magnitude_bits,
            bc=MinMax(0, magnitude_bits),
            heterogeneous_axis=(),
            **init,
        )

    with (
        scope(('weight', 'bias'), weight_bits, i0=weight_bits - 1 - FIRST_LSB_BITS),
        scope('datalane', activation_bits),
        LayerConfigScope(beta0=beta0),
    ):
        inputs = keras.Input((28, 28, 1), name='input_image')
        x = QConv2D(6, 5, activation='relu', iq_conf=input_quantizer(), name='conv1')(inputs)
        x = QMaxPool2D(2, name='pool1')(x)
        x = QConv2D(16, 5, activation='relu', name='conv2')(x)
        x = QMaxPool2D(2, name='pool2')(x)
        x = keras.layers.Flatten(name='flatten')(x)
        x = QDense(120, activation='relu', name='fc1')(x)
        x = QDense(84, activation='relu', name='fc2')(x)
        outputs = QDense(10, name='logits')(x)
    return keras.Model(inputs, outputs, name='lenet5')


def quantizer_bits(model: keras.Model) -> dict[str, int]:
    """Widest element of every HGQ2 quantizer (weights, biases, inputs): magnitude bits + sign bit."""
    import numpy as np
    from hgq.quantizer import Quantizer

    bits = {}
    for layer in model.layers:
        for attr in ('kq', 'bq', 'iq'):
            try:
                q = getattr(layer, attr)
            except AttributeError:  # HGQ2 raises for a disabled quantizer
                continue
            if not isinstance(q, Quantizer):
                continue
            inner = q.quantizer
            if hasattr(inner, 'f'):  # KIF parametrization: k + i + f
                width = np.asarray(inner.k) + np.asarray(inner.i) + np.asarray(inner.f)
            else:  # KBI: b excludes the sign bit k
                width = np.asarray(inner.b) + np.asarray(inner.k)
            bits[f'{layer.name}.{attr}'] = int(np.max(width))
    return bits
