"""Resource estimates of the generated RTL from open tools, per layer and total, beside the multiplier
budget hls4ml declares for the same model.

Yosys `synth_xilinx` (7-series cells: LUT, FD*, DSP48E1, RAMB18/36, LUTRAM, SRL, CARRY4) runs on every
instance of the top separately, its library module with the parameters the RTL description `<top>.json`
lists for that instance (ROM files by absolute path; the instances are independent, so Yosys runs on them
in parallel, as tasks of the execution layer); `synth -noabc` of the same module, in another process,
gives a technology-independent cell count. Each worker caches the runs' results by content (inputs, Yosys
version, script): a later report or sweep with the same stages does not run Yosys again. The top module
adds only wires. Summing stages ignores optimization across stage boundaries (e.g. unused output bits),
which flat synthesis could remove.

The hls4ml side comes from the project `lenet5-hls hls` writes: `firmware/parameters.h` holds, per
layer, the `nnet::dense_config` its multiply kernel is compiled with (`reuse_factor`, `strategy` and
`multiplier_limit`, the limit of `#pragma HLS ALLOCATION operation instances=mul` in nnet's dense
latency kernel), `hls4ml_config.yml` the part and clock the project targets.
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import re
import resource
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import yaml

from lenet5_hls.core.cache import cache_dir, keyed_file, tool_version
from lenet5_hls.core.errors import ToolMissing, UserError
from lenet5_hls.core.execution import pack_files, run_child, run_tasks, unpack_files
from lenet5_hls.rtl.description import Instance, RtlDescription

log = logging.getLogger(__name__)

YOSYS_PACKAGE = 'yosys'
COUNTS = ('lut', 'ff', 'dsp', 'bram', 'bram18', 'bram36', 'lutram', 'srl', 'carry', 'muxf', 'cells')
# Two Yosys runs per stage, one per flow; {sources}, {chparam}, {module}, {flow}, {stat_json} are filled in.
# Separate processes: `design -save`/`-load` of the elaborated design before synth_xilinx changed its
# result here (fc1's MAC: 9,030 instead of 2,888 LUTs, with 4,096 LUT1 and 6,160 MUXF7/8 more).
SCRIPT = """read_verilog -defer {sources}
{chparam}
hierarchy -check -top {module}
{flow}
tee -q -o {stat_json} stat -json
"""
FLOWS = {
    'xilinx': 'synth_xilinx -family xc7 -flatten -noiopad -noclkbuf -top {module}',
    'generic': 'synth -flatten -noabc -top {module}',
}
# Xilinx cell type -> counter; a RAMB36 counts as one BRAM, a RAMB18 as half.
_CELL_KINDS = [
    (r'LUT[1-6]$', 'lut'),
    (r'FD', 'ff'),
    (r'DSP48', 'dsp'),
    (r'RAMB18', 'bram18'),
    (r'RAMB36', 'bram36'),
    (r'RAM(32|64|128|256)', 'lutram'),
    (r'SRL', 'srl'),
    (r'(CARRY|MUXCY|XORCY)', 'carry'),
    (r'MUXF', 'muxf'),
]


class ResourceError(UserError):
    """Yosys failed on a stage, or the RTL / hls4ml project is not what the report expects."""


def yosys_exe() -> str:
    exe = shutil.which('yosys')
    if exe is None:
        raise ToolMissing(
            f'yosys not found on PATH: install the Debian package `{YOSYS_PACKAGE}` (apt-get install {YOSYS_PACKAGE})'
        )
    return exe


def yosys_version(exe: str) -> str:
    return tool_version(exe, '-V')


def load_rtl(rtl_dir: Path) -> RtlDescription:
    """The RTL description of a directory written by `lenet5-hls rtl`."""
    desc_file = next(Path(rtl_dir).glob('*.json'), None)
    if desc_file is None:
        raise ResourceError(f'{rtl_dir}: no <top>.json; generate the RTL with `lenet5-hls rtl` first')
    return RtlDescription.load(desc_file)


def literal(value: int | str) -> str:
    """chparam value: Yosys cannot parse -4, a 32-bit signed literal it can; strings are Verilog literals."""
    return f"32'sh{value & 0xFFFFFFFF:08x}" if isinstance(value, int) and value < 0 else str(value)


def stage_script(inst: Instance, flow: str, sources: list[Path], stat_json: Path) -> str:
    sets = ' '.join(f'-set {k} {literal(v)}' for k, v in inst.params.items())
    return SCRIPT.format(
        sources=' '.join(str(s) for s in sources),
        chparam=f'chparam {sets} {inst.module}' if sets else '',
        module=inst.module,
        flow=FLOWS[flow].format(module=inst.module),
        stat_json=stat_json,
    )


def xilinx_counts(cells: dict[str, int]) -> dict[str, float]:
    """Group `stat -json` cell types of a synth_xilinx netlist into the counters of COUNTS."""
    counts = dict.fromkeys(COUNTS[:-1], 0)
    for cell, n in cells.items():
        kind = next((k for pattern, k in _CELL_KINDS if re.match(pattern, cell)), None)
        if kind:
            counts[kind] += n
    counts['bram'] = counts['bram36'] + counts['bram18'] / 2
    return counts


def synth_run(exe: str, inst: Instance, flow: str, sources: list[Path], work: Path) -> tuple[dict, float]:
    """One flow of FLOWS on one instance's module with its parameters: `stat -json` design figures, seconds."""
    stat_json, script, log = (work / f'{inst.instance}.{flow}.{ext}' for ext in ('json', 'ys', 'log'))
    script.write_text(stage_script(inst, flow, sources, stat_json))
    start = time.monotonic()
    proc = run_child([exe, '-q', '-l', str(log), '-s', str(script)], capture_output=True, text=True)
    if proc.returncode != 0:
        tail = log.read_text()[-2000:] if log.exists() else ''
        raise ResourceError(
            f'yosys ({flow}) failed on {inst.instance} ({inst.module}):\n{proc.stdout}{proc.stderr}\n{tail}'
        )
    return json.loads(stat_json.read_text())['design'], time.monotonic() - start


