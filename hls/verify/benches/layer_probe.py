"""Localizes a whole-network mismatch: records the beats handshaked on the internal streams of our
generated top (the description's stages name the stream each drives) and names the first layer whose
stream differs from the golden trace.

Probing every clock slows every passing run, so the scoreboard probes only after a mismatch: it resets
the DUT and replays the first mismatching image with the probes running. Vendor RTL has no internal
streams (and its description no stages): the failure message then says localization is unavailable.
"""

from __future__ import annotations

from dataclasses import dataclass

import cocotb
import numpy as np
from cocotb.triggers import ReadOnly, RisingEdge

from lenet5_hls.rtl.description import Stage
from lenet5_hls.verify.benches.config import BenchConfig
from lenet5_hls.verify.benches.streams import level, unpack
from lenet5_hls.verify.benches.top_bench import assert_bit_exact


def layer_streams(stages: list[Stage]) -> list[tuple[str, str, str]]:
    """(layer, instance, stream) per layer with hardware, in pipeline order: the layer's last stage drives
    the layer's output stream. Flatten and zero padding have no stage, so they are skipped."""
    last = {}
    for stage in stages:
        last[stage.layer] = (stage.layer, stage.instance, stage.out_stream)  # keeps the layer's first position
    return list(last.values())


@dataclass
class Divergence:
    layer: str
    instance: str
    stream: str
    element: int
    expected: int | None  # None: the RTL stream has more elements than the layer's output
    actual: int | None  # None: the RTL stream ended before this element

    def __str__(self) -> str:
        expected, actual = ('nothing' if v is None else v for v in (self.expected, self.actual))
        return (
            f'first diverging layer: {self.layer} ({self.instance}, {self.stream}): element {self.element} '
            f'expected {expected}, RTL {actual}'
        )


def first_divergence(
    streams: list[tuple[str, str, str]], recorded: dict[str, np.ndarray], trace: dict[str, np.ndarray]
) -> Divergence | None:
    """The first layer of `streams` (layer_streams) whose recorded elements differ from its golden output
    for one image (flattened: raster order, channels fastest, as the stream carries it)."""
    for layer, instance, stream in streams:
        want, got = np.ravel(trace[layer]), np.asarray(recorded[layer])
        common = min(len(want), len(got))
        bad = np.flatnonzero(want[:common] != got[:common])
        if bad.size or len(want) != len(got):
            k = int(bad[0]) if bad.size else common
            return Divergence(layer, instance, stream, k, *(int(a[k]) if k < len(a) else None for a in (want, got)))
    return None


class LayerProbe:
    """The tdata of every beat handshaked on chosen internal streams, one coroutine for all: sampled in ReadOnly
    after each rising edge, where valid, ready and data hold what the next edge will transfer."""

    def __init__(self, dut, clk, streams: dict[str, str]):
        """streams: name -> the top's stream (wires <stream>_tvalid/_tready/_tdata)."""
        self.signals = {
            name: [getattr(dut, f'{stream}_{s}') for s in ('tvalid', 'tready', 'tdata')]
            for name, stream in streams.items()
        }
        self.words = {name: [] for name in streams}
        self._task = cocotb.start_soon(self._run(clk))

    async def _run(self, clk):
        while True:
            await RisingEdge(clk)
            await ReadOnly()
            for name, (valid, ready, data) in self.signals.items():
                if level(valid.value) == 1 and level(ready.value) == 1:
                    self.words[name].append(int(data.value))

    def stop(self) -> None:
        self._task.cancel()

    def elements(self, name: str, width: int, signed: bool) -> np.ndarray:
        per_beat = len(self.signals[name][2]) // width
        return np.array([v for word in self.words[name] for v in unpack(word, per_beat, width, signed)], dtype=np.int64)


def load_trace(image: int) -> dict[str, tuple[np.ndarray, int, bool]]:
    """{layer: (golden raw output of one image, element width, signed)} from the case file; {} if absent."""
    case = np.load(BenchConfig.current().case)
    out = {}
    for key in case.files:
        if key.startswith('trace/'):
            layer = key[len('trace/') :]
            width, signed = case[f'trace_type/{layer}']
            out[layer] = (case[key][image], int(width), bool(signed))
    return out


async def localize(bench, image: int, pixels: np.ndarray) -> str:
    """Reset bench's DUT, replay image `image` (pixels: that one image) with probes on every layer's output
    stream and describe the first diverging layer."""
    streams = layer_streams(bench.desc.stages)
    if not streams or any(getattr(bench.dut, f'{stream}_tdata', None) is None for *_, stream in streams):
        return 'first diverging layer: localization unavailable (no internal streams in this RTL, e.g. vendor RTL)'
    trace = load_trace(image)
    if not trace:
        return 'first diverging layer: localization unavailable (the case file has no golden per-layer trace)'
    await bench.reset()
    probe = LayerProbe(bench.dut, bench.clk, {layer: stream for layer, _, stream in streams})
    await bench.send(pixels[None])
    await bench.receive(1)
    probe.stop()
    recorded = {layer: probe.elements(layer, *trace[layer][1:]) for layer, _, _ in streams}
    found = first_divergence(streams, recorded, {layer: values for layer, (values, *_) in trace.items()})
    return str(found) if found else f'first diverging layer: none (image {image} replayed alone matches at every layer)'


async def assert_bit_exact_localized(bench, pixels: np.ndarray, got: np.ndarray, expected: np.ndarray) -> None:
    """assert_bit_exact; on a mismatch the message also names the first diverging layer of the first
    mismatching image (found by replaying it)."""
    try:
        assert_bit_exact(got, expected)
    except AssertionError as e:
        image = int(np.flatnonzero((got != expected).any(axis=1))[0])
        message = str(e).splitlines()[0]  # without the introspection that assertion rewriting appends
        raise AssertionError(f'{message}; {await localize(bench, image, pixels[image])}') from None
