"""The pipeline spec: one description of the fixed-point pipeline for the golden model and the RTL generator.

JSON holds the structure, NPZ the integer weights (raw values at their type's scale). `load` validates
everything and names the offending field, so a hand-written or corrupted spec fails before it is used.
No TensorFlow or hls4ml import here: specs can be written by hand for unit tests.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lenet5_hls.core.errors import UserError
from lenet5_hls.core.fixed_point import FixedType
from lenet5_hls.core.kind import UnknownKind, kind

SCHEMA = 'lenet5-hls/pipeline-spec'
VERSION = 1


class SpecError(UserError):
    """A spec that cannot be used; the message names the field and what is expected."""


@dataclass
class Layer:
    name: str
    kind: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    types: dict[str, FixedType]
    attrs: dict = field(default_factory=dict)
    in_elements_per_beat: int = 1
    out_elements_per_beat: int = 1
    stream: str = ''  # hls4ml's name of the output stream (e.g. layer3_out), for probing
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            'name': self.name,
            'kind': self.kind,
            'input_shape': list(self.input_shape),
            'output_shape': list(self.output_shape),
            'types': {k: t.to_dict() for k, t in self.types.items()},
            'attrs': self.attrs,
            'in_elements_per_beat': self.in_elements_per_beat,
            'out_elements_per_beat': self.out_elements_per_beat,
            'stream': self.stream,
            'arrays': {k: {'key': f'{self.name}/{k}', 'shape': list(v.shape)} for k, v in self.arrays.items()},
        }


@dataclass
class Port:
    name: str
    shape: tuple[int, ...]
    type: FixedType
    elements_per_beat: int

    def to_json(self) -> dict:
        return {
            'name': self.name,
            'shape': list(self.shape),
            'type': self.type.to_dict(),
            'elements_per_beat': self.elements_per_beat,
        }


@dataclass
class Spec:
    project_name: str
    input: Port
    output: Port
    layers: list[Layer]
    source: dict = field(default_factory=dict)

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f'no layer {name!r} in spec (layers: {", ".join(la.name for la in self.layers)})')

    def to_json(self) -> dict:
        return {
            'schema': SCHEMA,
            'version': VERSION,
            'project_name': self.project_name,
            'source': self.source,
            'input': self.input.to_json(),
            'output': self.output.to_json(),
            'layers': [layer.to_json() for layer in self.layers],
        }

    def save(self, path: str | os.PathLike) -> tuple[Path, Path]:
        """Write PATH.json and PATH.npz (PATH given with or without .json), atomically."""
        validate(self)
        json_path = Path(path).with_suffix('.json')
        npz_path = json_path.with_suffix('.npz')
        json_path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {f'{layer.name}/{k}': v.astype(np.int64) for layer in self.layers for k, v in layer.arrays.items()}
        tmp_json, tmp_npz = json_path.with_suffix('.json.tmp'), json_path.with_suffix('.tmp.npz')
        tmp_json.write_text(json.dumps(self.to_json(), indent=1) + '\n')
        np.savez_compressed(tmp_npz, **arrays)
        tmp_npz.replace(npz_path)
        tmp_json.replace(json_path)
        return json_path, npz_path


def _get(d: dict, key: str, where: str, kind: type | tuple[type, ...]):
    if not isinstance(d, dict) or key not in d:
        raise SpecError(f'{where}: missing field {key!r}')
    value = d[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        expected = kind.__name__ if isinstance(kind, type) else ' or '.join(k.__name__ for k in kind)
        raise SpecError(f'{where}.{key}: expected {expected}, got {type(value).__name__} {value!r}')
    return value


def _shape(d: dict, key: str, where: str) -> tuple[int, ...]:
    shape = _get(d, key, where, list)
    if not shape or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape):
        raise SpecError(f'{where}.{key}: expected a list of positive integers, got {shape!r}')
    return tuple(shape)


def _type(d: dict, where: str) -> FixedType:
    if not isinstance(d, dict):
        raise SpecError(f'{where}: expected a fixed-point type object, got {d!r}')
    unknown = set(d) - {'width', 'integer', 'signed', 'rounding', 'overflow'}
    if unknown:
        raise SpecError(f'{where}: unknown fields {sorted(unknown)}')
    try:
        return FixedType(
            _get(d, 'width', where, int),
            _get(d, 'integer', where, int),
            _get(d, 'signed', where, bool),
            _get(d, 'rounding', where, str),
            _get(d, 'overflow', where, str),
        )
    except ValueError as e:
        raise SpecError(f'{where}: {e}') from None


def _port(d: dict, where: str) -> Port:
    return Port(
        _get(d, 'name', where, str),
        _shape(d, 'shape', where),
        _type(_get(d, 'type', where, dict), f'{where}.type'),
        _get(d, 'elements_per_beat', where, int),
    )


def from_json(doc: dict, arrays: dict[str, np.ndarray] | None = None) -> Spec:
    """Build and validate a Spec from its JSON document and NPZ arrays."""
    arrays = arrays or {}
    if not isinstance(doc, dict):
        raise SpecError('spec: expected a JSON object at the top level')
    schema = doc.get('schema')
    if schema != SCHEMA:
        raise SpecError(f'spec.schema: expected {SCHEMA!r}, got {schema!r}; not a lenet5-hls pipeline spec')
    version = doc.get('version')
    if version != VERSION:
        raise SpecError(
            f'spec.version: this tool reads version {VERSION}, the file '
            f'is version {version!r}; regenerate it with `lenet5-hls hls`'
        )
    layers = []
    for i, ld in enumerate(_get(doc, 'layers', 'spec', list)):
        where = f'spec.layers[{i}]'
        name = _get(ld, 'name', where, str)
        where = f'spec.layers[{i}] ({name})'
        kind_name = _get(ld, 'kind', where, str)
        try:
            kind(kind_name)
        except UnknownKind as e:
            raise SpecError(f'{where}.kind: {e}') from None
        types_d = _get(ld, 'types', where, dict)
        types = {k: _type(v, f'{where}.types.{k}') for k, v in types_d.items()}
        layer_arrays = {}
        for k, ad in _get(ld, 'arrays', where, dict).items():
            key = _get(ad, 'key', f'{where}.arrays.{k}', str)
            if key not in arrays:
                raise SpecError(f'{where}.arrays.{k}: array {key!r} missing from the NPZ file')
            layer_arrays[k] = np.asarray(arrays[key])
        layers.append(
            Layer(
                name=name,
                kind=kind_name,
                input_shape=_shape(ld, 'input_shape', where),
                output_shape=_shape(ld, 'output_shape', where),
                types=types,
                attrs=_get(ld, 'attrs', where, dict),
                in_elements_per_beat=_get(ld, 'in_elements_per_beat', where, int),
                out_elements_per_beat=_get(ld, 'out_elements_per_beat', where, int),
                stream=_get(ld, 'stream', where, str),
                arrays=layer_arrays,
            )
        )
    spec = Spec(
        project_name=_get(doc, 'project_name', 'spec', str),
        input=_port(_get(doc, 'input', 'spec', dict), 'spec.input'),
        output=_port(_get(doc, 'output', 'spec', dict), 'spec.output'),
        layers=layers,
        source=doc.get('source', {}),
    )
    validate(spec)
    return spec


def _check_layer(layer: Layer, where: str) -> None:
    """The checks every kind shares; the kind checks its shapes and attribute values."""
    layer_kind = kind(layer.kind)
    attrs, types, weights = layer_kind.attrs, layer_kind.types, layer_kind.arrays
    for t in types:
        if t not in layer.types:
            raise SpecError(f'{where}.types: missing {t!r} (a {layer.kind} layer needs {", ".join(types)})')
    for a in attrs:
        if a not in layer.attrs:
            raise SpecError(f'{where}.attrs: missing {a!r} (a {layer.kind} layer needs {", ".join(attrs)})')
    for w in weights:
        if w not in layer.arrays:
            raise SpecError(f'{where}.arrays: missing {w!r}')
    layer_kind.check(layer, where)
    for w in weights:
        t, a = layer.types[w], layer.arrays[w]
        if not np.issubdtype(a.dtype, np.integer):
            raise SpecError(f'{where}.arrays.{w}: expected integers (raw values at the type scale), got {a.dtype}')
        if a.size and (a.min() < t.raw_min or a.max() > t.raw_max):
            raise SpecError(
                f'{where}.arrays.{w}: values {a.min()}..{a.max()} outside {t.cpp()} (raw {t.raw_min}..{t.raw_max})'
            )
    ins, outs = layer.input_shape, layer.output_shape
    for side, n, shape in (('in', layer.in_elements_per_beat, ins), ('out', layer.out_elements_per_beat, outs)):
        if n < 1 or int(np.prod(shape)) % n:
            raise SpecError(
                f'{where}.{side}_elements_per_beat: {n} does not divide the {int(np.prod(shape))} elements of {shape}'
            )


def validate(spec: Spec) -> None:
    """Check every layer and the chain: each layer consumes what the previous one produces."""
    if not spec.layers:
        raise SpecError('spec.layers: empty; a pipeline needs at least one layer')
    prev_shape, prev_type, prev_name = spec.input.shape, spec.input.type, 'input'
    prev_beat = spec.input.elements_per_beat
    for i, layer in enumerate(spec.layers):
        where = f'spec.layers[{i}] ({layer.name})'
        _check_layer(layer, where)
        if layer.input_shape != prev_shape:
            raise SpecError(f'{where}.input_shape: {layer.input_shape} but {prev_name} produces {prev_shape}')
        if layer.types['input'] != prev_type:
            raise SpecError(
                f'{where}.types.input: {layer.types["input"].cpp()} but {prev_name} produces {prev_type.cpp()}'
            )
        if layer.in_elements_per_beat != prev_beat:
            raise SpecError(
                f'{where}.in_elements_per_beat: {layer.in_elements_per_beat} but {prev_name} sends {prev_beat} per beat'
            )
        prev_shape, prev_type, prev_name = layer.output_shape, layer.types['output'], layer.name
        prev_beat = layer.out_elements_per_beat
    if spec.output.shape != prev_shape or spec.output.type != prev_type:
        raise SpecError(
            f'spec.output: {spec.output.shape} {spec.output.type.cpp()} '
            f'differs from the last layer ({prev_shape} {prev_type.cpp()})'
        )
    if spec.output.elements_per_beat != prev_beat:
        raise SpecError(
            f'spec.output.elements_per_beat: {spec.output.elements_per_beat} but the last layer sends {prev_beat}'
        )


def load(path: str | os.PathLike) -> Spec:
    """Load PATH.json + PATH.npz and validate."""
    json_path = Path(path).with_suffix('.json')
    npz_path = json_path.with_suffix('.npz')
    try:
        doc = json.loads(json_path.read_text())
    except FileNotFoundError:
        raise SpecError(f'spec file {json_path} not found (write one with `lenet5-hls hls`)') from None
    except json.JSONDecodeError as e:
        raise SpecError(f'spec file {json_path} is not valid JSON: {e}') from None
    arrays = {}
    if npz_path.is_file():
        try:
            with np.load(npz_path) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except Exception as e:
            raise SpecError(f'spec weights {npz_path} cannot be read: {e}') from None
    return from_json(doc, arrays)
