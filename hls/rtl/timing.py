"""Analytical latency of the generated RTL pipeline: an event-time (max-plus) recurrence per stream beat.

Each library module is reduced to a few recurrences on the clock cycles of its beats, taken from its
Verilog and asserted by its testbench: when an input beat is handshaken (offered by the upstream and
accepted by the module) and when each output beat is first offered. Backpressure is part of it: a module
that is full accepts a beat only one cycle after the downstream took an earlier one, so a FIFO filling
behind a folded MAC stalls the window generator and, in a design slower than its input, the input.
The input offers one beat per clock, the consumer is always ready. Times are computed lazily in beat
order (every constraint refers to earlier beats), one pass, exact to the cycle for these modules.

Latency = cycles from the handshake of an image's first input beat to that of its first output beat.

A module's recurrences are registered under its name (register_elements): the shared modules' here, a module
of one layer kind's in that kind's module (lenet5_hls.kinds), with its Verilog module (generator.register_module).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lenet5_hls.rtl.params import dense_folding, dense_pipeline


@dataclass
class StageTiming:
    """One stage's first image: cycles of its first input, first and last output handshake (cycle 0 = the
    network's first input beat), and first output minus first input."""

    instance: str
    module: str
    first_in: int
    first_out: int
    last_out: int
    latency: int


@dataclass
class Timing:
    """The analytical figures of a pipeline (pipeline_timing)."""

    latency_cycles: int
    steady_state_latency_cycles: int
    ii_cycles: int
    images_modelled: int
    stages: list[StageTiming]


def window_geometry(p: dict) -> dict:
    """window_gen's scan (parameters as its Verilog): output size, ROWS x COLS scan positions per image
    (one per clock), and the scan position that completes the last window."""
    ph, pw = p['IN_H'] + p['PAD_T'] + p['PAD_B'], p['IN_W'] + p['PAD_L'] + p['PAD_R']
    oh, ow = (ph - p['KH']) // p['STRIDE_H'] + 1, (pw - p['KW']) // p['STRIDE_W'] + 1
    last_row = (oh - 1) * p['STRIDE_H'] + p['KH'] - 1
    last_col = (ow - 1) * p['STRIDE_W'] + p['KW'] - 1
    rows = max(p['IN_H'], last_row + 1 - p['PAD_T'])
    cols = max(p['IN_W'], last_col + 1 - p['PAD_L'])
    return dict(
        out_h=oh,
        out_w=ow,
        rows=rows,
        cols=cols,
        ii=rows * cols,
        last_pos=(last_row - p['PAD_T']) * cols + (last_col - p['PAD_L']),
    )


class Element:
    """A piece of a module; up/down are its neighbours. acc[i]: handshake cycle of input beat i;
    out[j]: first cycle output beat j is offered (its handshake is down.accepted(j))."""

    def __init__(self):
        self.up = self.down = None
        self.acc: list[int] = []
        self.out: list[int] = []

    def accepted(self, i: int) -> int:
        while len(self.acc) <= i:
            self._accept_next()
        return self.acc[i]

    def offered(self, j: int) -> int:
        while len(self.out) <= j:
            self._offer_next()
        return self.out[j]


class _Source(Element):
    """Continuous input: the next beat is offered the cycle after the previous handshake."""

    def offered(self, j: int) -> int:
        return self.down.accepted(j - 1) + 1 if j else 0


class _Sink(Element):
    """Always-ready consumer."""

    def accepted(self, i: int) -> int:
        return self.up.offered(i)


class Buffer(Element):
    """DEPTH-beat register stage, latency 1, registered ready (axis_fifo; DEPTH 2: axis_skid_buffer,
    relu_stream, table_act_stream, param_relu_stream, each stage of scale_bias_stream and the output registers of
    window_gen and pool2d)."""

    def __init__(self, depth: int):
        super().__init__()
        self.depth = depth

    def ready(self, i: int) -> int:
        """Holds at most DEPTH beats: beat i waits until beat i-DEPTH left, one cycle earlier."""
        return self.down.accepted(i - self.depth) + 1 if i >= self.depth else 0

    def _accept_next(self):
        i = len(self.acc)
        self.acc.append(max(self.up.offered(i), self.ready(i)))

    def _offer_next(self):
        j = len(self.out)
        self.out.append(max(self.accepted(j), self.down.accepted(j - 1) if j else 0) + 1)


