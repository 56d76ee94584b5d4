"""What the element-wise kinds share (relu, the table and piecewise-linear activations): one output element
per input element, so the shape stays, and a stream stage without multipliers. The table kinds (sigmoid,
tanh, unary_lut) also share the table in the spec, the lookup and cast, and their RTL stage (table_act_stream)."""

from __future__ import annotations

import numpy as np

from lenet5_hls.core.fixed_point import FixedType, cast
from lenet5_hls.core.kind import LayerKind
from lenet5_hls.core.spec import SpecError
from lenet5_hls.frontend.extract import UnsupportedLayer, describe, fixed_type
from lenet5_hls.rtl.folding import stream_plan
from lenet5_hls.rtl.generator import MEM_DIR, register_module
from lenet5_hls.rtl.params import TABLE_FILE_PARAMS, table_act_params, write_table_file
from lenet5_hls.rtl.timing import two_beat_stage

register_module('table_act_stream', {'fxp_requant', 'axis_skid_buffer'}, two_beat_stage)


class Elementwise(LayerKind):
    def check(self, layer, where):
        if layer.input_shape != layer.output_shape:
            raise SpecError(
                f'{where}: {self.name} must keep its shape, got {layer.input_shape} -> {layer.output_shape}'
            )
        # hls4ml's io_stream code of these layers reads one input beat per output beat: behind a Flatten (its
        # stream keeps the feature map's beats, the layer's output type is the flat vector) it reads too few
        if layer.in_elements_per_beat != layer.out_elements_per_beat:
            raise SpecError(
                f'{where}: {self.name} reads a stream of {layer.in_elements_per_beat} elements per beat and writes '
                f"one of {layer.out_elements_per_beat} (it follows a Flatten); hls4ml's io_stream {self.name} reads "
                'one input beat per output beat, so its C simulation reads past the end of its input and stalls. '
                'Put the layer before the Flatten'
            )

    def plan(self, layer, target_ii, override, beats_in):
        return stream_plan(layer, beats_in)


MAX_TABLE_SIZE = 1 << 20  # entries of a lookup table (hls4ml's default is 1,024; HGQ2 sizes it to the input)


class TableLookup(Elementwise):
    """y = table[index(x)] assigned to the output type; the table (table_size raw table_t integers) is in the
    spec, so the golden model and the RTL ROM read the same array. Subclasses give the index."""

    attrs = ('table_size',)
    types = ('input', 'table', 'output')
    arrays = ('table',)
    # table_act_stream's index: log2 of the divisor of the scaled index (sigmoid, tanh), None for the raw bits
    div_log2: int | None = None

    @staticmethod
    def read_table(hls_layer, types: dict[str, FixedType]) -> int:
        """Adds table_t to `types`; returns hls4ml's table_size, refused beyond MAX_TABLE_SIZE."""
        where = describe(hls_layer)
        types['table'] = fixed_type(hls_layer.get_attr('table_t').precision, f'{where} table_t')
        size = int(hls_layer.get_attr('table_size'))
        if size > MAX_TABLE_SIZE:
            raise UnsupportedLayer(
                f'{where}: hls4ml made its table {size:,} entries (input {types["input"].cpp()}), more than '
                f'{MAX_TABLE_SIZE:,}: its C simulation allocates the whole table and no FPGA holds it; narrow the '
                "layer's input type (the quantizer or precision before it) or set a smaller table_size in the config"
            )
        return size

    def index(self, raw: np.ndarray, t_in: FixedType, table_size: int) -> np.ndarray:
        """The table index of raw inputs of type t_in, before clamping to the table (int64)."""
        raise NotImplementedError

    def check(self, layer, where):
        size = layer.attrs['table_size']
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise SpecError(f'{where}.attrs.table_size: expected an integer >= 1, got {size!r}')
        if layer.arrays['table'].shape != (size,):
            raise SpecError(f'{where}.arrays.table: shape {layer.arrays["table"].shape}, expected ({size},)')
        super().check(layer, where)

    def plan(self, layer, target_ii, override, beats_in):
        return stream_plan(layer, beats_in, rom_bits=layer.attrs['table_size'] * layer.types['table'].width)

    def golden(self, x, layer):
        size = layer.attrs['table_size']
        index = np.clip(self.index(x, layer.types['input'], size), 0, size - 1)
        return cast(layer.arrays['table'][index], layer.types['table'].frac, layer.types['output'])

    def emit(self, design, layer, index):
        beat = design.elements_per_beat(layer.types['input'])
        rel = f'{MEM_DIR}/{layer.name}_table.mem'
        write_table_file(layer, design.out / rel)
        params = table_act_params(layer, beat, self.div_log2, rel)
        width = beat * layer.types['output'].width
        design.add(layer.name, 'table_act_stream', layer.name, params, width, TABLE_FILE_PARAMS)
