"""Folding: how many multipliers each MAC layer gets so that no layer limits the pipeline's rate.

The target is an initiation interval (II) in clock cycles per image, by default the number of input
beats per image (one input pixel per clock, the physical limit of the input stream). A layer that
computes V vectors of N_IN x N_OUT multiply-accumulates per image with M multipliers needs
V * N_IN*N_OUT/M cycles per image; the smallest M (a divisor of N_IN*N_OUT, as dense_unit requires)
that fits the target is chosen, unless overridden per layer (hls4ml's ReuseFactor = N_IN*N_OUT/M).
Each kind plans its own layers (lenet5_hls.kinds) with the helpers here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from lenet5_hls.core.errors import UserError
from lenet5_hls.core.kind import kind
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
    rom_bits: int  # weights + biases, lookup tables

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Plan:
    target_ii: int
    ii_cycles: int
    input_beats_per_image: int
    layers: list[LayerPlan]

    def layer(self, name: str) -> LayerPlan:
        return {p.name: p for p in self.layers}[name]

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
            # a network without multiply-accumulates (e.g. only table lookups) meets its bound of 0
            'multipliers_over_lower_bound': round(self.multipliers / self.multiplier_lower_bound, 3)
            if self.macs_per_image
            else 1.0,
            'layers': [layer.to_json() for layer in self.layers],
        }


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def choose_multipliers(macs_per_vector: int, vectors: int, target_ii: int) -> int:
    """Smallest divisor M of macs_per_vector with vectors * macs_per_vector / M <= target_ii."""
    for m in divisors(macs_per_vector):
        if vectors * (macs_per_vector // m) <= target_ii:
            return m
    return macs_per_vector  # fully parallel: one vector per cycle is the most a dense_unit does


def input_beats(layer: Layer) -> int:
    """Beats per image on the layer's input stream."""
    return int(np.prod(layer.input_shape)) // layer.in_elements_per_beat


def stream_plan(layer: Layer, beats_in: int, buffer_bits: int = 0, rom_bits: int = 0) -> LayerPlan:
    """A layer without multipliers: busy one cycle per beat of the stream its RTL takes."""
    return LayerPlan(layer.name, layer.kind, 0, 0, 0, 0, beats_in, buffer_bits, rom_bits)


def plan(spec: Spec, target_ii: int | None = None, overrides: dict[str, int] | None = None) -> Plan:
    """Per-layer multipliers and cycle counts (each kind plans its layers); overrides maps layer name -> multipliers."""
    overrides = overrides or {}
    input_beats_per_image = int(np.prod(spec.input.shape)) // spec.input.elements_per_beat
    target = target_ii or input_beats_per_image
    if target < 1:
        raise FoldingError(f'target II must be >= 1 cycle, got {target}')
    plans, beats = [], None
    for i, layer in enumerate(spec.layers):
        # the beats of the stream the layer's RTL takes: its input's, or those of a layer built into it
        if not (i and kind(spec.layers[i - 1].kind).builds_into_next):
            beats = input_beats(layer)
        plans.append(kind(layer.kind).plan(layer, target, overrides.get(layer.name), beats))
    unused = set(overrides) - {p.name for p in plans if p.multipliers}
    if unused:
        raise FoldingError(f'folding overrides name unknown or non-MAC layers: {", ".join(sorted(unused))}')
    ii = max([input_beats_per_image] + [p.cycles_per_image for p in plans])
    return Plan(target, ii, input_beats_per_image, plans)


def parse_overrides(items: list[str] | None) -> dict[str, int]:
    """['conv2=240', 'fc1=48'] -> {'conv2': 240, 'fc1': 48}."""
    result = {}
    for item in items or []:
        name, sep, value = item.partition('=')
        if not sep or not value.strip().isdigit():
            raise FoldingError(f'folding override {item!r}: expected LAYER=MULTIPLIERS, e.g. conv2=240')
        result[name.strip()] = int(value)
    return result
