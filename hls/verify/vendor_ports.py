"""Describe RTL that Vivado HLS / Vitis HLS synthesized from our hls4ml project (`syn/verilog`), so the
whole-network cocotb testbench (verify/benches/top_bench.py) drives it exactly like our generated top.

The top module's ports are read from the Verilog text (ANSI or the non-ANSI headers the vendor tools
emit) and matched to the pipeline spec's streams, in one of the two layouts of DESIGN.md contract 3:
packed (Vitis HLS: `<name>_TDATA`, element i at [i*W +: W]) or split (Vivado HLS:
`<name>_V_data_<i>_V_TDATA`, one stream per array element). The result is an RtlDescription
(rtl/description.py) without folding, timing and instances (vendor RTL has no folding plan): the
testbench's watchdog uses `timeout_cycles` instead, and `data_files` lists the ROM images the sources
read with a relative `$readmemh` path; the simulator's working directory must hold a copy of each
(RtlDescription.copy_data_files).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from lenet5_hls.core.errors import UserError
from lenet5_hls.core.spec import Port, Spec
from lenet5_hls.rtl.description import CONTROL, DataFile, Lane, Reset, RtlDescription, StreamPort, pad8

RESETS = {'ap_rst_n': True, 'ap_rst': False}  # name -> active low
# Watchdog per output beat: vendor II/latency is unknown (reuse factor, dataflow FIFOs), so be generous.
TIMEOUT_CYCLES_PER_INPUT_BEAT = 100
TIMEOUT_CYCLES_MIN = 10_000


class VendorRtlError(UserError):
    """Vendor RTL that does not match the spec or cannot be read; names the port, expected and found."""


@dataclass
class HdlPort:
    name: str
    direction: str  # input | output | inout
    width: int | None  # None: a range that is not two integer literals


def _strip(text: str) -> str:
    """Verilog text without comments and attributes (Vivado puts (* CORE_GENERATION_INFO ... *) before the top)."""
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.DOTALL)
    text = re.sub(r'//[^\n]*', ' ', text)
    return re.sub(r'\(\*[^)]*?\*\)', ' ', text)


def _balanced(text: str, start: int) -> int:
    """Index just past the parenthesis group opening at text[start] == '('."""
    depth = 0
    for i in range(start, len(text)):
        depth += {'(': 1, ')': -1}.get(text[i], 0)
        if depth == 0:
            return i + 1
    raise VendorRtlError('unbalanced parentheses in a module header')


def _declaration(text: str) -> tuple[str, int | None, list[str]] | None:
    """'input wire signed [7:0] a, b' -> ('input', 8, ['a', 'b']); None if text is no port declaration."""
    m = re.match(
        r'\s*(input|output|inout)\b\s*(?:(?:wire|reg|logic|var|signed|unsigned)\b\s*)*(?:\[([^\]]*)\])?(.*)$',
        text,
        re.DOTALL,
    )
    if not m:
        return None
    width = None
    if m.group(2) is None:
        width = 1
    elif r := re.fullmatch(r'\s*(\d+)\s*:\s*(\d+)\s*', m.group(2)):
        width = abs(int(r.group(1)) - int(r.group(2))) + 1
    return m.group(1), width, [n.strip() for n in m.group(3).split(',') if n.strip()]


def module_ports(text: str, top: str) -> list[HdlPort] | None:
    """Ports of module `top` in Verilog `text` (ANSI or non-ANSI header), in header order; None if absent."""
    text = _strip(text)
    m = re.search(rf'\bmodule\s+{re.escape(top)}\b\s*', text)
    if not m:
        return None
    pos = m.end()
    if text.startswith('#', pos):
        pos = re.compile(r'\s*').match(text, _balanced(text, text.index('(', pos))).end()
    header = ''
    if text.startswith('(', pos):
        end = _balanced(text, pos)
        header, pos = text[pos + 1 : end - 1], end
    body_end = re.compile(r'\bendmodule\b').search(text, pos)
    body = text[pos : body_end.start() if body_end else len(text)]
    ports: dict[str, HdlPort] = {}
    items = [s.strip() for s in header.split(',') if s.strip()]
    if any(_declaration(s) for s in items):  # ANSI: a declaration's direction and width carry over to bare names
        direction, width = None, None
        for item in items:
            decl = _declaration(item)
            if decl:
                direction, width, names = decl
            else:
                names = [item]
            for name in names:
                ports[name] = HdlPort(name, direction, width)
        return list(ports.values())
    for stmt in body.split(';'):  # non-ANSI: the header lists names, the body declares them
        decl = _declaration(stmt)
        for name in decl[2] if decl else []:
            if name in items:
                ports[name] = HdlPort(name, decl[0], decl[1])
    missing = [n for n in items if n not in ports]
    if missing:
        raise VendorRtlError(f'module {top}: no input/output declaration for port(s) {", ".join(missing)}')
    return [ports[n] for n in items]


def _sources(verilog: str | os.PathLike | list) -> list[Path]:
    if isinstance(verilog, (list, tuple)):
        files = [Path(f).resolve() for f in verilog]
    else:
        d = Path(verilog)
        if not d.is_dir():
            raise VendorRtlError(f"{d}: not a directory of Verilog files (the vendor project's syn/verilog)")
        files = sorted(p.resolve() for p in d.glob('*.v'))
    if not files:
        raise VendorRtlError(f'{verilog}: no Verilog (*.v) files')
    return files


def _rom_files(files: list[Path], base: Path) -> list[DataFile]:
    """Files read by `$readmemh("./x.dat")` with a relative path: they sit beside the Verilog (vendor layout)
    but are opened relative to the simulator's working directory. Paths relative to base."""
    out = {}
    for f in files:
        for ref in re.findall(r'\$readmem[hb]\s*\(\s*"([^"]+)"', f.read_text(errors='replace')):
            if Path(ref).is_absolute():
                continue
            data = f.parent / Path(ref).name
            if not data.is_file():
                raise VendorRtlError(f'{f.name} reads {ref!r} ($readmem), but {data} does not exist')
            out[os.path.normpath(ref)] = DataFile(_relative(data, base), os.path.normpath(ref))
    return [out[k] for k in sorted(out)]


