"""Folding: how many multipliers each MAC layer gets so that no layer limits the pipeline's rate.

The target is an initiation interval (II) in clock cycles per image, by default the number of input
beats per image (one input pixel per clock, the physical limit of the input stream). A layer that
computes V vectors of N_IN x N_OUT multiply-accumulates per image with M multipliers needs
V * N_IN*N_OUT/M cycles per image; the smallest M (a divisor of N_IN*N_OUT, as dense_unit requires)
that fits the target is chosen, unless overridden per layer (hls4ml's ReuseFactor = N_IN*N_OUT/M).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from lenet5_hls.core.errors import UserError
from lenet5_hls.core.spec import Layer, Spec


class FoldingError(UserError):
    """A folding override or target that cannot be built."""


@dataclass
class LayerPlan:
    name: str
    kind: str
    multipliers: int
    vectors_per_image: int  # dense_unit input vectors (conv: windows) per image
    macs_per_vector: int
    cycles_per_vector: int
    cycles_per_image: int  # busy cycles of the layer's slowest engine per image
    buffer_bits: int  # line buffers, vector registers, FIFOs
    rom_bits: int  # weights + biases

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Plan:
    target_ii: int
    ii_cycles: int
    input_beats_per_image: int
    layers: list[LayerPlan]

    @property
    def multipliers(self) -> int:
        return sum(layer.multipliers for layer in self.layers)

    @property
    def macs_per_image(self) -> int:
        return sum(layer.vectors_per_image * layer.macs_per_vector for layer in self.layers)

    @property
    def multiplier_lower_bound(self) -> float:
        """Total multiply-accumulates per image / II: no design at this II can use fewer."""
        return self.macs_per_image / self.ii_cycles

    def to_json(self) -> dict:
        return {
            'target_ii_cycles': self.target_ii,
            'ii_cycles': self.ii_cycles,
            'input_beats_per_image': self.input_beats_per_image,
            'multipliers': self.multipliers,
            'macs_per_image': self.macs_per_image,
            'multiplier_lower_bound': round(self.multiplier_lower_bound, 2),
            'multipliers_over_lower_bound': round(self.multipliers / self.multiplier_lower_bound, 3),
            'layers': [layer.to_json() for layer in self.layers],
        }


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def choose_multipliers(macs_per_vector: int, vectors: int, target_ii: int) -> int:
    """Smallest divisor M of macs_per_vector with vectors * macs_per_vector / M <= target_ii."""
    for m in _divisors(macs_per_vector):
        if vectors * (macs_per_vector // m) <= target_ii:
            return m
    return macs_per_vector  # fully parallel: one vector per cycle is the most a dense_unit does


def _window_buffer_bits(layer: Layer, kernel) -> int:
    h, w, c = layer.input_shape
    kh, kw = kernel
    width = layer.types['input'].width
    return ((kh - 1) * w + kh * kw) * c * width


def plan(spec: Spec, target_ii: int | None = None, overrides: dict[str, int] | None = None) -> Plan:
    """Per-layer multipliers and cycle counts; overrides maps layer name -> multipliers."""
    overrides = dict(overrides or {})
    input_beats = int(np.prod(spec.input.shape)) // spec.input.elements_per_beat
    target = target_ii or input_beats
    if target < 1:
        raise FoldingError(f'target II must be >= 1 cycle, got {target}')
    plans = []
    for layer in spec.layers:
        beats_in = int(np.prod(layer.input_shape)) // layer.in_elements_per_beat
        if layer.kind in ('conv2d', 'dense'):
            n_in = int(np.prod(layer.arrays['weight'].shape[:-1]))
            n_out = layer.arrays['weight'].shape[-1]
            macs = n_in * n_out
            vectors = int(np.prod(layer.output_shape[:2])) if layer.kind == 'conv2d' else 1
            if layer.name in overrides:
                m = overrides.pop(layer.name)
                if m < 1 or macs % m:
                    raise FoldingError(
                        f'layer {layer.name}: {m} multipliers do not divide its {n_in}x{n_out}={macs} MACs per vector; '
                        f'choose one of {_divisors(macs)}'
                    )
            else:
                m = choose_multipliers(macs, vectors, target)
            steps = macs // m
            buffers = n_in * layer.types['input'].width * 2  # input vector + skid register
            if layer.kind == 'conv2d':
                buffers += _window_buffer_bits(layer, layer.attrs['kernel'])
            rom = macs * layer.types['weight'].width + n_out * layer.types['bias'].width
            plans.append(
                LayerPlan(layer.name, layer.kind, m, vectors, macs, steps, max(vectors * steps, beats_in), buffers, rom)
            )
        else:
            buffers = 0
            if layer.kind in ('maxpool2d', 'avgpool2d'):
                buffers = _window_buffer_bits(layer, layer.attrs['pool'])
            elif layer.kind == 'flatten':
                buffers = int(np.prod(layer.output_shape)) * layer.types['output'].width
            plans.append(LayerPlan(layer.name, layer.kind, 0, 0, 0, 0, beats_in, buffers, 0))
    if overrides:
        raise FoldingError(f'folding overrides name unknown or non-MAC layers: {", ".join(sorted(overrides))}')
    ii = max([input_beats] + [p.cycles_per_image for p in plans])
    return Plan(target, ii, input_beats, plans)


def parse_overrides(items: list[str] | None) -> dict[str, int]:
    """['conv2=240', 'fc1=48'] -> {'conv2': 240, 'fc1': 48}."""
    result = {}
    for item in items or []:
        name, sep, value = item.partition('=')
        if not sep or not value.strip().isdigit():
            raise FoldingError(f'folding override {item!r}: expected LAYER=MULTIPLIERS, e.g. conv2=240')
        result[name.strip()] = int(value)
    return result