def stage_counts(inst: Instance, runs: dict[str, tuple[dict, float]]) -> dict:
    """The report row of one instance from its runs (flow -> synth_run result): 7-series counts from
    synth_xilinx, the generic cell count from synth -noabc, Yosys seconds of both."""
    xilinx = runs['xilinx'][0]['num_cells_by_type']
    return {
        'instance': inst.instance,
        'module': inst.module,
        **xilinx_counts(xilinx),
        'cells': runs['generic'][0]['num_cells'],
        'xilinx_cells': xilinx,
        'seconds': round(sum(sec for _, sec in runs.values()), 1),
    }


def _cost(inst: Instance) -> int:
    """Rough synthesis effort, to start the longest runs first: multipliers, else wide stream data."""
    return int(inst.params.get('MULTS', 0)) * 1000 + int(inst.params.get('DATA_W', 0))


def run_key(inst: Instance, flow: str, sources: list[Path]) -> str:
    """Identity of one Yosys run: module, flow, parameters with ROM files by content, library sources.
    Equal keys give equal netlists, so a batch synthesizes each once (e.g. a sweep's ReLU stages)."""
    h = hashlib.sha256(f'{inst.module}\n{flow}\n'.encode())
    files = inst.files()
    for name, value in sorted(inst.params.items()):
        h.update(f'{name}='.encode() + (files[name].read_bytes() if name in files else str(value).encode()) + b'\n')
    for src in sources:
        h.update(src.name.encode() + b'\n' + src.read_bytes())
    return h.hexdigest()


def packed_run(inst: Instance, files: list[Path], *args) -> tuple:
    """A tool run's task input: the sources and the instance's ROM files packed (pack_files), the instance's
    file parameters and the sources relative to the pack's root, then args."""
    root, packed = pack_files([*files, *inst.files().values()])
    return packed, inst.relocated(start=root), [Path(f).resolve().relative_to(root) for f in files], *args


