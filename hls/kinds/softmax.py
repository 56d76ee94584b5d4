"""softmax: hls4ml's io_stream softmax (nnet_activation_stream.h), implementations stable, latency and argmax.

hls4ml computes the softmax of each stream beat on its own (the loop runs over n_in / data_T::size beats),
so a vector is one beat: after a Dense layer the whole output, after a convolution one pixel's channels.

stable and latency (per vector x of N elements):
  stable:  d_j = (inp_norm_t)(max(x) - x_j)   index_j = top log2(exp_table_size) bits of d_j
  latency:                                    index_j = top log2(exp_table_size) bits of x_j
  e_j = (accum_t)exp_table[index_j]
  s   = (inv_inp_t)reduce(e, Op_add<accum_t>)  -- nnet::reduce's balanced tree, each sum cast to accum_t
  inv = inv_table[top log2(inv_table_size) bits of s]
  y_j = (res_T)(e_j * inv)                    -- the product at full precision
"Top n bits" is softmax_idx_from_real_val: the raw value's bits [W-1 : W-n] read as an unsigned index.
The tables (init_exp_table, init_invert_table in nnet_activation.h) sample the value whose top bits are the
index and whose other bits are 0, in single precision: exp_table[i] = expf(+-v_i * exp_scale) (stable
negates: the index addresses max - x), inv_table[i] = 1.0f / v_i, each assigned to its table type (1/0 is
+inf, which ap_fixed's conversion from double takes as 2^1024: 0 under WRAP, the maximum when saturating).
The spec carries both tables as raw integers, computed here with the C library's expf (NumPy's float32
exp differs from it in the last bit), so the golden model and the RTL ROMs read the same arrays.

argmax: y = 0 except y_k = (res_T)1 at the first k holding the maximum (`in_data[i] > maximum`).

The table sizes, the implementation and inp_norm_t are read from the config struct hls4ml renders for
the layer (its template shrinks exp_table_size for a signed input and derives inp_norm_t from the input
type), the table types from the layer's attributes by the names that struct uses.
"""

from __future__ import annotations

import re

import numpy as np

from lenet5_hls.core.fixed_point import FixedType, cast, from_float
from lenet5_hls.core.kind import LayerKind, register
from lenet5_hls.core.spec import Layer, SpecError
from lenet5_hls.frontend.extract import UnsupportedLayer, describe, fixed_type
from lenet5_hls.golden import _tree_reduce
from lenet5_hls.kinds.table_activation import libm
from lenet5_hls.rtl.folding import FoldingError, LayerPlan, input_beats
from lenet5_hls.rtl.generator import MEM_DIR, RtlGenerationError, register_module
from lenet5_hls.rtl.params import SOFTMAX_FILE_PARAMS, SOFTMAX_IMPL_CODES, softmax_params, write_softmax_files
from lenet5_hls.rtl.timing import Element


def softmax_busy_cycles(p: dict) -> int:
    """softmax_stream's busy cycles per vector (MAX, EXP, SUM, MUL phases) for its parameters."""
    n = p['N']
    return {0: 2 * n + 3, 2: 3 * n + 3, 3: n}[p['IMPL']]


class _SoftmaxStream(Element):
    """softmax_stream in the cycle model (rtl.timing): a vector is accepted in IDLE, busy BUSY cycles, then
    waits in DONE until the output register is free (empty, or its beat taken in that cycle); offered the cycle
    after, and IDLE again."""

    def __init__(self, busy: int):
        super().__init__()
        self.busy = busy
        self.done: list[int] = []  # the cycle each vector leaves DONE

    def _accept_next(self):
        i = len(self.acc)
        a = max(self.up.offered(i), self.done[i - 1] + 1) if i else self.up.offered(0)
        self.acc.append(a)
        self.done.append(max(a + 1 + self.busy, self.down.accepted(i - 1) if i else 0))

    def _offer_next(self):
        j = len(self.out)
        self.accepted(j)
        self.out.append(self.done[j] + 1)


register_module('softmax_stream', {'fxp_requant'}, lambda p, beats: ([_SoftmaxStream(softmax_busy_cycles(p))], beats))

