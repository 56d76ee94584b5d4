"""Quantization-aware LeNet-5 variants (HGQ2, Keras 3) for 28x28x1 images: today's (ReLU, max pooling,
logits), the textbook one (average pooling, C5 conv to 1x1x120, tanh, softmax) and d2l's (sigmoid).

Bit budget: every weight, the input and every post-activation tensor has at most 8 bits. Each tensor
has one trainable bit width (HGQ2 'kbi', at most 7 magnitude bits + sign, heterogeneous_axis=()):
per-element widths would be merged by hls4ml into one wider union type per layer, and the hardware
stores and multiplies that union type. The input
quantizer is fixed at ap_ufixed<8,0>, so pixel/256 passes through exactly and the hardware input is
the raw 8-bit pixel.
"""

from __future__ import annotations

import contextlib

import keras
from hgq.config import LayerConfigScope, QuantizerConfig, QuantizerConfigScope
from hgq.constraints import MinMax
from hgq.layers import QAvgPool2D, QConv2D, QDense, QMaxPool2D, QSoftmax

from lenet5_hls.core.errors import UserError
from lenet5_hls.model import ARCHITECTURE_NAMES

MAX_BITS = 8
# Weights start with their LSB at 2^-5 whatever their width (HGQ2's default i0 = 2 integer bits with 7
# magnitude bits): fewer bits cut the initial range, not the resolution. With i0 = 2 a 4-bit weight would
# start at a 0.5 LSB, every initial weight would round to 0 and the network would not train.
FIRST_LSB_BITS = 5


def input_quantizer() -> QuantizerConfig:
    """ap_ufixed<8,0>: the raw pixel, fixed (not trained)."""
    return QuantizerConfig('kif', 'datalane', k0=False, i0=0, f0=8, trainable=False, heterogeneous_axis=())


@contextlib.contextmanager
def _quantizer_scopes(weight_bits: int, activation_bits: int, beta0: float):
    """HGQ2 scopes bounding every weight/bias quantizer to weight_bits and every layer input after the first to
    activation_bits, one trainable width per tensor."""
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
        yield


def _build(name: str, layers, weight_bits: int, activation_bits: int, beta0: float) -> keras.Model:
    """The model of a 28x28x1 input through layers(inputs) -> outputs, built inside the quantizer scopes."""
    with _quantizer_scopes(weight_bits, activation_bits, beta0):
        inputs = keras.Input((28, 28, 1), name='input_image')
        return keras.Model(inputs, layers(inputs), name=name)


def build_lenet5(weight_bits: int = MAX_BITS, activation_bits: int = MAX_BITS, beta0: float = 0.0) -> keras.Model:
    """LeNet-5 as used today: Conv 6@5x5+ReLU, MaxPool 2, Conv 16@5x5+ReLU, MaxPool 2, Dense 120/84 + ReLU,
    Dense 10 logits.

    weight_bits bounds every weight and bias quantizer, activation_bits every layer-input (datalane)
    quantizer after the first; the input stays the raw 8-bit pixel."""

    def layers(inputs):
        x = QConv2D(6, 5, activation='relu', iq_conf=input_quantizer(), name='conv1')(inputs)
        x = QMaxPool2D(2, name='pool1')(x)
        x = QConv2D(16, 5, activation='relu', name='conv2')(x)
        x = QMaxPool2D(2, name='pool2')(x)
        x = keras.layers.Flatten(name='flatten')(x)
        x = QDense(120, activation='relu', name='fc1')(x)
        x = QDense(84, activation='relu', name='fc2')(x)
        return QDense(10, name='logits')(x)

    return _build('lenet5', layers, weight_bits, activation_bits, beta0)


def build_lenet5_classic(
    weight_bits: int = MAX_BITS, activation_bits: int = MAX_BITS, beta0: float = 0.0
) -> keras.Model:
    """LeNet-5 as textbooks write it: Conv 6@5x5 'same'+ReLU, AvgPool 2, Conv 16@5x5+ReLU, AvgPool 2,
    Conv 120@5x5+ReLU to 1x1x120 (C5), Dense 84 tanh, Dense 10, softmax (HGQ2's table softmax)."""

    def layers(inputs):
        x = QConv2D(6, 5, padding='same', activation='relu', iq_conf=input_quantizer(), name='c1')(inputs)
        x = QAvgPool2D(2, name='s2')(x)
        x = QConv2D(16, 5, activation='relu', name='c3')(x)
        x = QAvgPool2D(2, name='s4')(x)
        x = QConv2D(120, 5, activation='relu', name='c5')(x)
        x = keras.layers.Flatten(name='flatten')(x)
        x = QDense(84, activation='tanh', name='f6')(x)
        x = QDense(10, name='logits')(x)
        return QSoftmax(name='softmax')(x)

    return _build('lenet5_classic', layers, weight_bits, activation_bits, beta0)


def build_d2l(weight_bits: int = MAX_BITS, activation_bits: int = MAX_BITS, beta0: float = 0.0) -> keras.Model:
    """The LeNet of d2l.ai (trained there on Fashion-MNIST): Conv 6@5x5 padding 2 + sigmoid, AvgPool 2,
    Conv 16@5x5 + sigmoid, AvgPool 2, Dense 120/84 + sigmoid, Dense 10 logits."""

    def layers(inputs):
        x = QConv2D(6, 5, padding='same', activation='sigmoid', iq_conf=input_quantizer(), name='conv1')(inputs)
        x = QAvgPool2D(2, name='pool1')(x)
        x = QConv2D(16, 5, activation='sigmoid', name='conv2')(x)
        x = QAvgPool2D(2, name='pool2')(x)
        x = keras.layers.Flatten(name='flatten')(x)
        x = QDense(120, activation='sigmoid', name='fc1')(x)
        x = QDense(84, activation='sigmoid', name='fc2')(x)
        return QDense(10, name='logits')(x)

    return _build('d2l', layers, weight_bits, activation_bits, beta0)


# --arch name (lenet5_hls.model.ARCHITECTURE_NAMES) -> builder; the models of PROBABILITY_OUTPUTS end in a
# softmax, the others give logits
ARCHITECTURES = dict(zip(ARCHITECTURE_NAMES, (build_lenet5, build_lenet5_classic, build_d2l), strict=True))
PROBABILITY_OUTPUTS = ('lenet5-classic',)


def build(arch: str, weight_bits: int = MAX_BITS, activation_bits: int = MAX_BITS) -> keras.Model:
    try:
        builder = ARCHITECTURES[arch]
    except KeyError:
        raise UserError(f'unknown architecture {arch!r}; choose one of {", ".join(ARCHITECTURES)}') from None
    return builder(weight_bits, activation_bits)


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