def unpacked_run(packed: dict[str, bytes], inst: Instance, files: list[Path], tmp: Path) -> tuple[Instance, list[Path]]:
    """On a worker: packed_run's files under tmp, the instance and the sources with absolute paths there."""
    root = unpack_files(packed, tmp / 'src')
    return inst.relocated(base_dir=root), [root / f for f in files]


def cache_key(key: str, inst: Instance, flow: str, sources: list[Path], version: str) -> str:
    """Identity of a run's result across batches: its run_key, the Yosys version and the script (file paths
    left out: run_key holds the files' contents)."""
    inst = replace(inst, params={k: '"FILE"' if k in inst.file_params else v for k, v in inst.params.items()})
    script = stage_script(inst, flow, [Path(s.name) for s in sources], Path('stat.json'))
    return hashlib.sha256(f'{key}\n{version}\n{script}'.encode()).hexdigest()


def _synth_task(
    packed: dict[str, bytes], inst: Instance, sources: list[Path], flow: str, key: str
) -> tuple[dict, float, bool]:
    """synth_run as a task: its inputs packed (packed_run), (figures, Yosys seconds, taken from the cache)
    returned. Results are cached on the worker (cache_dir('yosys')) by cache_key: a later report or sweep
    on that machine reuses them."""
    exe = yosys_exe()
    entry = cache_dir('yosys') / f'{cache_key(key, inst, flow, sources, yosys_version(exe))}.json'

    def make() -> bytes:
        with tempfile.TemporaryDirectory(prefix='lenet5_yosys_') as tmp:
            tool_inst, tool_sources = unpacked_run(packed, inst, sources, Path(tmp))
            (Path(tmp) / 'work').mkdir()
            design, seconds = synth_run(exe, tool_inst, flow, tool_sources, Path(tmp) / 'work')
        return json.dumps({'design': design, 'seconds': seconds}).encode()

    data, made = keyed_file(entry, make)
    result = json.loads(data)
    return result['design'], result['seconds'], not made


def synthesize(
    descs: list[RtlDescription], jobs: int = 2, progress=log.info
) -> tuple[str, list[list[tuple[Instance, dict]]], int]:
    """Every instance of every design's top synthesized, `jobs` Yosys runs at a time (tasks), runs with
    equal run_key once, results the workers' caches hold taken from there; (Yosys version, per design
    [(instance, stage_counts)], runs taken from a cache)."""
    exe = yosys_exe()
    designs = [(desc.instances(), desc.source_files(top=False)) for desc in descs]
    keys = [
        [{flow: run_key(inst, flow, sources) for flow in FLOWS} for inst in instances] for instances, sources in designs
    ]
    unique = {}
    for (instances, sources), design_keys in zip(designs, keys):
        for inst, by_flow in zip(instances, design_keys):
            for flow, key in by_flow.items():
                unique.setdefault(key, (inst, flow, sources))
    tasks = sorted(unique.items(), key=lambda item: _cost(item[1][0]), reverse=True)

    def report(k: int, result: tuple[dict, float, bool]) -> None:
        inst, flow = tasks[k][1][:2]
        design, seconds, cached = result
        progress(
            f'[synth] {inst.instance} ({inst.module}) {flow}: {design["num_cells"]:,} cells, {seconds:.1f} s'
            + (' (cached)' if cached else '')
        )

    results = run_tasks(
        _synth_task,
        [packed_run(inst, sources, flow, key) for key, (inst, flow, sources) in tasks],
        'yosys',
        'run',
        at_once=jobs,
        done=report,
    )
    runs = {key: result[:2] for (key, _), result in zip(tasks, results)}
    per_design = [
        [
            (inst, stage_counts(inst, {f: runs[k] for f, k in by_flow.items()}))
            for inst, by_flow in zip(instances, design_keys)
        ]
        for (instances, _), design_keys in zip(designs, keys)
    ]
    return yosys_version(exe), per_design, sum(cached for *_, cached in results)


# ---- what hls4ml declares ----

_OPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.FloorDiv: lambda a, b: a // b,
}