IMPLEMENTATIONS = ('stable', 'latency', 'argmax')
TABLES = ('exp_table', 'inv_table')
# spec types each implementation needs besides input and output
TABLE_TYPES = {
    'stable': ('exp_table', 'inv_table', 'inv_inp', 'accum', 'inp_norm'),
    'latency': ('exp_table', 'inv_table', 'inv_inp', 'accum'),
    'argmax': (),
}
MAX_INDEX_BITS = 24  # table indices whose value a float holds exactly (the C++ converts it to float)


def index_bits(size: int) -> int:
    """log2 of a power-of-two table size (hls4ml's ceillog2)."""
    return size.bit_length() - 1


def top_bits(raw: np.ndarray, t: FixedType, size: int) -> np.ndarray:
    """softmax_idx_from_real_val: bits [W-1 : W-n] of raw values of type t as unsigned indices, n = log2(size)."""
    return (np.asarray(raw, dtype=np.int64) >> (t.width - index_bits(size))) & (size - 1)


def table_points(t: FixedType, size: int) -> np.ndarray:
    """softmax_real_val_from_idx: for each index i, the value of type t whose top bits are i and the others 0,
    as the float the C++ converts it to (exact: at most MAX_INDEX_BITS significant bits)."""
    raw = np.arange(size, dtype=np.int64) << (t.width - index_bits(size))
    if t.signed:
        raw = np.where(raw >= 1 << (t.width - 1), raw - (1 << t.width), raw)
    return (raw.astype(np.float64) * 2.0 ** (-t.frac)).astype(np.float32)


def from_float_any(values, t: FixedType) -> np.ndarray:
    """ap_fixed's conversion from double for any value, infinities included: ap_fixed_base(double) reads +inf
    as 2^1024, so it wraps to 0 and saturates to the maximum; far out-of-range values are reduced first
    (exactly: fmod by 2^I under WRAP, clipping to +-2^(I+1) when saturating) so `from_float` can take them."""
    v = np.asarray(values, dtype=np.float64)
    span = 2.0**t.integer
    if t.overflow == 'WRAP':
        v = np.where(np.isinf(v), 0.0, np.fmod(np.where(np.isinf(v), 0.0, v), span))
    else:
        v = np.clip(v, -2 * span, 2 * span)
    return from_float(v, t)


def exp_table(t_index: FixedType, size: int, scale: float, negative: bool, t_table: FixedType) -> np.ndarray:
    """init_exp_table: raw exp_table_t entries (t_index: the type the index is cut from)."""
    x = table_points(t_index, size) * np.float32(scale)  # float * constexpr float exp_scale
    if negative:
        x = -x
    expf = libm().expf
    return from_float_any([expf(float(v)) for v in x], t_table)


def inv_table(t_index: FixedType, size: int, t_table: FixedType) -> np.ndarray:
    """init_invert_table: raw inv_table_t entries of 1 / x in single precision."""
    with np.errstate(divide='ignore'):
        values = np.float32(1) / table_points(t_index, size)
    return from_float_any(values, t_table)


def _config_struct(hls_layer, where: str) -> str:
    text = hls_layer.get_attr('config_cpp')
    if not isinstance(text, str) or 'softmax_implementation' not in text:
        raise UnsupportedLayer(f'{where}: hls4ml rendered no softmax config struct (config_cpp) for the layer')
    return text


def _config_value(text: str, field: str, where: str) -> str:
    m = re.search(rf'\b{field}\s*=\s*([^;]+);', text)
    if not m:
        raise UnsupportedLayer(f'{where}: the softmax config struct has no {field}')
    return m.group(1).strip()


def _config_type(hls_layer, text: str, field: str, where: str) -> FixedType:
    """The type a `typedef NAME field;` of the config struct names: a literal ap type, or a layer type attribute."""
    m = re.search(rf'typedef\s+(.+?)\s+{field}\s*;', text)
    if not m:
        raise UnsupportedLayer(f'{where}: the softmax config struct has no typedef {field}')
    name = m.group(1).strip()
    if name.startswith(('ap_fixed', 'ap_ufixed', 'ap_int', 'ap_uint')):
        return fixed_type(name, f'{where} {field}')
    for value in hls_layer.attributes.values():
        if getattr(value, 'name', None) == name and hasattr(value, 'precision'):
            return fixed_type(value.precision, f'{where} {field}')
    raise UnsupportedLayer(f'{where}: the softmax config names {field} {name!r}, which no layer type attribute holds')


