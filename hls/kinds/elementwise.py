"""What the element-wise kinds share (relu, the table and piecewise-linear activations): one output element
per input element, so the shape stays, and a stream stage without multipliers."""

from __future__ import annotations

from lenet5_hls.core.kind import LayerKind
from lenet5_hls.core.spec import SpecError
from lenet5_hls.rtl.folding import stream_plan


class Elementwise(LayerKind):
    def check(self, layer, where):
        if layer.input_shape != layer.output_shape:
            raise SpecError(
                f'{where}: {self.name} must keep its shape, got {layer.input_shape} -> {layer.output_shape}'
            )

    def plan(self, layer, target_ii, override):
        return stream_plan(layer)
