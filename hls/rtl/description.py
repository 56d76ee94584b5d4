"""The RTL description: what testbenches, simulation and reports need to know about an accelerator top
(clock, reset, block control, the streams and their lanes, Verilog sources, ROM data files, and for
generated RTL every module instance with all its parameters, the internal stream each stage reads and
drives, the folding plan and the analytical timing). The generator writes it as `<top>.json` beside the
Verilog; vendor RTL gets one from port discovery (verify/vendor_ports.py). `load` validates everything
and names the offending field, like the pipeline spec.

Paths. Every file (`files`, `top_file`, `data_files`, the file parameters of instances) is stored
relative to the description's directory, so a generated RTL directory can be moved or archived whole.
In memory `base_dir` (where it was loaded from, generated or discovered) makes them absolute:
`source_files()`, `path()`, `instances()`; `save` elsewhere rewrites them relative to the new place.

ROM files. The generated top passes each MAC unit its `$readmemh` files relative to the RTL directory
(`.WEIGHT_FILE("mem/conv1_weights.mem")`). Icarus (vvp) and Verilator open them when the simulation
starts, relative to the simulator's working directory; Yosys tries its working directory first (then
the directory of the Verilog file that holds the `$readmemh`). So whatever reads the whole top runs in
the RTL directory or in a directory holding copies at the same relative paths: `copy_data_files(run_dir)`
makes them, exactly as for vendor RTL, whose ROM modules read `$readmemh("./x.dat")`. A tool given one
instance's parameters (Yosys chparam per stage) takes its file parameters as absolute paths, or relative
to its own working directory (`Instance.relocated`).
"""

from __future__ import annotations

import json
import os
import shutil
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path

import numpy as np

from lenet5_hls.core.errors import UserError
from lenet5_hls.core.fixed_point import FixedType
from lenet5_hls.core.spec import Port
from lenet5_hls.rtl.folding import LayerPlan, Plan
from lenet5_hls.rtl.timing import Timing

SCHEMA = 'lenet5-hls/rtl-description'
VERSION = 2
CONTROL = ('ap_start', 'ap_done', 'ap_idle', 'ap_ready')
SOURCES = ('generated', 'vendor')  # `lenet5-hls rtl`, or Vivado/Vitis HLS RTL found by port discovery
_WHERE = 'rtl-description'


class DescriptionError(UserError):
    """An RTL description that cannot be used; the message names the field and what is expected."""