def _check_table_size(size: int, t_index: FixedType, what: str, where: str, error) -> None:
    """softmax_idx_from_real_val cuts log2(size) bits: a size that is no power of two reads past the table, one
    wider than the indexing type fails ap_fixed's range check; both are undefined in the C++."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 2 or size & (size - 1):
        raise error(f'{where}: {what} {size!r} is not a power of two >= 2 (indices would read past the table)')
    if index_bits(size) > min(t_index.width, MAX_INDEX_BITS):
        raise error(
            f'{where}: {what} {size} needs {index_bits(size)} index bits, more than the {t_index.cpp()} it is cut '
            f'from{" or " + str(MAX_INDEX_BITS) if t_index.width > MAX_INDEX_BITS else ""}; reduce the table size'
        )


@register
class Softmax(LayerKind):
    name = 'softmax'
    hls4ml_classes = ('Softmax',)
    attrs = ('implementation',)
    keras_exact = False  # exp and inverse tables in hardware, a float softmax in Keras

    def extract(self, hls_layer, common, types, input_type):
        where = describe(hls_layer)
        text = _config_struct(hls_layer, where)
        impl = _config_value(text, r'softmax_implementation\s+implementation', where).rpartition('::')[2]
        if impl not in IMPLEMENTATIONS:
            raise UnsupportedLayer(
                f'{where}: softmax implementation {impl!r} is not supported (lenet5-hls builds '
                f'{", ".join(IMPLEMENTATIONS)}; legacy, with its N*N exp lookups per vector, is not implemented); '
                "set the layer's 'Implementation' to one of those"
            )
        axis = _config_value(text, r'unsigned\s+axis', where)
        if axis != '-1':
            raise UnsupportedLayer(f"{where}: axis {axis}; hls4ml's io_stream softmax asserts axis == -1 (the last)")
        if common['in_elements_per_beat'] != common['out_elements_per_beat']:
            raise UnsupportedLayer(f'{where}: input and output beats differ in size; expected one vector per beat')
        attrs = {'implementation': impl}
        arrays = {}
        if impl != 'argmax':
            for t in TABLE_TYPES[impl]:
                types[t] = _config_type(hls_layer, text, f'{t}_t', where)
            t_index = types['inp_norm'] if impl == 'stable' else input_type
            scale = float(_config_value(text, r'float\s+exp_scale', where).rstrip('f'))
            for table in TABLES:
                attrs[f'{table}_size'] = int(_config_value(text, rf'unsigned\s+{table}_size', where))
            _check_table_size(attrs['exp_table_size'], t_index, 'exp_table_size', where, UnsupportedLayer)
            _check_table_size(attrs['inv_table_size'], types['inv_inp'], 'inv_table_size', where, UnsupportedLayer)
            try:
                arrays['exp_table'] = exp_table(
                    t_index, attrs['exp_table_size'], scale, impl == 'stable', types['exp_table']
                )
                arrays['inv_table'] = inv_table(types['inv_inp'], attrs['inv_table_size'], types['inv_table'])
            except ValueError as e:
                raise UnsupportedLayer(f'{where}: {e}') from None
        return Layer(kind=self.name, types=types, attrs=attrs, arrays=arrays, **common)

    def check(self, layer, where):
        impl = layer.attrs['implementation']
        if impl not in IMPLEMENTATIONS:
            raise SpecError(f'{where}.attrs.implementation: {impl!r}, expected one of {", ".join(IMPLEMENTATIONS)}')
        if layer.input_shape != layer.output_shape:
            raise SpecError(f'{where}: softmax must keep its shape, got {layer.input_shape} -> {layer.output_shape}')
        if layer.in_elements_per_beat != layer.out_elements_per_beat:
            raise SpecError(
                f'{where}: in_elements_per_beat {layer.in_elements_per_beat} != out_elements_per_beat '
                f'{layer.out_elements_per_beat}; a softmax vector is one beat'
            )
        for t in TABLE_TYPES[impl]:
            if t not in layer.types:
                raise SpecError(f'{where}.types: missing {t!r} (a {impl} softmax needs {", ".join(TABLE_TYPES[impl])})')
        if impl == 'argmax':
            return
        t_index = layer.types['inp_norm'] if impl == 'stable' else layer.types['input']
        for table, t_idx in zip(TABLES, (t_index, layer.types['inv_inp'])):
            size = layer.attrs.get(f'{table}_size')
            _check_table_size(size, t_idx, f'attrs.{table}_size', where, SpecError)
            a, t = layer.arrays.get(table), layer.types[table]
            if a is None:
                raise SpecError(f'{where}.arrays: missing {table!r}')
            if a.shape != (size,) or not np.issubdtype(a.dtype, np.integer):
                raise SpecError(
                    f'{where}.arrays.{table}: {a.dtype} array of shape {a.shape}, expected ({size},) integers'
                )
            if a.min() < t.raw_min or a.max() > t.raw_max:
                raise SpecError(f'{where}.arrays.{table}: values {a.min()}..{a.max()} outside {t.cpp()}')
        t_acc, t_inv = layer.types['accum'], layer.types['inv_table']
        if t_acc.width + t_inv.width > 62:
            raise SpecError(f'{where}: accum_t {t_acc.cpp()} times inv_table_t {t_inv.cpp()} exceeds 62 bits')

    def exp_index(self, x: np.ndarray, layer: Layer) -> np.ndarray:
        """The exp table index of every element, x raw of shape (..., N) with one vector on the last axis."""
        t_in, size = layer.types['input'], layer.attrs['exp_table_size']
        if layer.attrs['implementation'] == 'latency':
            return top_bits(x, t_in, size)
        t_norm = layer.types['inp_norm']
        d = cast(x.max(axis=-1, keepdims=True) - x, t_in.frac, t_norm)
        return top_bits(d, t_norm, size)

    def inv_index(self, x: np.ndarray, layer: Layer) -> tuple[np.ndarray, np.ndarray]:
        """(exp values e as accum_t, inverse table index of their sum) for x raw of shape (..., N)."""
        t = layer.types
        e = cast(layer.arrays['exp_table'][self.exp_index(x, layer)], t['exp_table'].frac, t['accum'])
        acc = t['accum']
        total = _tree_reduce(list(np.moveaxis(e, -1, 0)), lambda a, b: cast(a + b, acc.frac, acc))
        s = cast(total, acc.frac, t['inv_inp'])
        return e, top_bits(s, t['inv_inp'], layer.attrs['inv_table_size'])

    def golden(self, x, layer):
        x = np.asarray(x, dtype=np.int64)
        vectors = x.reshape(len(x), -1, layer.in_elements_per_beat)
        t = layer.types
        if layer.attrs['implementation'] == 'argmax':
            hot = np.arange(vectors.shape[-1]) == vectors.argmax(axis=-1)[..., None]  # the first maximum
            y = np.where(hot, cast(1, 0, t['output']), cast(0, 0, t['output']))
        else:
            e, index = self.inv_index(vectors, layer)
            inv = layer.arrays['inv_table'][index][..., None]
            y = cast(e * inv, t['accum'].frac + t['inv_table'].frac, t['output'])
        return y.reshape(x.shape)

    def plan(self, layer, target_ii, override, beats_in):
        impl, n, t = layer.attrs['implementation'], layer.in_elements_per_beat, layer.types
        mults = 0 if impl == 'argmax' else 1
        if override is not None and override != mults:
            raise FoldingError(f'layer {layer.name}: a {impl} softmax uses {mults} multipliers, not {override}')
        vectors = input_beats(layer)
        # when nothing waits: the accepting cycle, the busy cycles, DONE (softmax_stream.v's header)
        per_vector = softmax_busy_cycles({'N': n, 'IMPL': SOFTMAX_IMPL_CODES[impl]}) + 2
        buffers = n * (t['input'].width + 2 * t['output'].width)  # input vector, output register
        rom = 0
        if impl != 'argmax':
            buffers += n * (t['accum'].width + t['output'].width)  # the exp values, the products
            rom = sum(layer.attrs[f'{table}_size'] * t[table].width for table in TABLES)
        return LayerPlan(
            layer.name, self.name, mults, vectors, n * mults, per_vector, vectors * per_vector, buffers, rom
        )

    def emit(self, design, layer, index):
        n, files = layer.in_elements_per_beat, ()
        if design.elements_per_beat(layer.types['input']) != n:
            raise RtlGenerationError(
                f'layer {layer.name!r} (softmax): the stream before it carries '
                f'{design.elements_per_beat(layer.types["input"])} elements per beat, the softmax vector has {n}'
            )
        if layer.attrs['implementation'] == 'argmax':
            params = softmax_params(layer)
        else:
            rels = [f'{MEM_DIR}/{layer.name}_{table}.mem' for table in TABLES]
            write_softmax_files(layer, *(design.out / rel for rel in rels))
            params, files = softmax_params(layer, *rels), SOFTMAX_FILE_PARAMS
        design.add(layer.name, 'softmax_stream', layer.name, params, n * layer.types['output'].width, files)


def coverage_keys(layer: Layer, x: np.ndarray) -> list[np.ndarray]:
    """Per vector of raw x (..., N): its exp and inverse table indices, or (argmax) the maximum's position."""
    kind = Softmax()
    if layer.attrs['implementation'] == 'argmax':
        return [x.argmax(axis=-1)]
    return [kind.exp_index(x, layer), kind.inv_index(x, layer)[1]]


