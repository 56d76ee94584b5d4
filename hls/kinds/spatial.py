"""What the (H, W, C) kinds share: hls4ml's size attributes, the spec's rules for padding and sliding windows,
the RTL's limits on windows and the line buffer's size (conv2d, max/average pooling, zero padding)."""

from __future__ import annotations

from lenet5_hls.core.spec import Layer, SpecError
from lenet5_hls.rtl.generator import RtlGenerationError


def hls4ml_hw(hls_layer, prefix: str) -> list[int]:
    """[height, width] from hls4ml's PREFIX_height and PREFIX_width attributes (filt, pool, stride)."""
    return [hls_layer.get_attr(f'{prefix}_height'), hls_layer.get_attr(f'{prefix}_width')]


def hls4ml_padding(hls_layer) -> list[int]:
    """[top, bottom, left, right], the spec's padding order."""
    return [hls_layer.get_attr(f'pad_{side}') for side in ('top', 'bottom', 'left', 'right')]


def check_ints(layer: Layer, attr: str, where: str, minimum: int = 1, length: int = 2) -> tuple[int, ...]:
    """attrs[attr] as `length` integers >= minimum (a height and width by default)."""
    value = layer.attrs.get(attr)
    if (
        not isinstance(value, list)
        or len(value) != length
        or not all(isinstance(v, int) and v >= minimum for v in value)
    ):
        raise SpecError(f'{where}.attrs.{attr}: expected {length} integers >= {minimum}, got {value!r}')
    return tuple(value)


def padded_size(layer: Layer, where: str) -> tuple[int, int]:
    """(H, W) of the input with the layer's padding; checks the shapes are (H, W, C) and the padding attr."""
    ins, outs = layer.input_shape, layer.output_shape
    if len(ins) != 3 or len(outs) != 3:
        raise SpecError(f'{where}: a {layer.kind} layer needs (H, W, C) shapes, got {ins} -> {outs}')
    pad = check_ints(layer, 'padding', where, 0, 4)
    return ins[0] + pad[0] + pad[1], ins[1] + pad[2] + pad[3]


def window_positions(layer: Layer, window: str, where: str) -> tuple[int, int]:
    """(OH, OW): positions of the window (attr `window`, e.g. kernel) sliding by `stride` over the padded input."""
    ph, pw = padded_size(layer, where)
    kh, kw = check_ints(layer, window, where)
    sh, sw = check_ints(layer, 'stride', where)
    return (ph - kh) // sh + 1, (pw - kw) // sw + 1


def check_output_shape(layer: Layer, expected: tuple[int, ...], where: str) -> None:
    if layer.output_shape != expected:
        raise SpecError(
            f'{where}.output_shape: {layer.output_shape} does not follow from input {layer.input_shape} '
            f'and the attrs (expected {expected})'
        )


def check_window_rtl(layer: Layer, window: str, where: str) -> None:
    """window_gen pads inside the window and reads one pixel per beat."""
    k, pad = layer.attrs[window], layer.attrs['padding']
    if pad[0] >= k[0] or pad[1] >= k[0] or pad[2] >= k[1] or pad[3] >= k[1]:
        raise RtlGenerationError(f'{where}: padding {pad} not smaller than the {k} window')
    if layer.in_elements_per_beat != layer.input_shape[2]:
        raise RtlGenerationError(f'{where}: needs one pixel (all channels) per input beat')


def window_buffer_bits(layer: Layer, window: str) -> int:
    """window_gen's line buffer and window registers."""
    h, w, c = layer.input_shape
    kh, kw = layer.attrs[window]
    return ((kh - 1) * w + kh * kw) * c * layer.types['input'].width
