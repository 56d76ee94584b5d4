"""Pipeline spec -> synthesizable Verilog top module wiring the rtl/verilog library, plus ROM files and the
RTL description `<top>.json` (rtl/description.py: ports, packing, every instance with its parameters, the
internal streams, per-layer folding, analytical cycles and latency) for testbenches and reports.

The top module has the interface Vitis HLS gives the hls4ml top function (DESIGN.md contract 3):
ap_clk, ap_rst_n, ap_start/ap_done/ap_idle/ap_ready and <stream>_TDATA/_TVALID/_TREADY, element i
of a beat at TDATA[i*W +: W], TDATA padded to a multiple of 8 bits. Every library module has the
same stream ports (clk, rst, s_axis_*, m_axis_*), so a layer is a chain of stages, joined by the
internal streams s0 (the gated input), s1, ... whose names the description records per stage. ROM files
are referenced relative to the output directory (see rtl/description.py for how tools find them).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lenet5_hls.core.errors import UserError
from lenet5_hls.core.output_dir import fresh_output_dir
from lenet5_hls.core.spec import Layer, Spec
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
from lenet5_hls.rtl.folding import Plan
from lenet5_hls.rtl.folding import plan as make_plan
from lenet5_hls.rtl.params import DENSE_FILE_PARAMS, dense_params, requant_params, type_params, write_mem_files
from lenet5_hls.rtl.timing import pipeline_timing

RTL_DIR = Path(__file__).resolve().parent / 'verilog'
MEM_DIR = 'mem'  # ROM files, in the output directory


class RtlGenerationError(UserError):
    """A spec the RTL back end cannot build; names the layer and the reason."""


@dataclass
class Design:
    spec: Spec
    plan: Plan
    controller: Instance
    stages: list[Stage] = field(default_factory=list)

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


def _window_fifo_depth(layer: Layer, cycles_per_window: int, ii: int) -> int:
    """Windows that queue up while a conv's input rows arrive faster than its MACs consume them.

    Windows are produced while rows KH-1..H-1 of the input arrive (about (H-KH+1)/H of the II) and
    consumed at one per cycles_per_window; twice that backlog absorbs the bursts of the upstream
    pooling. The whole-network test measures the II that results.
    """
    h = layer.input_shape[0] + sum(layer.attrs['padding'][:2])
    kh = layer.attrs['kernel'][0]
    windows = int(np.prod(layer.output_shape[:2]))
    span = ii * (h - kh + 1) / h
    backlog = max(0.0, windows - span / cycles_per_window)
    return max(2, int(np.ceil(2 * backlog)) + 2)


def _check_supported(spec: Spec) -> None:
    for i, layer in enumerate(spec.layers):
        where = f'layer {layer.name!r} ({layer.kind})'
        if layer.kind == 'zeropad2d':
            nxt = spec.layers[i + 1] if i + 1 < len(spec.layers) else None
            if nxt is None or nxt.kind != 'conv2d':
                raise RtlGenerationError(
                    f'{where}: zero padding is built into the next convolution; it must be followed by one'
                )
            if layer.types['output'] != layer.types['input']:
                raise RtlGenerationError(f'{where}: zero padding that changes the type is not supported')
        if layer.kind in ('conv2d', 'maxpool2d', 'avgpool2d'):
            key = 'kernel' if layer.kind == 'conv2d' else 'pool'
            k, pad = layer.attrs[key], layer.attrs['padding']
            if pad[0] >= k[0] or pad[1] >= k[0] or pad[2] >= k[1] or pad[3] >= k[1]:
                raise RtlGenerationError(f'{where}: padding {pad} not smaller than the {k} window')
            if layer.in_elements_per_beat != layer.input_shape[2]:
                raise RtlGenerationError(f'{where}: needs one pixel (all channels) per input beat')
        if layer.kind == 'flatten' and layer.types['output'] != layer.types['input']:
            raise RtlGenerationError(f'{where}: a flatten that changes the type is not supported')


def build_design(
    spec: Spec, out: Path, target_ii: int | None = None, overrides: dict[str, int] | None = None
) -> Design:
    """Choose folding and lay out the stages; writes the ROM files into out/mem."""
    _check_supported(spec)
    beats = [int(np.prod(p.shape)) // p.elements_per_beat for p in (spec.input, spec.output)]
    controller = Instance('ctrl', 'ap_ctrl_stream', 'control', {'IN_BEATS': beats[0], 'OUT_BEATS': beats[1]})
    design = Design(spec, make_plan(spec, target_ii, overrides), controller)
    folding = {p.name: p for p in design.plan.layers}
    pad = [0, 0, 0, 0]
    beat_in = spec.input.elements_per_beat  # elements per beat on the RTL stream into this layer
    for layer in spec.layers:
        t_in, t_out = layer.types['input'], layer.types['output']
        if layer.kind == 'zeropad2d':
            pad = list(layer.attrs['padding'])
            continue
        if layer.kind == 'conv2d':
            h, w, c = layer.input_shape
            if any(pad):  # the zero-padding layer before this one: generated by the window generator
                h, w = h - pad[0] - pad[1], w - pad[2] - pad[3]
            pads = [p + q for p, q in zip(pad, layer.attrs['padding'])]
            kh, kw = layer.attrs['kernel']
            sh, sw = layer.attrs['stride']
            n_in = kh * kw * c
            fp = folding[layer.name]
            design.add(
                f'{layer.name}_window',
                'window_gen',
                layer.name,
                {
                    'IN_H': h,
                    'IN_W': w,
                    'C': c,
                    'ELEM_W': t_in.width,
                    'KH': kh,
                    'KW': kw,
                    'STRIDE_H': sh,
                    'STRIDE_W': sw,
                    'PAD_T': pads[0],
                    'PAD_B': pads[1],
                    'PAD_L': pads[2],
                    'PAD_R': pads[3],
                },
                n_in * t_in.width,
            )
            depth = _window_fifo_depth(layer, fp.cycles_per_vector, design.plan.ii_cycles)
            if fp.cycles_per_vector > 1:
                design.add(
                    f'{layer.name}_fifo',
                    'axis_fifo',
                    layer.name,
                    {'DATA_W': n_in * t_in.width, 'DEPTH': depth},
                    n_in * t_in.width,
                )
            _add_dense(design, layer, fp.multipliers, out)
            pad = [0, 0, 0, 0]
        elif layer.kind == 'dense':
            n_in = layer.input_shape[0]
            if beat_in != n_in:  # hls4ml's dense reads n_in/beat beats into one vector: a width converter
                design.add(
                    f'{layer.name}_gather',
                    'stream_flatten',
                    layer.name,
                    {'ELEM_W': t_in.width, 'C': beat_in, 'BEATS': n_in // beat_in},
                    n_in * t_in.width,
                )
            _add_dense(design, layer, folding[layer.name].multipliers, out)
        elif layer.kind == 'relu':
            design.add(
                layer.name,
                'relu_stream',
                layer.name,
                {'N': beat_in, **requant_params(t_in, t_out)},
                beat_in * t_out.width,
            )
        elif layer.kind in ('maxpool2d', 'avgpool2d'):
            h, w, c = layer.input_shape
            ph, pw = layer.attrs['pool']
            sh, sw = layer.attrs['stride']
            t_acc = layer.types['accum']
            design.add(
                layer.name,
                'pool2d',
                layer.name,
                {
                    'IN_H': h,
                    'IN_W': w,
                    'C': c,
                    'POOL_H': ph,
                    'POOL_W': pw,
                    'STRIDE_H': sh,
                    'STRIDE_W': sw,
                    'POOL_OP': 0 if layer.kind == 'maxpool2d' else 1,
                    **type_params('DIN', t_in),
                    **type_params('ACC', t_acc, modes=True),
                    **type_params('DOUT', t_out, modes=True),
                },
                c * t_out.width,
            )
        elif layer.kind == 'flatten':
            continue  # raster order with channels fastest is already the flattened order: no hardware
        else:  # pragma: no cover - spec validation rejects unknown kinds earlier
            raise RtlGenerationError(f'layer {layer.name!r}: kind {layer.kind} has no RTL')
        beat_in = design.stages[-1].out_width // t_out.width
    return design


def _add_dense(design: Design, layer: Layer, mults: int, out: Path) -> None:
    """The layer's MAC stage; its ROM files go to out/mem, referenced relative to out."""
    w_rel, b_rel = f'{MEM_DIR}/{layer.name}_weights.mem', f'{MEM_DIR}/{layer.name}_biases.mem'
    write_mem_files(layer, mults, out / w_rel, out / b_rel)
    params = dense_params(layer, mults, w_rel, b_rel)
    design.add(
        f'{layer.name}_mac', 'dense_unit', layer.name, params, params['N_OUT'] * params['OUT_W'], DENSE_FILE_PARAMS
    )


