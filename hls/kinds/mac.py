"""What conv2d and dense share: a weight matrix times each input vector, by one dense_unit in the RTL.

hls4ml's dense_latency arithmetic (golden._mac); weights read through hls4ml's own text formatting and
the weight type's cast, as the C++ loads them; folding chooses the multipliers (a divisor of the MACs per
vector); the ROM files and parameters come from rtl/params.py.
"""

from __future__ import annotations

import numpy as np

from lenet5_hls.core.fixed_point import FixedType
from lenet5_hls.core.kind import LayerKind
from lenet5_hls.core.spec import Layer, SpecError
from lenet5_hls.frontend.extract import fixed_type, loaded_weights, require_multiplication
from lenet5_hls.rtl.folding import FoldingError, LayerPlan, choose_multipliers, divisors
from lenet5_hls.rtl.generator import MEM_DIR, Design
from lenet5_hls.rtl.params import DENSE_FILE_PARAMS, dense_params, write_mem_files


class MacKind(LayerKind):
    """A kind whose layer is a weight matrix (n_in = all but the last weight axis) and a bias per output."""

    types = ('input', 'weight', 'bias', 'accum', 'output')
    arrays = ('weight', 'bias')

    @staticmethod
    def read_weights(hls_layer, types: dict[str, FixedType], where: str) -> dict[str, np.ndarray]:
        """Adds the weight, bias and accum types to `types`; returns the weight and bias arrays."""
        for t in ('weight', 'bias', 'accum'):
            types[t] = fixed_type(hls_layer.get_attr(f'{t}_t').precision, f'{where} {t}_t')
        require_multiplication(hls_layer, 'weight', where)
        return {k: loaded_weights(hls_layer, k, types[k]) for k in ('weight', 'bias')}

    @staticmethod
    def check_bias(layer: Layer, where: str) -> None:
        n_out = layer.output_shape[-1]
        if layer.arrays['bias'].shape != (n_out,):
            raise SpecError(f'{where}.arrays.bias: shape {layer.arrays["bias"].shape}, expected {(n_out,)}')

    def vectors_per_image(self, layer: Layer) -> int:
        """Input vectors the dense_unit multiplies per image (conv2d: one per window)."""
        return 1

    def input_buffer_bits(self, layer: Layer) -> int:
        """Buffers before the vector register (conv2d: its line buffer)."""
        return 0

    def plan(self, layer: Layer, target_ii: int, override: int | None, beats_in: int) -> LayerPlan:
        n_in = int(np.prod(layer.arrays['weight'].shape[:-1]))
        n_out = layer.arrays['weight'].shape[-1]
        macs = n_in * n_out
        vectors = self.vectors_per_image(layer)
        if override is None:
            m = choose_multipliers(macs, vectors, target_ii)
        elif override < 1 or macs % override:
            raise FoldingError(
                f'layer {layer.name}: {override} multipliers do not divide its {n_in}x{n_out}={macs} MACs per vector; '
                f'choose one of {divisors(macs)}'
            )
        else:
            m = override
        steps = macs // m
        buffers = n_in * layer.types['input'].width * 2 + self.input_buffer_bits(layer)  # + vector and skid register
        rom = macs * layer.types['weight'].width + n_out * layer.types['bias'].width
        cycles = max(vectors * steps, beats_in)
        return LayerPlan(layer.name, layer.kind, m, vectors, macs, steps, cycles, buffers, rom)

    @staticmethod
    def add_dense_unit(design: Design, layer: Layer) -> None:
        """The layer's MAC stage; its ROM files go to out/mem, referenced relative to out."""
        mults = design.plan.layer(layer.name).multipliers
        w_rel, b_rel = f'{MEM_DIR}/{layer.name}_weights.mem', f'{MEM_DIR}/{layer.name}_biases.mem'
        write_mem_files(layer, mults, design.out / w_rel, design.out / b_rel)
        params = dense_params(layer, mults, w_rel, b_rel)
        design.add(
            f'{layer.name}_mac', 'dense_unit', layer.name, params, params['N_OUT'] * params['OUT_W'], DENSE_FILE_PARAMS
        )