def _relative(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path, base)).as_posix()


def _check(ports: dict[str, HdlPort], name: str, direction: str, width: int, what: str) -> None:
    p = ports.get(name)
    if p is None:
        raise VendorRtlError(f'{what}: port {name} missing')
    if p.direction != direction or p.width != width:
        found = f'{p.direction} of {p.width if p.width is not None else "unknown (non-literal range)"} bit(s)'
        raise VendorRtlError(f'{what}: port {name} is {found}, expected {direction} of {width} bit(s)')


def _stream(ports: dict[str, HdlPort], p: Port, direction: str) -> StreamPort:
    """The spec port `p` as a description port, with its lanes in the layout found."""
    w, n = p.type.width, p.elements_per_beat
    ins, outs = ('input', 'output') if direction == 'in' else ('output', 'input')
    what = f'stream {p.name} ({direction}put, {n} x {p.type.cpp()} per beat)'
    split = {
        int(m.group(1)): m.group(0)
        for m in (re.fullmatch(rf'{re.escape(p.name)}_V_data_(\d+)_V_TDATA', q) for q in ports)
        if m
    }
    if f'{p.name}_TDATA' in ports:
        port = StreamPort.packed(p, direction)
        lane = port.lanes[0]
        _check(
            ports,
            lane.tdata,
            ins,
            lane.tdata_width,
            f'{what}, packed layout (Vitis HLS): {n} x {w} bits padded to a multiple of 8',
        )
        _check(ports, lane.tvalid, ins, 1, what)
        _check(ports, lane.tready, outs, 1, what)
        return port
    if split:
        if sorted(split) != list(range(n)):
            raise VendorRtlError(
                f'{what}, split layout (Vivado HLS): expected lanes {p.name}_V_data_<i>_V for i = 0..{n - 1}, '
                f'found i = {", ".join(map(str, sorted(split)))}'
            )
        lanes = []
        for i in range(n):
            prefix = f'{p.name}_V_data_{i}_V'
            lane = Lane(prefix, f'{prefix}_TDATA', f'{prefix}_TVALID', f'{prefix}_TREADY', pad8(w), 1)
            _check(
                ports,
                lane.tdata,
                ins,
                lane.tdata_width,
                f'{what}, split layout (Vivado HLS): one {w}-bit element padded to a multiple of 8',
            )
            _check(ports, lane.tvalid, ins, 1, what)
            _check(ports, lane.tready, outs, 1, what)
            lanes.append(lane)
        return StreamPort(p.name, direction, p.shape, p.type, n, 'split', lanes)
    raise VendorRtlError(
        f'{what}: unknown layout, neither {p.name}_TDATA (Vitis HLS) nor {p.name}_V_data_<i>_V_TDATA '
        f'(Vivado HLS) among the ports ({", ".join(ports)})'
    )


def describe_vendor_rtl(verilog: str | os.PathLike | list, spec: Spec, top: str | None = None) -> RtlDescription:
    """Description of vendor RTL (a `syn/verilog` directory, every *.v in it, or a list of files) for
    TopBench, checked against `spec`, its paths relative to the sources' common directory; raises
    VendorRtlError naming what does not match."""
    files = _sources(verilog)
    top = top or spec.project_name
    found = [(f, ports) for f in files if (ports := module_ports(f.read_text(errors='replace'), top)) is not None]
    if not found:
        raise VendorRtlError(
            f'no module {top!r} in the {len(files)} Verilog file(s) of {verilog} '
            f'(the top is named like the HLS project; pass top=... if it differs)'
        )
    top_file, ports = found[0][0], {p.name: p for p in found[0][1]}
    _check(ports, 'ap_clk', 'input', 1, 'clock')
    reset = next((r for r in RESETS if r in ports), None)
    if reset is None:
        raise VendorRtlError(f'module {top}: no reset port (expected ap_rst_n or ap_rst)')
    _check(ports, reset, 'input', 1, 'reset')
    control = [c for c in CONTROL if c in ports]
    for c in control:
        _check(ports, c, 'input' if c == 'ap_start' else 'output', 1, 'block control')
    i_port, o_port = _stream(ports, spec.input, 'in'), _stream(ports, spec.output, 'out')
    known = {'ap_clk', reset, *control}
    known |= {name for p in (i_port, o_port) for ln in p.lanes for name in (ln.tdata, ln.tvalid, ln.tready)}
    undriven = [p.name for p in ports.values() if p.name not in known and p.direction != 'output']
    if undriven:
        raise VendorRtlError(
            f'module {top}: input port(s) {", ".join(undriven)} unknown to the testbench (it drives only '
            f'ap_clk, the reset, ap_start and the streams {spec.input.name}, {spec.output.name})'
        )
    base = Path(os.path.commonpath([f.parent for f in files]))
    return RtlDescription(
        top=top,
        source='vendor',
        clock='ap_clk',
        reset=Reset(reset, RESETS[reset]),
        control=control,
        input=i_port,
        output=o_port,
        files=[_relative(f, base) for f in files],
        top_file=_relative(top_file, base),
        data_files=_rom_files(files, base),
        timeout_cycles=max(TIMEOUT_CYCLES_MIN, TIMEOUT_CYCLES_PER_INPUT_BEAT * i_port.beats_per_image),
        base_dir=base,
    )