def _param_text(value) -> str:
    """Integers as numbers; strings are already Verilog literals (dense_params quotes its file names)."""
    return value if isinstance(value, str) else str(int(value))


def _instance(inst: Instance, ports: list[str]) -> list[str]:
    params = ',\n'.join(f'    .{k}({_param_text(v)})' for k, v in inst.params.items())
    return ['', f'{inst.module} #(', params, f') {inst.instance} (', *ports, ');']


def top_verilog(design: Design) -> str:
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
        f'// II {design.plan.ii_cycles} cycles/image (analytical), {design.plan.multipliers} multipliers.',
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
        'wire rst = !ap_rst_n;',
        '',
        f'wire [{in_bits - 1}:0] {first}_tdata = {i_port.name}_TDATA[{in_bits - 1}:0];',
        f'wire {first}_tvalid;',
        f'wire {first}_tready;',
    ]
    for stage in design.stages:
        lines += [
            f'wire [{stage.out_width - 1}:0] {stage.out_stream}_tdata;  // {stage.instance}',
            f'wire {stage.out_stream}_tvalid;',
            f'wire {stage.out_stream}_tready;',
        ]
    lines += _instance(
        design.controller,
        [
            '    .clk(ap_clk), .rst(rst),',
            '    .ap_start(ap_start), .ap_done(ap_done), .ap_idle(ap_idle), .ap_ready(ap_ready),',
            f'    .s_tvalid({i_port.name}_TVALID), .s_tready({first}_tready),',
            f'    .gate_tvalid({first}_tvalid), .gate_tready({i_port.name}_TREADY),',
            f'    .m_tvalid({last}_tvalid), .m_tready({o_port.name}_TREADY)',
        ],
    )
    for stage in design.stages:
        s_in, s_out = stage.in_stream, stage.out_stream
        lines += _instance(
            stage,
            [
                '    .clk(ap_clk), .rst(rst),',
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


def library_modules(design: Design) -> list[str]:
    """Library files the top needs, dependencies included (fxp_requant is used by the arithmetic ones)."""
    needed = {design.controller.module} | {s.module for s in design.stages}
    deps = {
        'dense_unit': {'fxp_requant'},
        'relu_stream': {'fxp_requant'},
        'pool2d': {'fxp_requant', 'window_gen'},
        'window_gen': {'axis_skid_buffer'},
    }
    changed = True
    while changed:
        extra = set().union(*(deps.get(m, set()) for m in needed)) - needed
        needed |= extra
        changed = bool(extra)
    return sorted(needed)


def description(design: Design, out: Path, files: list[Path]) -> RtlDescription:
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
        folding=Folding.from_plan(design.plan),
        timing=pipeline_timing(
            [(s.instance, s.module, s.params) for s in design.stages], design.controller.params['IN_BEATS']
        ),
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
) -> RtlDescription:
    """Write OUT/<top>.v, OUT/rtl/*.v (library), OUT/mem/*.mem (ROMs) and OUT/<top>.json; returns the description."""
    with fresh_output_dir(out, force, RtlGenerationError) as out:
        (out / MEM_DIR).mkdir(parents=True)
        (out / 'rtl').mkdir()
        design = build_design(spec, out, target_ii, overrides)
        files = []
        for module in library_modules(design):
            shutil.copy(RTL_DIR / f'{module}.v', out / 'rtl' / f'{module}.v')
            files.append(out / 'rtl' / f'{module}.v')
        top = out / f'{spec.project_name}.v'
        top.write_text(top_verilog(design))
        files.append(top)
        desc = description(design, out, files)
        desc.save(out / f'{spec.project_name}.json')
    return desc