def pad8(bits: int) -> int:
    """TDATA width: bits rounded up to a multiple of 8 (DESIGN.md contract 3)."""
    return -(-bits // 8) * 8


@dataclass
class Lane:
    """One physical AXI-stream channel: <prefix>_TDATA/_TVALID/_TREADY carrying `elements` elements per
    beat, element i at TDATA[i*W +: W]."""

    prefix: str
    tdata: str
    tvalid: str
    tready: str
    tdata_width: int
    elements: int


@dataclass
class StreamPort:
    """A stream of the top (the spec's input or output) and the lanes it travels on: one lane with every
    element of a beat (packed, Vitis HLS) or one lane per element (split, Vivado HLS)."""

    name: str
    direction: str  # in | out
    shape: tuple[int, ...]
    type: FixedType
    elements_per_beat: int
    layout: str  # packed | split
    lanes: list[Lane]

    @property
    def element_width(self) -> int:
        return self.type.width

    @property
    def beats_per_image(self) -> int:
        return int(np.prod(self.shape)) // self.elements_per_beat

    @classmethod
    def packed(cls, port: Port, direction: str) -> StreamPort:
        """The spec port in the packed layout: <name>_TDATA, padded to a multiple of 8 bits."""
        n, name = port.elements_per_beat, port.name
        lane = Lane(name, f'{name}_TDATA', f'{name}_TVALID', f'{name}_TREADY', pad8(n * port.type.width), n)
        return cls(name, direction, port.shape, port.type, n, 'packed', [lane])


@dataclass
class Reset:
    name: str
    active_low: bool


@dataclass
class Instance:
    """A library module instance of the top with every parameter it is given: integers, or Verilog
    literals (strings); those named in `file_params` are quoted file paths ($readmemh ROM images),
    relative to the description's directory or absolute."""

    instance: str
    module: str
    layer: str  # the spec layer it implements; 'control' for the block-control instance
    params: dict[str, int | str]
    file_params: list[str] = field(default_factory=list)

    def files(self) -> dict[str, Path]:
        """File parameter -> path as given (relative or absolute)."""
        return {name: Path(self.params[name][1:-1]) for name in self.file_params}

    def relocated(self, start: str | os.PathLike | None = None, base_dir: str | os.PathLike | None = None) -> Instance:
        """This instance with its file parameters (relative to base_dir, default the working directory, or
        absolute) as absolute paths, or relative to `start` (a tool's working directory)."""
        params = dict(self.params)
        for name, path in self.files().items():
            full = os.path.abspath(Path(base_dir or '.') / path)
            params[name] = f'"{Path(os.path.relpath(full, start) if start is not None else full).as_posix()}"'
        return replace(self, params=params)


@dataclass
class Stage(Instance):
    """An instance in the stream chain: reads `in_stream`, drives `out_stream` (`<name>_tdata/_tvalid/_tready`
    wires of the top, `out_width` data bits); a stage's output stream is the next stage's input."""

    in_stream: str = field(kw_only=True)
    out_stream: str = field(kw_only=True)
    out_width: int = field(kw_only=True)


@dataclass
class DataFile:
    """A file the sources read at simulation or synthesis time ($readmemh): `path` relative to the
    description's directory, `read_as` the path the Verilog opens, relative to the tool's working directory."""

    path: str
    read_as: str


@dataclass
class Folding:
    """The folding plan the RTL was generated with (rtl/folding.py), with its totals."""

    target_ii_cycles: int
    ii_cycles: int
    input_beats_per_image: int
    multipliers: int
    macs_per_image: int
    multiplier_lower_bound: float
    multipliers_over_lower_bound: float
    layers: list[LayerPlan]

    @classmethod
    def from_plan(cls, plan: Plan, ii_cycles: int) -> Folding:
        """The plan with the II of the cycle model (rtl/timing.py): the plan's own figure counts busy cycles
        per layer, the model also the window generator's padding positions and the stalls between stages."""
        return cls(**{**replace(plan, ii_cycles=ii_cycles).to_json(), 'layers': plan.layers})

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class RtlDescription:
    """An accelerator top as testbenches, simulation and reports see it (module docstring); paths relative
    to base_dir."""

    top: str
    source: str  # one of SOURCES
    clock: str
    reset: Reset
    control: list[str]  # the block-level handshake ports the top has, of CONTROL
    input: StreamPort
    output: StreamPort
    files: list[str]  # Verilog sources
    top_file: str  # the one of `files` that holds the top module
    data_files: list[DataFile]
    folding: Folding | None = None  # None: vendor RTL (no folding plan; `timeout_cycles` bounds the watchdog)
    timing: Timing | None = None
    controller: Instance | None = None  # the generated top's block control (ap_ctrl_stream)
    stages: list[Stage] = field(default_factory=list)  # the generated top's stream chain, in order
    timeout_cycles: int | None = None  # vendor RTL: watchdog per output beat
    base_dir: Path | None = field(default=None, compare=False, repr=False)  # where the paths start; not saved

    @property
    def ii_cycles(self) -> int | None:
        """The analytical II (cycles per image); None for vendor RTL."""
        return self.folding.ii_cycles if self.folding else None

    def path(self, rel: str) -> Path:
        """Absolute path of a file of the description (normalized as relpath made it: lexically)."""
        if self.base_dir is None:
            raise DescriptionError(
                f'{_WHERE} of {self.top}: no directory to resolve {rel!r} against; save or load it first'
            )
        return Path(os.path.normpath(self.base_dir / rel))

    def source_files(self, top: bool = True) -> list[Path]:
        """The Verilog sources (without the top module's file: top=False, e.g. the library of a generated top)."""
        return [self.path(f) for f in self.files if top or f != self.top_file]

    def instances(self) -> list[Instance]:
        """Every module instance of the generated top, block control first, file parameters as absolute paths."""
        found = ([self.controller] if self.controller else []) + list(self.stages)
        return [inst.relocated(base_dir=self.path('.')) for inst in found]

    def copy_data_files(self, run_dir: str | os.PathLike) -> None:
        """Copy every data file to where the sources open it when a tool runs in run_dir."""
        for f in self.data_files:
            dest = Path(run_dir) / f.read_as
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(self.path(f.path), dest)

    def rebased(self, base_dir: str | os.PathLike) -> RtlDescription:
        """The same description with its paths relative to base_dir."""
        new = Path(base_dir).resolve()

        def move(rel: str) -> str:
            return Path(os.path.relpath(self.path(rel), new)).as_posix()

        return replace(
            self,
            files=[move(f) for f in self.files],
            top_file=move(self.top_file),
            data_files=[replace(d, path=move(d.path)) for d in self.data_files],
            controller=self.controller.relocated(new, self.path('.')) if self.controller else None,
            stages=[s.relocated(new, self.path('.')) for s in self.stages],
            base_dir=new,
        )

    def to_json(self) -> dict:
        doc = asdict(self)
        del doc['base_dir']
        return {'schema': SCHEMA, 'version': VERSION, **doc}

    def save(self, path: str | os.PathLike) -> Path:
        """Write PATH (JSON) atomically, the paths relative to its directory; returns PATH."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        desc = self.rebased(path.parent) if self.base_dir is not None else self
        desc.validate()
        tmp = path.with_suffix('.json.tmp')
        tmp.write_text(json.dumps(desc.to_json(), indent=1) + '\n')
        tmp.replace(path)
        return path

    @classmethod
    def from_json(cls, doc, base_dir: str | os.PathLike | None = None) -> RtlDescription:
        """Build and validate a description from its JSON document; base_dir: where its paths start."""
        if not isinstance(doc, dict):
            raise DescriptionError(f'{_WHERE}: expected a JSON object at the top level')
        if doc.get('schema') != SCHEMA:
            raise DescriptionError(
                f'{_WHERE}.schema: expected {SCHEMA!r}, got {doc.get("schema")!r}; not a lenet5-hls RTL description'
            )
        if doc.get('version') != VERSION:
            raise DescriptionError(
                f'{_WHERE}.version: this tool reads version {VERSION}, the file is version '
                f'{doc.get("version")!r}; regenerate it with `lenet5-hls rtl`'
            )
        desc = _build(cls, {k: v for k, v in doc.items() if k not in ('schema', 'version')}, _WHERE)
        desc = replace(desc, base_dir=Path(base_dir).resolve() if base_dir is not None else None)
        desc.validate()
        return desc

    @classmethod
    def load(cls, path: str | os.PathLike) -> RtlDescription:
        """Load and validate PATH; its paths are taken relative to PATH's directory."""
        path = Path(path)
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            raise DescriptionError(f'RTL description {path} not found (write one with `lenet5-hls rtl`)') from None
        except json.JSONDecodeError as e:
            raise DescriptionError(f'RTL description {path} is not valid JSON: {e}') from None
        try:
            return cls.from_json(doc, path.parent)
        except DescriptionError as e:
            raise DescriptionError(f'{path}: {e}') from None

    def validate(self) -> None:
        """What the field types do not say: the lanes of each stream, the stage chain, file parameters,
        timing per stage, a watchdog bound, and (with base_dir) that every file exists."""
        if self.source not in SOURCES:
            raise DescriptionError(f'{_WHERE}.source: expected one of {", ".join(SOURCES)}, got {self.source!r}')
        unknown = [c for c in self.control if c not in CONTROL]
        if unknown:
            raise DescriptionError(
                f'{_WHERE}.control: unknown port(s) {", ".join(unknown)}; expected some of {", ".join(CONTROL)}'
            )
        for name, direction in (('input', 'in'), ('output', 'out')):
            _check_port(getattr(self, name), direction, f'{_WHERE}.{name}')
        if self.top_file not in self.files:
            raise DescriptionError(f'{_WHERE}.top_file: {self.top_file!r} is not one of the files')
        if self.folding is None and self.timeout_cycles is None:
            raise DescriptionError(f'{_WHERE}: neither folding nor timeout_cycles; the testbench watchdog needs one')
        insts = [(f'{_WHERE}.controller', self.controller)] if self.controller else []
        insts += [(f'{_WHERE}.stages[{i}] ({s.instance})', s) for i, s in enumerate(self.stages)]
        seen = set()
        for where, inst in insts:
            if inst.instance in seen:
                raise DescriptionError(f'{where}.instance: {inst.instance!r} appears twice')
            seen.add(inst.instance)
            for name in inst.file_params:
                value = inst.params.get(name)
                if not (isinstance(value, str) and len(value) > 2 and value[0] == value[-1] == '"'):
                    raise DescriptionError(
                        f'{where}.params.{name}: a file parameter needs a quoted path, got {value!r}'
                    )
        streams = [s.in_stream for s in self.stages[:1]] + [s.out_stream for s in self.stages]
        for i, (prev, stage) in enumerate(zip(self.stages, self.stages[1:]), start=1):
            if stage.in_stream != prev.out_stream:
                raise DescriptionError(
                    f'{_WHERE}.stages[{i}] ({stage.instance}).in_stream: {stage.in_stream!r}, '
                    f'but the previous stage drives {prev.out_stream!r}'
                )
        if len(set(streams)) != len(streams):
            raise DescriptionError(f'{_WHERE}.stages: stream names repeat ({", ".join(streams)})')
        if self.timing and [t.instance for t in self.timing.stages] != [s.instance for s in self.stages]:
            raise DescriptionError(
                f'{_WHERE}.timing.stages: instances {[t.instance for t in self.timing.stages]} '
                f'differ from the stages {[s.instance for s in self.stages]}'
            )
        for i, d in enumerate(self.data_files):
            if Path(d.read_as).is_absolute() or '..' in Path(d.read_as).parts:
                raise DescriptionError(
                    f'{_WHERE}.data_files[{i}].read_as: {d.read_as!r} must stay inside the working directory'
                )
        if self.base_dir is not None:
            self._check_files_exist(insts)

    def _check_files_exist(self, insts: list[tuple[str, Instance]]) -> None:
        found = [(f'{_WHERE}.files[{i}]', f) for i, f in enumerate(self.files)]
        found += [(f'{_WHERE}.data_files[{i}].path', d.path) for i, d in enumerate(self.data_files)]
        found += [(f'{where}.params.{name}', path) for where, inst in insts for name, path in inst.files().items()]
        for where, rel in found:
            if not self.path(rel).is_file():
                raise DescriptionError(
                    f'{where}: {self.path(rel)} does not exist (paths are relative to {self.base_dir})'
                )


def _check_port(port: StreamPort, direction: str, where: str) -> None:
    if port.direction != direction:
        raise DescriptionError(f'{where}.direction: expected {direction!r}, got {port.direction!r}')
    if not port.shape or min(port.shape) < 1:
        raise DescriptionError(f'{where}.shape: expected a list of positive integers, got {list(port.shape)}')
    n, elements = port.elements_per_beat, int(np.prod(port.shape))
    if n < 1 or elements % n:
        raise DescriptionError(
            f'{where}.elements_per_beat: {n} does not divide the {elements} elements of {port.shape}'
        )
    lanes = {'packed': [n], 'split': [1] * n}.get(port.layout)
    if lanes is None:
        raise DescriptionError(f'{where}.layout: expected packed or split, got {port.layout!r}')
    if [ln.elements for ln in port.lanes] != lanes:
        raise DescriptionError(
            f'{where}.lanes: the {port.layout} layout of {n} elements per beat needs lanes of '
            f'{lanes} elements, got {[ln.elements for ln in port.lanes]}'
        )
    for i, ln in enumerate(port.lanes):
        bits = ln.elements * port.type.width
        if ln.tdata_width != pad8(bits):
            raise DescriptionError(
                f'{where}.lanes[{i}].tdata_width: {ln.elements} x {port.type.width} bits padded '
                f'to a multiple of 8 are {pad8(bits)}, got {ln.tdata_width}'
            )


_SCALARS = {int: 'an integer', float: 'a number', bool: 'true or false', str: 'a string'}


def _is(tp: type, value) -> bool:
    if tp in (int, float) and isinstance(value, bool):
        return False
    return isinstance(value, (int, float) if tp is float else tp)


def _build(tp, value, where: str):
    """`value` (parsed JSON) as the field type `tp`: scalars, X | None, int | str, list, tuple[X, ...],
    dict[str, X] and dataclasses (no unknown fields, every field without a default present)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is types.UnionType:
        options = [a for a in args if a is not type(None)]
        if value is None and len(options) < len(args):
            return None
        if len(options) == 1:
            return _build(options[0], value, where)
        if not any(_is(a, value) for a in options):  # scalar unions only (int | str)
            raise DescriptionError(f'{where}: expected {" or ".join(_SCALARS[a] for a in options)}, got {value!r}')
        return value
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise DescriptionError(f'{where}: expected a list, got {value!r}')
        items = [_build(args[0], v, f'{where}[{i}]') for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise DescriptionError(f'{where}: expected an object, got {value!r}')
        return {k: _build(args[1], v, f'{where}.{k}') for k, v in value.items()}
    if is_dataclass(tp):
        if not isinstance(value, dict):
            raise DescriptionError(f'{where}: expected an object, got {value!r}')
        known = {f.name: f for f in fields(tp) if f.name != 'base_dir'}
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise DescriptionError(f'{where}: unknown field(s) {", ".join(unknown)}')
        hints = typing.get_type_hints(tp)
        kwargs = {}
        for name, f in known.items():
            if name in value:
                kwargs[name] = _build(hints[name], value[name], f'{where}.{name}')
            elif f.default is MISSING and f.default_factory is MISSING:
                raise DescriptionError(f'{where}: missing field {name!r}')
        try:
            return tp(**kwargs)
        except ValueError as e:  # FixedType checks its own fields
            raise DescriptionError(f'{where}: {e}') from None
    if not _is(tp, value):
        raise DescriptionError(f'{where}: expected {_SCALARS[tp]}, got {value!r}')
    return value
