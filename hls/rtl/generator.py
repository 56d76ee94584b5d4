"""Pipeline spec -> synthesizable Verilog top module wiring the rtl/verilog library, plus ROM files and the
RTL description `<top>.json` (rtl/description.py: ports, packing, every instance with its parameters, the
internal streams, per-layer folding, analytical cycles and latency) for testbenches and reports.

The top module has the interface Vitis HLS gives the hls4ml top function (DESIGN.md contract 3):
ap_clk, ap_rst_n, ap_start/ap_done/ap_idle/ap_ready and <stream>_TDATA/_TVALID/_TREADY, element i
of a beat at TDATA[i*W +: W], TDATA padded to a multiple of 8 bits. Every library module has the
same stream ports (clk, rst, s_axis_*, m_axis_*), so a layer is a chain of stages (each kind adds its
own: lenet5_hls.kinds), joined by the internal streams s0 (the gated input), s1, ... whose names the
description records per stage. ROM files are referenced relative to the output directory (see
rtl/description.py for how tools find them).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lenet5_hls.core.errors import UserError
from lenet5_hls.core.fixed_point import FixedType
from lenet5_hls.core.kind import kind
from lenet5_hls.core.output_dir import fresh_output_dir
from lenet5_hls.core.spec import Spec
from lenet5_hls.rtl.description import (
    CONTROL,
    DataFile,
    Folding,
    Instance,
    Reset,
    RtlDescription,
    Stage,
    StreamPort,
    pad8,
)
from lenet5_hls.rtl.device import DEVICES, Device, fit_plan, place_multipliers, space_adder_registers
from lenet5_hls.rtl.device import device as get_device  # `device` is generate()'s argument
from lenet5_hls.rtl.folding import Plan
from lenet5_hls.rtl.timing import MODELLED_IMAGES, Timing, pipeline_timing, register_elements, stream_timing

RTL_DIR = Path(__file__).resolve().parent / 'verilog'
MEM_DIR = 'mem'  # ROM files, in the output directory
# a stream's handshake copies: one per COPY_CHUNK_BITS of the wide register they enable (the library's CHUNK_W)
COPY_CHUNK_BITS = 64
_COPIES_PARAMETER = re.compile(r'\bparameter\s+(?:integer\s+)?([SM]_(?:READY|VALID)_COPIES)\b')
# size_fifos: images of the cycle model per trial (a third of MODELLED_IMAGES' time; the same depths for LeNet-5
# and the textbook one at every II tried, with 2 images too), then MODELLED_IMAGES to check the result
SIZING_IMAGES = 3


class RtlGenerationError(UserError):
    """A spec the RTL back end cannot build; names the layer and the reason."""


@dataclass
class Design:
    spec: Spec
    plan: Plan
    controller: Instance
    out: Path  # output directory: kinds write ROM files into out/mem and reference them relative to it
    stages: list[Stage] = field(default_factory=list)
    device: Device = DEVICES['generic']

    def elements_per_beat(self, t: FixedType) -> int:
        """Elements of type t per beat on the last stream (the next layer's input)."""
        return self.stages[-1].out_width // t.width if self.stages else self.spec.input.elements_per_beat

    def add_fifo(self, instance: str, layer: str, width: int) -> None:
        """An axis_fifo of `width`-bit beats whose depth the generator chooses once every stage is laid out
        (size_fifos; none at all where the cycle model shows the II does not need it)."""
        self.add(instance, 'axis_fifo', layer, {'DATA_W': width, 'DEPTH': None}, width)

    def add(self, instance: str, module: str, layer: str, params: dict, out_width: int, file_params=()) -> None:
        """Append a stage reading the last stream s<n-1> and driving s<n> (out_width data bits)."""
        n = len(self.stages)
        self.stages.append(
            Stage(
                instance,
                module,
                layer,
                params,
                list(file_params),
                in_stream=_stream(n),
                out_stream=_stream(n + 1),
                out_width=out_width,
            )
        )


def _stream(n: int) -> str:
    """Name of the top's internal stream n (wires <name>_tdata/_tvalid/_tready); s0 is the gated input."""
    return f's{n}'


def _check_supported(spec: Spec) -> None:
    """Every layer, before the first ROM file is written."""
    for i, layer in enumerate(spec.layers):
        kind(layer.kind).check_rtl(spec, i, f'layer {layer.name!r} ({layer.kind})')


def build_design(
    spec: Spec,
    out: Path,
    target_ii: int | None = None,
    overrides: dict[str, int] | None = None,
    dev: Device = DEVICES['generic'],
) -> Design:
    """Choose folding (fitting the device's DSP blocks) and lay out the stages, each kind its layers', the
    multipliers on the device's DSP primitives, adder trees registered as the device needs; writes the ROM
    files into out/mem."""
    _check_supported(spec)
    beats = [int(np.prod(p.shape)) // p.elements_per_beat for p in (spec.input, spec.output)]
    controller = Instance('ctrl', 'ap_ctrl_stream', 'control', {'IN_BEATS': beats[0], 'OUT_BEATS': beats[1]})
    design = Design(spec, fit_plan(spec, dev, target_ii, overrides), controller, out, device=dev)
    for i, layer in enumerate(spec.layers):
        kind(layer.kind).emit(design, layer, i)
    design.stages = space_adder_registers(place_multipliers(design.stages, dev), dev)
    size_fifos(design)
    design.stages = copy_handshakes(design.stages)
    return design


def copy_handshakes(stages: list[Stage]) -> list[Stage]:
    """The stages with the handshake of each stream between two that take copies as one copy per 64-bit chunk
    of the wide register it enables, identical flip-flops at one end, decoded one per chunk at the other.

    A ready is copied per chunk of the producer's output register: the consumer drives S_READY_COPIES, the
    producer takes M_READY_COPIES (fc1's ready to the flatten's 2,048-bit vector: 8.0 ns of routing, the clock
    of the whole ecp5-85k design). A valid is copied per chunk of the consumer's output register: the producer
    drives M_VALID_COPIES, the consumer takes S_VALID_COPIES (pool2's valid to the same vector: 7.9 ns)."""
    out = list(stages)
    for k in range(len(out) - 1):
        producer, consumer = out[k], out[k + 1]
        for width, signal in ((producer.out_width, 'READY'), (consumer.out_width, 'VALID')):
            copies = -(-width // COPY_CHUNK_BITS)
            m_param, s_param = f'M_{signal}_COPIES', f'S_{signal}_COPIES'
            if copies > 1 and m_param in copies_taken(producer.module) and s_param in copies_taken(consumer.module):
                out[k] = dataclasses.replace(out[k], params={**out[k].params, m_param: copies})
                out[k + 1] = dataclasses.replace(out[k + 1], params={**out[k + 1].params, s_param: copies})
    return out


@functools.cache
def copies_taken(module: str) -> frozenset[str]:
    """The handshake copies a library module takes (S_READY_COPIES, M_READY_COPIES, S_VALID_COPIES,
    M_VALID_COPIES), read from its parameters: the module's Verilog is the one place that says which."""
    return frozenset(_COPIES_PARAMETER.findall((RTL_DIR / f'{module}.v').read_text()))


def size_fifos(design: Design) -> None:
    """Give each FIFO of Design.add_fifo the fewest beats that keep the II the cycle model gives with every
    such FIFO an image deep (0 beats: the stage is left out), the widest first, so that narrow queues (pixels
    before a window generator) take what a wide one (its windows) need not.

    A queue sized by the model rather than by a formula: how many windows or pixels back up depends on the
    bursts of every stage upstream and the pace of every one downstream."""
    sized = [i for i, s in enumerate(design.stages) if s.module == 'axis_fifo' and s.params['DEPTH'] is None]
    if not sized:
        return
    beats = design.controller.params['IN_BEATS']

    def stages(depths: dict[int, int]) -> list[Stage]:
        return [
            dataclasses.replace(s, params={**s.params, 'DEPTH': depths[i]}) if i in depths else s
            for i, s in enumerate(design.stages)
            if depths.get(i, 1)  # 0 beats: no FIFO
        ]

    def ii(depths: dict[int, int], images: int) -> int:
        return pipeline_timing([(s.instance, s.module, s.params) for s in stages(depths)], beats, images).ii_cycles

    per_image = stream_timing([(s.module, s.params) for s in stages(dict.fromkeys(sized, 1))], beats, images=1)
    deep = {i: per_image[i]['in_per_image'] for i in sized}  # an image deep

    def fewest_beats(images: int, target: int) -> dict[int, int]:
        depths = dict(deep)
        for i in sorted(sized, key=lambda i: -design.stages[i].params['DATA_W']):
            # an image deep meets the target: the FIFOs sized before were sized with this one so
            depths[i] = _fewest(lambda depth, i=i: ii({**depths, i: depth}, images) == target, deep[i])
        return depths

    depths = fewest_beats(SIZING_IMAGES, ii(deep, SIZING_IMAGES))
    target = ii(deep, MODELLED_IMAGES)
    if ii(depths, MODELLED_IMAGES) != target:  # the short model missed what the whole one sees
        depths = fewest_beats(MODELLED_IMAGES, target)
    design.stages = [
        dataclasses.replace(s, in_stream=_stream(n), out_stream=_stream(n + 1)) for n, s in enumerate(stages(depths))
    ]


def _fewest(meets: Callable[[int], bool], cap: int) -> int:
    """The smallest n in 0..cap that meets (monotone; cap does): doubling from 0, then bisection."""
    lo, hi = 0, 0  # hi meets, lo does not (unless both are 0)
    while hi < cap and not meets(hi):
        lo, hi = hi, min(max(1, 2 * hi), cap)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if meets(mid) else (mid, hi)
    return hi


def _param_text(value) -> str:
    """Integers as numbers; strings are already Verilog literals (dense_params quotes its file names)."""
    return value if isinstance(value, str) else str(int(value))


def _instance(inst: Instance, ports: list[str]) -> list[str]:
    params = ',\n'.join(f'    .{k}({_param_text(v)})' for k, v in inst.params.items())
    return ['', f'{inst.module} #(', params, f') {inst.instance} (', *ports, ');']


def top_verilog(design: Design, timing: Timing) -> str:
    spec = design.spec
    top, i_port, o_port = spec.project_name, spec.input, spec.output
    in_bits = i_port.elements_per_beat * i_port.type.width
    out_bits = o_port.elements_per_beat * o_port.type.width
    in_pad, out_pad = pad8(in_bits), pad8(out_bits)
    first = _stream(0)
    last = design.stages[-1].out_stream if design.stages else first
    lines = [
        f'// {top}: generated by lenet5-hls from the pipeline spec of hls4ml project {top!r}; do not edit.',
        f'// Layers: {", ".join(f"{la.name} ({la.kind})" for la in spec.layers)}.',
        f'// II {timing.ii_cycles} cycles/image (analytical), {design.plan.multipliers} multipliers, '
        f'device {design.device.name}.',
        '',
        '`resetall',
        '`timescale 1ns / 1ps',
        '`default_nettype none',
        '',
        f'module {top} (',
        '    input  wire ap_clk,',
        '    input  wire ap_rst_n,',
        '    input  wire ap_start,',
        '    output wire ap_done,',
        '    output wire ap_idle,',
        '    output wire ap_ready,',
        f'    // {i_port.shape} {i_port.type.cpp()}, {i_port.elements_per_beat} per beat',
        f'    input  wire [{in_pad - 1}:0] {i_port.name}_TDATA,',
        f'    input  wire {i_port.name}_TVALID,',
        f'    output wire {i_port.name}_TREADY,',
        f'    // {o_port.shape} {o_port.type.cpp()}, {o_port.elements_per_beat} per beat',
        f'    output wire [{out_pad - 1}:0] {o_port.name}_TDATA,',
        f'    output wire {o_port.name}_TVALID,',
        f'    input  wire {o_port.name}_TREADY',
        ');',
        '',
        '// ap_rst_n registered once for each instance: the stages leave reset one clock after it rises, and each',
        "// instance's reset fans out from a flip-flop of its own that the placer can put among its loads (one",
        '// flip-flop reaching every stage spans the part)',
        f"wire [{len(design.stages)}:0] rst;  // rst[0]: the controller's, rst[k]: stage k's",
        '',
        f"ctrl_copies #(.CTRL_W(1), .COPIES({len(design.stages) + 1}), .RESET_VALUE(1'b1)) rst_copies (",
        "    .clk(ap_clk), .rst(1'b0), .d(!ap_rst_n), .q(rst)",
        ');',
        '',
        f'wire [{in_bits - 1}:0] {first}_tdata = {i_port.name}_TDATA[{in_bits - 1}:0];',
        f'wire {first}_tvalid;',
        f'wire {first}_tready;',
    ]
    for stage in design.stages:
        lines += [f'wire [{stage.out_width - 1}:0] {stage.out_stream}_tdata;  // {stage.instance}']
        for signal in ('valid', 'ready'):
            copies = stage.params.get(f'M_{signal.upper()}_COPIES', 1)
            bus = f'[{copies - 1}:0] ' if copies > 1 else ''
            lines.append(f'wire {bus}{stage.out_stream}_t{signal};')
    lines += _instance(
        design.controller,
        [
            '    .clk(ap_clk), .rst(rst[0]),',
            '    .ap_start(ap_start), .ap_done(ap_done), .ap_idle(ap_idle), .ap_ready(ap_ready),',
            f'    .s_tvalid({i_port.name}_TVALID), .s_tready({first}_tready),',
            f'    .gate_tvalid({first}_tvalid), .gate_tready({i_port.name}_TREADY),',
            f'    .m_tvalid({last}_tvalid), .m_tready({o_port.name}_TREADY)',
        ],
    )
    for k, stage in enumerate(design.stages, 1):
        s_in, s_out = stage.in_stream, stage.out_stream
        lines += _instance(
            stage,
            [
                f'    .clk(ap_clk), .rst(rst[{k}]),',
                f'    .s_axis_tdata({s_in}_tdata), .s_axis_tvalid({s_in}_tvalid), .s_axis_tready({s_in}_tready),',
                f'    .m_axis_tdata({s_out}_tdata), .m_axis_tvalid({s_out}_tvalid), .m_axis_tready({s_out}_tready)',
            ],
        )
    pad_expr = f"{{{out_pad - out_bits}{{1'b0}}}}, " if out_pad > out_bits else ''
    lines += [
        '',
        f'assign {o_port.name}_TDATA = {{{pad_expr}{last}_tdata}};',
        f'assign {o_port.name}_TVALID = {last}_tvalid;',
        f'assign {last}_tready = {o_port.name}_TREADY;',
        '',
        'endmodule',
        '',
        '`resetall',
        '',
    ]
    return '\n'.join(lines)


# the library modules each library module instantiates: the shared ones; a module of one layer kind is
# registered by that kind's module (register_module)
MODULE_DEPENDENCIES = {
    'dense_unit': {'fxp_requant', 'axis_fifo_regs', 'ctrl_copies', 'mult_bank'},
    'pool2d': {'fxp_requant', 'window_gen'},
    'window_gen': {'axis_skid_buffer', 'ctrl_copies'},
    'axis_fifo': {'axis_fifo_regs', 'ctrl_copies'},
    'axis_fifo_regs': {'ctrl_copies'},
    'axis_skid_buffer': {'ctrl_copies'},
    'stream_flatten': {'ctrl_copies'},
}


def register_module(module: str, instantiates: set[str], elements) -> None:
    """A library module of one layer kind (rtl/verilog/<module>.v): the library modules it instantiates, and the
    function giving its cycle model's elements (rtl.timing.register_elements)."""
    if module in MODULE_DEPENDENCIES:
        raise ValueError(f'library module {module!r} is registered twice')
    MODULE_DEPENDENCIES[module] = set(instantiates)
    register_elements(module)(elements)


def with_dependencies(modules) -> list[str]:
    """The library modules given and every module they instantiate, directly or not."""
    needed = set(modules)
    changed = True
    while changed:
        extra = set().union(*(MODULE_DEPENDENCIES.get(m, set()) for m in needed)) - needed
        needed |= extra
        changed = bool(extra)
    return sorted(needed)


def library_modules(design: Design) -> list[str]:
    """Library files the top needs, dependencies included."""
    return with_dependencies({design.controller.module, 'ctrl_copies'} | {s.module for s in design.stages})


def description(design: Design, out: Path, files: list[Path], timing: Timing) -> RtlDescription:
    """The description of the design written into `out` (files: the Verilog sources, the top last)."""
    spec = design.spec
    mems = [f.as_posix() for s in design.stages for f in s.files().values()]  # relative to out, as the top reads them
    return RtlDescription(
        top=spec.project_name,
        source='generated',
        clock='ap_clk',
        reset=Reset('ap_rst_n', active_low=True),
        control=list(CONTROL),
        input=StreamPort.packed(spec.input, 'in'),
        output=StreamPort.packed(spec.output, 'out'),
        files=[f.relative_to(out).as_posix() for f in files],
        top_file=files[-1].relative_to(out).as_posix(),
        data_files=[DataFile(m, m) for m in mems],
        folding=Folding.from_plan(design.plan, timing.ii_cycles),
        timing=timing,
        controller=design.controller,
        stages=design.stages,
        base_dir=out.resolve(),
    )


def generate(
    spec: Spec,
    out: str | os.PathLike,
    target_ii: int | None = None,
    overrides: dict[str, int] | None = None,
    force: bool = False,
    device: str = 'generic',
) -> RtlDescription:
    """Write OUT/<top>.v, OUT/rtl/*.v (library), OUT/mem/*.mem (ROMs) and OUT/<top>.json for the device (a key of
    rtl.device.DEVICES); returns the description."""
    dev = get_device(device)
    with fresh_output_dir(out, force, RtlGenerationError) as out:
        (out / MEM_DIR).mkdir(parents=True)
        (out / 'rtl').mkdir()
        design = build_design(spec, out, target_ii, overrides, dev)
        files = []
        for module in library_modules(design):
            shutil.copy(RTL_DIR / f'{module}.v', out / 'rtl' / f'{module}.v')
            files.append(out / 'rtl' / f'{module}.v')
        top = out / f'{spec.project_name}.v'
        # the cycle model of the stages laid out: the one source of the analytical II and latency
        timing = pipeline_timing(
            [(s.instance, s.module, s.params) for s in design.stages], design.controller.params['IN_BEATS']
        )
        top.write_text(top_verilog(design, timing))
        files.append(top)
        desc = description(design, out, files, timing)
        desc.save(out / f'{spec.project_name}.json')
    return desc