def _eval_field(name: str, fields: dict[str, str]) -> int:
    """Value of a `static const unsigned` field: integer arithmetic, DIV_ROUNDUP and other fields."""

    def ev(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name) and node.id in fields:
            return _eval_field(node.id, fields)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.Call) and getattr(node.func, 'id', '') == 'DIV_ROUNDUP' and len(node.args) == 2:
            a, b = ev(node.args[0]), ev(node.args[1])
            return -(-a // b)
        raise ResourceError(f'parameters.h: cannot evaluate {name} = {fields[name]}')

    return ev(ast.parse(fields[name].replace('/', '//'), mode='eval').body)


_STRUCT = re.compile(r'^struct (\w+) : nnet::(\w+) \{\n(.*?)^\};', re.M | re.S)
_FIELD = re.compile(r'static const (?:unsigned|bool) (\w+)\s*=\s*([^;]+);', re.S)
_LAYER_COMMENT = re.compile(r'^// (\w+)\n', re.M)


def hls4ml_budgets(hls_dir: Path) -> dict[str, dict]:
    """Per hls4ml layer: reuse factor, strategy and multiplier limit of the dense_config its multiply
    kernel uses (a conv's `configN_mult`, a dense layer's `configN`), from firmware/parameters.h."""
    path = hls_dir / 'firmware' / 'parameters.h'
    if not path.exists():
        raise ResourceError(
            f'{hls_dir}: no firmware/parameters.h; write the hls4ml project with `lenet5-hls hls` first'
        )
    text = path.read_text()
    start = text.index('insert layer-config')
    blocks = _LAYER_COMMENT.split(text[start:])[1:]  # name, body, name, body, ...
    budgets = {}
    for name, body in zip(blocks[::2], blocks[1::2]):
        for struct, base, fields_text in _STRUCT.findall(body):
            fields = {k: v.strip() for k, v in _FIELD.findall(fields_text)}
            if base == 'dense_config' and 'multiplier_limit' in fields:
                budgets[name] = {
                    'struct': struct,
                    'reuse_factor': _eval_field('reuse_factor', fields),
                    'strategy': fields.get('strategy', '').removeprefix('nnet::'),
                    'multiplier_limit': _eval_field('multiplier_limit', fields),
                    'n_in': _eval_field('n_in', fields),
                    'n_out': _eval_field('n_out', fields),
                }
    return budgets


class _IgnoreTags(yaml.SafeLoader):
    """hls4ml_config.yml tags the Keras model path (!keras_model); the report does not need it."""


_IgnoreTags.add_multi_constructor('!', lambda loader, suffix, node: None)


def hls4ml_project(hls_dir: Path) -> dict:
    """The target hls4ml declares in hls4ml_config.yml: part, clock, backend, io type, model-level HLSConfig."""
    cfg = yaml.load((hls_dir / 'hls4ml_config.yml').read_text(), Loader=_IgnoreTags)
    model = cfg.get('HLSConfig', {}).get('Model', {})
    return {
        'backend': cfg.get('Backend'),
        'part': cfg.get('Part'),
        'clock_period_ns': cfg.get('ClockPeriod'),
        'io_type': cfg.get('IOType'),
        'strategy': model.get('Strategy'),
        'reuse_factor': model.get('ReuseFactor'),
    }


# ---- the report ----


def _sum(rows: list[dict]) -> dict:
    return {k: sum(r[k] for r in rows) for k in COUNTS}


def _cpu_since(before) -> float:
    """CPU seconds of finished child processes since `before`: Yosys' effort, whatever else loads the machine."""
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def resource_reports(designs: list[tuple], jobs: int = 2, progress=log.info) -> list[dict]:
    """Yosys estimates per layer and total for each (rtl_dir, hls_dir) of `designs`, with our folding's
    multipliers and hls4ml's declared budgets (from hls_dir; None for RTL of a hand-written spec) per
    layer. One pool of `jobs` Yosys processes serves all designs; `tool` times are the whole batch's.
    Raises ToolMissing without yosys."""
    start, cpu_start = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
    yosys_exe()  # a missing tool first, before the designs are read
    descs = [load_rtl(rtl_dir) for rtl_dir, _ in designs]
    version, per_design, cached = synthesize(descs, jobs, progress)
    tool = {
        'yosys': version,
        'target': 'synth_xilinx -family xc7 (7-series cells)',
        'script': SCRIPT,
        'flows': FLOWS,
        'per': "one process per flow and top-level instance: its module with that instance's parameters",
        'jobs': jobs,
        'cached_runs': cached,  # results of earlier runs in the workers' caches; stage seconds are those runs'
        'wall_seconds': round(time.monotonic() - start, 1),
        'yosys_cpu_seconds': round(_cpu_since(cpu_start), 1),
    }
    return [
        _design_report(desc, hls_dir, results, tool) for desc, (_, hls_dir), results in zip(descs, designs, per_design)
    ]


def _design_report(desc: RtlDescription, hls_dir, results: list[tuple[Instance, dict]], tool: dict) -> dict:
    ours = {la.name: la.multipliers for la in desc.folding.layers}
    budgets = hls4ml_budgets(Path(hls_dir)) if hls_dir is not None else {}
    layers = []
    for name in dict.fromkeys(inst.layer for inst, _ in results):
        stages = [r for inst, r in results if inst.layer == name]
        declared = budgets.get(name, {})
        layers.append(
            {
                'layer': name,
                'stages': stages,
                **_sum(stages),
                'our_multipliers': ours.get(name, 0),
                'hls4ml_multiplier_limit': declared.get('multiplier_limit'),
                'hls4ml_reuse_factor': declared.get('reuse_factor'),
                'hls4ml_strategy': declared.get('strategy'),
                'hls4ml_config_struct': declared.get('struct'),
            }
        )
    total = {
        **_sum(layers),
        'our_multipliers': sum(la['our_multipliers'] for la in layers),
        'hls4ml_multiplier_limit': sum(b['multiplier_limit'] for b in budgets.values()) if budgets else None,
    }
    return {
        'tool': tool,
        'hls4ml': hls4ml_project(Path(hls_dir)) if hls_dir is not None else None,
        'layers': layers,
        'total': total,
    }


def resource_report(rtl_dir, hls_dir, jobs: int = 2, progress=log.info) -> dict:
    """resource_reports of one design."""
    return resource_reports([(rtl_dir, hls_dir)], jobs, progress)[0]


def fmt_count(v) -> str:
    """A table cell: '-' for missing, thousands separators for counts."""
    if v is None:
        return '-'
    return f'{v:g}' if isinstance(v, float) else f'{v:,}'


def markdown(report: dict) -> str:
    """The per-layer table of a resource_report, Markdown, total last."""
    cols = [
        ('LUT', 'lut'),
        ('FF', 'ff'),
        ('DSP48E1', 'dsp'),
        ('BRAM36', 'bram'),
        ('LUTRAM', 'lutram'),
        ('SRL', 'srl'),
        ('CARRY4', 'carry'),
        ('generic cells', 'cells'),
        ('our multipliers', 'our_multipliers'),
        ('hls4ml multiplier_limit', 'hls4ml_multiplier_limit'),
        ('hls4ml ReuseFactor', 'hls4ml_reuse_factor'),
    ]
    lines = ['| layer | ' + ' | '.join(c for c, _ in cols) + ' |', '|---' * (len(cols) + 1) + '|']
    for la in report['layers']:
        lines.append(f'| {la["layer"]} | ' + ' | '.join(fmt_count(la.get(k)) for _, k in cols) + ' |')
    lines.append('| **total** | ' + ' | '.join(f'**{fmt_count(report["total"].get(k))}**' for _, k in cols) + ' |')
    return (
        '\n'.join(lines) + f'\n\n{report["tool"]["yosys"]}, {report["tool"]["target"]}, per stage; '
        f'{report["tool"]["wall_seconds"]} s with {report["tool"]["jobs"]} jobs '
        f'({report["tool"]["yosys_cpu_seconds"]} s Yosys CPU'
        + (f', {report["tool"]["cached_runs"]} runs from the cache' if report['tool'].get('cached_runs') else '')
        + ').\n'
    )