class _Scan(Element):
    """window_gen's raster scan: one position per clock, waiting at a real pixel for the input and at
    a window's corner for room in its output register; padding positions take no input."""

    def __init__(self, p: dict):
        super().__init__()
        g = window_geometry(p)
        r0, c0 = p['KH'] - 1 - p['PAD_T'], p['KW'] - 1 - p['PAD_L']
        self.pattern = [
            (
                iy < p['IN_H'] and ix < p['IN_W'],
                iy >= r0 and (iy - r0) % p['STRIDE_H'] == 0 and ix >= c0 and (ix - c0) % p['STRIDE_W'] == 0,
            )
            for iy in range(g['rows'])
            for ix in range(g['cols'])
        ]
        self.pos, self.t = 0, -1  # scan positions done, cycle of the last one

    def _step(self):
        need_in, emit = self.pattern[self.pos % len(self.pattern)]
        t = self.t + 1
        if need_in:
            t = max(t, self.up.offered(len(self.acc)))
        if emit:
            t = max(t, self.down.ready(len(self.out)))
        self.pos, self.t = self.pos + 1, t
        if need_in:
            self.acc.append(t)
        if emit:
            self.out.append(t)

    _accept_next = _offer_next = _step


class _Dense(Element):
    """dense_unit: a vector is loaded when it arrives and the previous one is done (one waits in the
    input skid register); it starts the cycle after, or once fewer than CREDITS started vectors are left
    in the unit (one leaves when the output FIFO hands it on; the count is registered), then issues STEPS
    steps on consecutive cycles. The last step's result enters the output FIFO ACC_STAGE + 2 cycles later."""

    def __init__(self, p: dict):
        super().__init__()
        _, _, self.steps = dense_folding(p['N_IN'], p['N_OUT'], p['MULTS'])
        self.acc_stage, self.credits = dense_pipeline(p)
        self.load: list[int] = []  # cycle the vector enters the compute register
        self.done: list[int] = []  # cycle of its last step

    def _accept_next(self):
        i = len(self.acc)
        a = max(self.up.offered(i), self.load[i - 1] + 1) if i else self.up.offered(0)
        load = max(a, self.done[i - 1]) if i else a
        start = load + 1
        if i >= self.credits:
            start = max(start, self.down.accepted(i - self.credits) + 1)
        self.acc.append(a)
        self.load.append(load)
        self.done.append(start + self.steps - 1)

    def _offer_next(self):
        j = len(self.out)
        self.accepted(j)
        pushed = self.done[j] + self.acc_stage + 2  # into the output FIFO (never full: credits)
        self.out.append(max(pushed, self.down.accepted(j - 1) if j else 0) + 1)


class _Flatten(Element):
    """stream_flatten: BEATS beats into one vector, offered 1 cycle after the last; while a vector waits
    for the consumer no input is taken."""

    def __init__(self, beats: int):
        super().__init__()
        self.beats = beats

    def _accept_next(self):
        k = len(self.acc)
        n = k // self.beats
        self.acc.append(max(self.up.offered(k), self.down.accepted(n - 1) if n else 0))

    def _offer_next(self):
        n = len(self.out)
        self.out.append(self.accepted((n + 1) * self.beats - 1) + 1)


# library module -> (its parameters, input beats per image) -> (its elements in stream order, output beats per image)
ELEMENTS: dict[str, Callable[[dict, int], tuple[list[Element], int]]] = {}


def register_elements(module: str):
    """Decorator: the function giving a library module's elements; one per module."""

    def add(fn):
        if module in ELEMENTS:
            raise ValueError(f'timing elements of {module!r} are registered twice')
        ELEMENTS[module] = fn
        return fn

    return add


