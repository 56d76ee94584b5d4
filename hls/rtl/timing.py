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
    """window_gen's scan (parameters as its Verilog): output size, a ROWS x COLS grid of scan positions per
    image (one per clock; ROWS x COLS = IN_H x IN_W for 'same' padding), what each position does, the flush.

    Windows whose right edge lies in the right padding are emitted while the next row's first columns are
    scanned (HT of them per row; those find no window of their own row there), windows whose bottom edge lies
    in the bottom padding while the next image's first rows are (HR rows); padding positions that cannot be
    overlapped like this (E columns, ER rows: pads wider than the kernel's margin or than the image) are scanned
    on their own with no input taken. When the next image is not there at its first position, the scan flushes
    instead: FLUSH positions of the next image's grid walked with no input, then the image starts over.
    grid[i] = (takes an input beat, emits a window of this image, emits one of the previous image)."""
    kh, kw, sh, sw = p['KH'], p['KW'], p['STRIDE_H'], p['STRIDE_W']
    in_h, in_w = p['IN_H'], p['IN_W']
    ph, pw = in_h + p['PAD_T'] + p['PAD_B'], in_w + p['PAD_L'] + p['PAD_R']
    oh, ow = (ph - kh) // sh + 1, (pw - kw) // sw + 1
    # image row / column of the first and last window's bottom-right corner (past the image: in the padding)
    r0, c0 = kh - 1 - p['PAD_T'], kw - 1 - p['PAD_L']
    last_r, last_c = (oh - 1) * sh + r0, (ow - 1) * sw + c0
    rows_pad, cols_pad = max(0, last_r + 1 - in_h), max(0, last_c + 1 - in_w)  # padding rows/columns with windows
    ht = min(cols_pad, c0, in_w)
    hr = min(rows_pad, r0, in_h - (ht > 0))
    rows, cols = in_h + rows_pad - hr, in_w + cols_pad - ht
    flush = hr * cols + ht

    def win(y: int, x: int) -> bool:
        return r0 <= y <= last_r and (y - r0) % sh == 0 and c0 <= x <= last_c and (x - c0) % sw == 0

    def tail(y: int, hx: int) -> bool:  # the window of row y whose right edge is hosted at column hx
        return hx < ht and win(y, cols + hx)

    grid = [
        (
            y < in_h and x < in_w,
            win(y, x) or (y >= 1 and tail(y - 1, x)),
            (y < hr and win(rows + y, x)) or (y <= hr and tail(rows + y - 1, x)),
        )
        for y in range(rows)
        for x in range(cols)
    ]
    emits = [i for i, (_, own, _) in enumerate(grid) if own]
    flushed = [i for i, (_, _, prev) in enumerate(grid[:flush]) if prev]
    return dict(
        out_h=oh,
        out_w=ow,
        rows=rows,
        cols=cols,
        ii=rows * cols,
        grid=grid,
        flush=flush,
        # scan position of an image's last window when no image follows (counted from its first position)
        last_pos=rows * cols + flushed[-1] if flushed else emits[-1],
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


NEVER = 1 << 62  # the offer cycle of a beat past the last one
MODELLED_IMAGES = 10  # pipeline_timing's back-to-back images: the II is the last two's output spacing


class _Source(Element):
    """BEATS beats: the next offered the cycle after the previous handshake; or, given the cycle each beat was
    first offered (a testbench's pauses), then."""

    def __init__(self, beats: int, schedule: list[int] | None = None):
        super().__init__()
        self.beats, self.schedule = beats, schedule

    def offered(self, j: int) -> int:
        if j >= self.beats:
            return NEVER
        if self.schedule is not None:
            return self.schedule[j]
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
    """window_gen's scan: one grid position per clock, waiting at an input position for the input and at a
    window for room in its output register. The first position of an image that follows one with windows left
    over (window_geometry's flush > 0) does not wait: the input there scans the image, its absence the flush."""

    def __init__(self, p: dict):
        super().__init__()
        self.g = window_geometry(p)
        self.pos, self.t = 0, -1  # grid position, cycle of the last step
        self.merged = False  # the positions also emit the previous image's left-over windows
        self.decide = False  # at the first position of such an image
        self.flushing = False  # walking the grid for the previous image's windows, no input taken

    def _step(self):
        g, i = self.g, self.pos
        real, own, prev = g['grid'][i]
        if self.flushing:
            real, own = False, False
        emit = own or (self.merged and prev)
        t = self.t + 1
        if real and not self.decide:
            t = max(t, self.up.offered(len(self.acc)))
        if emit:
            t = max(t, self.down.ready(len(self.out)))
        self.t = t
        if emit:
            self.out.append(t)
        if self.decide:
            self.decide = False
            self.flushing = self.up.offered(len(self.acc)) > t
        if real and not self.flushing:
            self.acc.append(t)
        self.pos = i + 1
        if self.flushing and self.pos == g['flush']:
            self.pos, self.flushing, self.merged = 0, False, False  # the image starts over, alone
        elif self.pos == len(g['grid']):
            self.pos, self.merged = 0, g['flush'] > 0
            self.decide = self.merged

    _accept_next = _offer_next = _step


class _Dense(Element):
    """dense_unit: a vector is loaded when it arrives and the previous one is done (one waits in the
    input skid register); it starts the cycle after, or once fewer than CREDITS started vectors are left
    in the unit (one leaves a clock after the output FIFO hands it on; the count is registered), then issues STEPS
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
            start = max(start, self.down.accepted(i - self.credits) + 2)
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


def stream_timing(
    stages: list[tuple[str, dict]], beats_in: int, images: int, offered: list[int] | None = None
) -> list[dict]:
    """Per stage (module, params), for `images` images streamed back to back: the handshake cycle of
    every input beat ('in') and output beat ('out'), cycle 0 = the network's first input beat.
    offered: the cycle each input beat is first offered, when the input pauses (default: continuous)."""
    chain: list[Element] = [_Source(images * beats_in, offered)]
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


def pipeline_timing(stages: list[tuple[str, str, dict]], beats_in: int, images: int = MODELLED_IMAGES) -> Timing:
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