def cover_vectors(layer: Layer, rng: np.random.Generator, count: int, pool: int = 60_000) -> np.ndarray:
    """Raw input vectors for tests: from a random pool (uniform, and clustered at random centres and spreads),
    first every vector reaching a table index (argmax: a maximum position) no earlier one reached, then random
    ones up to `count`."""
    t, n = layer.types['input'], layer.in_elements_per_beat
    lo, hi = t.raw_min, t.raw_max + 1
    centre, spread = rng.integers(lo, hi, (pool, 1)), rng.integers(1, hi - lo + 1, (pool, 1))
    clustered = np.clip(centre + rng.integers(0, spread, (pool, n)) - spread // 2, lo, hi - 1)
    x = np.concatenate([rng.integers(lo, hi, (pool // 2, n)), clustered])
    chosen, seen = [], [set() for _ in range(2)]
    for i, keys in enumerate(zip(*(k.reshape(len(x), -1).tolist() for k in coverage_keys(layer, x)))):
        new = [set(k) - s for k, s in zip(keys, seen)]
        if any(new):
            chosen.append(i)
            for s, k in zip(seen, new):
                s |= k
    rest = np.setdiff1d(np.arange(len(x)), chosen)
    chosen += rng.choice(rest, max(0, count - len(chosen)), replace=False).tolist()
    return x[np.array(chosen)]


HLS4ML_DEFAULT_TABLE_T = FixedType(18, 8, True, 'RND', 'SAT')  # exp_table_t, inv_table_t, inv_inp_t, accum_t


def make_layer(
    name: str,
    impl: str,
    n: int,
    t_in: FixedType,
    t_out: FixedType,
    exp_size: int = 1024,
    inv_size: int = 1024,
    exp_t: FixedType = HLS4ML_DEFAULT_TABLE_T,
    inv_t: FixedType = HLS4ML_DEFAULT_TABLE_T,
    inv_inp_t: FixedType = HLS4ML_DEFAULT_TABLE_T,
    accum_t: FixedType = HLS4ML_DEFAULT_TABLE_T,
    vectors: int = 1,
) -> Layer:
    """A softmax spec layer written by hand (tests): `vectors` vectors of n elements, one per beat, the tables
    computed as extraction does (exp_scale 1), inp_norm_t derived from the input as hls4ml's template does."""
    types = {'input': t_in, 'output': t_out}
    attrs, arrays = {'implementation': impl}, {}
    if impl != 'argmax':
        types |= {'exp_table': exp_t, 'inv_table': inv_t, 'inv_inp': inv_inp_t, 'accum': accum_t}
        t_index = t_in
        if impl == 'stable':
            s = int(t_in.signed)
            t_index = types['inp_norm'] = FixedType(t_in.width - s, t_in.integer - s, signed=False)
        attrs |= {'exp_table_size': exp_size, 'inv_table_size': inv_size}
        arrays = {
            'exp_table': exp_table(t_index, exp_size, 1.0, impl == 'stable', exp_t),
            'inv_table': inv_table(inv_inp_t, inv_size, inv_t),
        }
    shape = (vectors * n,) if vectors == 1 else (vectors, n)
    return Layer(name, 'softmax', shape, shape, types, attrs, n, n, arrays=arrays)