@register_elements('window_gen')
def _window_gen(p: dict, beats_in: int) -> tuple[list[Element], int]:
    g = window_geometry(p)
    return [_Scan(p), Buffer(2)], g['out_h'] * g['out_w']  # its output register


@register_elements('pool2d')
def _pool2d(p: dict, beats_in: int) -> tuple[list[Element], int]:
    pads = {k: p.get(k, 0) for k in ('PAD_T', 'PAD_B', 'PAD_L', 'PAD_R')}
    scan = dict(p, KH=p['POOL_H'], KW=p['POOL_W'], **pads)
    g = window_geometry(scan)
    # window_gen's output register, then its tree and output registers
    return [_Scan(scan), Buffer(2), Buffer(2), Buffer(2)], g['out_h'] * g['out_w']


@register_elements('dense_unit')
def _dense_unit(p: dict, beats_in: int) -> tuple[list[Element], int]:
    return [_Dense(p)], beats_in


@register_elements('stream_flatten')
def _stream_flatten(p: dict, beats_in: int) -> tuple[list[Element], int]:
    return [_Flatten(p['BEATS'])], beats_in // p['BEATS']


@register_elements('axis_fifo')
def _axis_fifo(p: dict, beats_in: int) -> tuple[list[Element], int]:
    return [Buffer(p['DEPTH'])], beats_in


@register_elements('axis_skid_buffer')
def two_beat_stage(p: dict, beats_in: int) -> tuple[list[Element], int]:
    """A two-beat register stage (axis_skid_buffer; the element-wise stream modules register theirs with it)."""
    return [Buffer(2)], beats_in


def _elements(module: str, p: dict, beats_in: int) -> tuple[list[Element], int]:
    """The elements of one library module and its output beats per image."""
    if module not in ELEMENTS:
        raise ValueError(f'no timing model for module {module}')
    return ELEMENTS[module](p, beats_in)


def stream_timing(stages: list[tuple[str, dict]], beats_in: int, images: int) -> list[dict]:
    """Per stage (module, params), for `images` images streamed back to back: the handshake cycle of
    every input beat ('in') and output beat ('out'), cycle 0 = the network's first input beat."""
    chain: list[Element] = [_Source()]
    spans = []  # per stage: first element, last element, beats per image in and out
    for module, p in stages:
        elems, beats_out = _elements(module, p, beats_in)
        spans.append((elems[0], elems[-1], beats_in, beats_out))
        chain += elems
        beats_in = beats_out
    chain.append(_Sink())
    for a, b in zip(chain, chain[1:]):
        a.down, b.up = b, a
    chain[-1].accepted(images * beats_in - 1)  # pull the last image through: computes everything in order
    return [
        {
            'in': [first.accepted(i) for i in range(images * b_in)],
            'in_per_image': b_in,
            'out': [last.down.accepted(j) for j in range(images * b_out)],
            'out_per_image': b_out,
        }
        for first, last, b_in, b_out in spans
    ]


def pipeline_timing(stages: list[tuple[str, str, dict]], beats_in: int, images: int = 10) -> Timing:
    """The timing of the RTL description, from stages (instance, module, params): latency of the
    first image after reset and of the last of `images` back-to-back images (steady state; larger when
    the design is slower than its input, whose first beats are then taken before the pipeline drains),
    the II, and per stage the first image's first input, first and last output handshake (cycle 0 = the
    network's first input beat)."""
    r = stream_timing([(module, p) for _, module, p in stages], beats_in, images)
    first, last = r[0], r[-1]
    starts = [first['in'][n * first['in_per_image']] for n in range(images)]
    ends = [last['out'][n * last['out_per_image']] for n in range(images)]
    return Timing(
        latency_cycles=ends[0] - starts[0],
        steady_state_latency_cycles=ends[-1] - starts[-1],
        ii_cycles=ends[-1] - ends[-2],
        images_modelled=images,
        stages=[
            StageTiming(
                name,
                module,
                first_in=x['in'][0],
                first_out=x['out'][0],
                last_out=x['out'][x['out_per_image'] - 1],
                latency=x['out'][0] - x['in'][0],
            )
            for (name, module, _), x in zip(stages, r)
        ],
    )
