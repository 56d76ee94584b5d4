"""Random small CNNs over the supported layer kinds, drawn from a seed, through the whole flow.

A case is drawn from numpy's Generator(seed): input shape and channels, conv blocks (filters, kernel 1-5,
stride, padding, activation in the conv or as its own layer, BatchNormalization), pooling, Dropout, dense
blocks, and an hls4ml precision config with narrow rounding and saturating types on a random subset of layers.
BatchNormalization is drawn from a stream of its own ([seed, 2], its weights from [seed, 3]), and so is a
final softmax ([seed, 4]), so that adding them left every other draw of a seed as it was. So is the choice of
an HGQ2 case ([seed, 5]): the same layers as HGQ2 layers (QConv2D, QDense, QMaxPool2D, QAvgPool2D) with random
quantizer widths and no precision config (hls4ml's bit-exact propagation sets every type), and one or two
QUnaryFunctionLUTs (a Keras function tabulated over a random input quantizer) inserted. The same seed gives the
same case on every machine, so a failure is reproduced from its seed alone.

`run_case` takes a case through conversion, extraction, the golden model against hls4ml's C simulation and,
optionally, the RTL. What it may end in is the contract the fuzzer checks: a model is either refused
during conversion/extraction (a UserError naming the layer and the reason) or bit-exact everywhere after;
any other exception, or a refusal later, is a failure.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from lenet5_hls.core.errors import UserError
from lenet5_hls.core.fixed_point import FixedType

ROUNDING = ('TRN', 'RND', 'RND_ZERO', 'RND_INF', 'RND_MIN_INF', 'RND_CONV', 'TRN_ZERO')
SATURATION = ('SAT', 'SAT_SYM', 'SAT_ZERO')
ACTIVATIONS = ('relu', 'tanh', 'sigmoid', 'linear', None)  # inside a Conv2D/Dense
ACTIVATION_LAYERS = ('ReLU', 'LeakyReLU', 'ThresholdedReLU', 'Activation')  # as layers of their own
TABLE_SIZES = (256, 512, 1024, 2048)
UNSUPPORTED_SHARE = 0.1
BATCHNORM_SHARE = 0.3  # of conv blocks
SOFTMAX_SHARE = 0.3  # of cases: a softmax after the output layer
SOFTMAX_IMPLEMENTATIONS = ('stable', 'latency', 'argmax')
HGQ2_SHARE = 0.4  # of cases: built with HGQ2 layers and QUnaryFunctionLUTs
# tabulated by a QUnaryFunctionLUT: Keras activations by name (a name, unlike a Python function, is JSON-able)
LUT_FUNCTIONS = ('silu', 'gelu', 'softsign', 'softplus', 'tanh', 'sigmoid', 'hard_sigmoid', 'mish')
LUT_ROUNDING = ('TRN', 'RND', 'RND_CONV')
LUT_OVERFLOW = ('WRAP', 'SAT', 'SAT_SYM')
# Keras model building and hls4ml conversion, one case at a time in a process: hls4ml sets up its layer
# handlers lazily, and two threads converting at once have seen a handler without its default config.
_CONVERT_LOCK = threading.Lock()  # of the activation layers: one hls4ml has no io_stream code for
BACKENDS = ('Vitis', 'Vivado')


@dataclass
class FuzzCase:
    """One random model: `layers` describes the Keras layers in order (JSON-able), `config` is hls4ml's."""

    seed: int
    input_shape: tuple[int, int, int]
    layers: list[dict]
    config: dict
    backend: str
    # an HGQ2 case's quantizers: input [k, i, f] (kif), datalane and weight bits (kbi); None: a float model
    hgq2: dict | None = None

    def model(self):
        """The Keras model, its weights drawn from the seed too (not from Keras's global seed, so cases built
        at once in several threads stay reproducible)."""
        import keras

        inputs = keras.Input(self.input_shape, name='x')
        x = inputs
        with _hgq2_scopes(self.hgq2) if self.hgq2 else contextlib.nullcontext():
            for spec in self.layers:
                x = _keras_layer(spec, self.hgq2)(x)
        model = keras.Model(inputs, x, name=f'fuzz{self.seed}')
        rng = np.random.default_rng([self.seed, 1])
        bn_rng = np.random.default_rng([self.seed, 3])
        for layer in model.layers:
            # by name: an HGQ2 layer's weights include its quantizers' variables
            named = {w.path.rsplit('/', 1)[-1]: w for w in layer.weights}
            if isinstance(layer, keras.layers.BatchNormalization):  # gamma of either sign, beta, mean, variance
                n = tuple(named['gamma'].shape)
                gamma = bn_rng.uniform(0.5, 1.5, n) * bn_rng.choice([-1, 1], n)
                mean, var = bn_rng.normal(0, 0.3, n), bn_rng.uniform(0.5, 2.0, n)
                layer.set_weights([gamma, bn_rng.normal(0, 0.3, n), mean, var])
            elif 'kernel' in named:  # kernel (fan-in scaled, so activations stay in range) and bias
                shape = tuple(named['kernel'].shape)
                named['kernel'].assign(rng.normal(0, 1.5 / np.sqrt(int(np.prod(shape[:-1]))), shape))
                named['bias'].assign(rng.normal(0, 0.3, tuple(named['bias'].shape)))
        return model

    def to_json(self) -> dict:
        return asdict(self)


def _keras_layer(spec: dict, q: dict | None = None):
    """The Keras layer of a spec; in an HGQ2 case (q: its quantizers) the HGQ2 layer where there is one
    (activations, Flatten, Dropout and BatchNormalization stay Keras layers)."""
    import keras

    kind, name = spec['kind'], spec['name']
    if kind == 'UnaryLUT':
        modes = {'round_mode': spec['rounding'], 'overflow_mode': spec['overflow']}
        return unary_lut(spec['function'], name, spec['iq'], spec['oq'], **modes)
    conv, dense, extra = keras.layers.Conv2D, keras.layers.Dense, {}
    pools = {'MaxPooling2D': keras.layers.MaxPooling2D, 'AveragePooling2D': keras.layers.AveragePooling2D}
    if q is not None:
        from hgq.layers import QAvgPool2D, QConv2D, QDense, QMaxPool2D

        conv, dense, pools = QConv2D, QDense, {'MaxPooling2D': QMaxPool2D, 'AveragePooling2D': QAvgPool2D}
        extra = {'iq_conf': _kif(q['input'], 'datalane')} if spec.get('first') else {}
    if kind == 'Conv2D':
        return conv(
            spec['filters'],
            spec['kernel'],
            strides=spec['stride'],
            padding=spec['padding'],
            activation=spec['activation'],
            name=name,
            **extra,
        )
    if kind == 'Dense':
        return dense(spec['units'], activation=spec['activation'], name=name, **extra)
    if kind in pools:
        return pools[kind](spec['pool'], name=name, **extra)
    if kind == 'ReLU':
        return keras.layers.ReLU(threshold=spec['threshold'], max_value=spec.get('max_value'), name=name)
    if kind == 'LeakyReLU':
        return keras.layers.LeakyReLU(negative_slope=spec['slope'], name=name)
    if kind == 'Activation':
        return keras.layers.Activation(spec['activation'], name=name)
    if kind == 'Flatten':
        return keras.layers.Flatten(name=name)
    if kind == 'Dropout':
        return keras.layers.Dropout(0.25, name=name)
    if kind == 'BatchNormalization':
        return keras.layers.BatchNormalization(name=name)
    raise ValueError(f'unknown fuzz layer kind {kind!r}')


def _hgq2_scopes(q: dict):
    """HGQ2's default quantizers of the case's layers: kbi, one width per tensor."""
    from hgq.config import QuantizerConfigScope

    scopes = contextlib.ExitStack()
    scopes.enter_context(
        QuantizerConfigScope(
            place='datalane', default_q_type='kbi', q_type='kbi', b0=q['datalane_bits'], heterogeneous_axis=()
        )
    )
    scopes.enter_context(
        QuantizerConfigScope(place=('weight', 'bias'), default_q_type='kbi', q_type='kbi', b0=q['weight_bits'], i0=0)
    )
    return scopes


def _kif(k_i_f, place: str, **modes):
    from hgq.config import QuantizerConfig

    k, i, f = k_i_f
    return QuantizerConfig('kif', place, k0=k, i0=i, f0=f, trainable=False, heterogeneous_axis=(), **modes)


def unary_lut(function, name: str, iq: list[int], oq: list[int], **modes):
    """A QUnaryFunctionLUT hls4ml converts: kif input and output quantizers ([k, i, f]; modes: the output's
    round_mode and overflow_mode), per tensor, one table, built on a flat shape (hls4ml 1.3 applies the output
    quantizer to a (1, table_size) array; convert._unary_lut_problem)."""
    from hgq.layers import QUnaryFunctionLUT

    lut = QUnaryFunctionLUT(
        function,
        iq_conf=_kif(iq, 'datalane'),
        oq_conf=_kif(oq, 'table', **modes),
        allow_heterogeneous_table=False,
        name=name,
    )
    lut.build((None, 1))
    return lut


def _as_hgq2(rng, layers: list[dict]) -> tuple[list[dict], dict]:
    """The layers of an HGQ2 case (one or two UnaryLUTs inserted before the output layer, not right behind the
    Flatten, which spec validation refuses; the first layer marked to carry the input quantizer) and its quantizer
    settings."""
    layers = [dict(spec) for spec in layers]
    layers[0]['first'] = True
    for n in range(int(rng.integers(1, 3))):
        out = next(i for i, spec in enumerate(layers) if spec['name'] == 'out')
        # after any layer before the output layer but the Flatten and a Dropout behind it
        at = int(rng.choice([i for i in range(1, out + 1) if layers[i - 1]['kind'] not in ('Flatten', 'Dropout')]))
        lut = {'kind': 'UnaryLUT', 'name': f'lut{n}', 'function': str(rng.choice(LUT_FUNCTIONS))}
        lut['iq'] = [1, int(rng.integers(1, 4)), int(rng.integers(2, 6))]  # a table of 16 to 512 entries
        lut['oq'] = [int(rng.integers(0, 2)), int(rng.integers(0, 3)), int(rng.integers(3, 7))]
        lut.update(rounding=str(rng.choice(LUT_ROUNDING)), overflow=str(rng.choice(LUT_OVERFLOW)))
        layers.insert(at, lut)
    quantizers = {
        'input': [1, int(rng.integers(1, 4)), int(rng.integers(3, 7))],
        'datalane_bits': int(rng.integers(4, 10)),
        'weight_bits': int(rng.integers(3, 8)),
    }
    return layers, quantizers


def _type(rng, signed: bool = True, saturate: bool = False) -> str:
    width = int(rng.integers(5, 17))
    integer = int(rng.integers(1, min(width, 7) + 1))
    rounding = str(rng.choice(ROUNDING))
    overflow = str(rng.choice(SATURATION)) if saturate else 'WRAP'
    return f'ap_{"" if signed else "u"}fixed<{width},{integer},AP_{rounding},AP_{overflow}>'


def _activation_layer(rng, name: str) -> dict:
    """An activation as its own layer; now and then one hls4ml cannot build in io_stream (ReLU6, ELU), which
    must be refused during extraction, naming the layer."""
    kind = str(rng.choice(ACTIVATION_LAYERS))
    if rng.random() < UNSUPPORTED_SHARE:
        if rng.random() < 0.5:
            return {'kind': 'ReLU', 'name': name, 'threshold': 0.0, 'max_value': 6.0}
        return {'kind': 'Activation', 'name': name, 'activation': 'elu'}
    if kind == 'ReLU':
        return {'kind': 'ReLU', 'name': name, 'threshold': 0.0}
    if kind == 'ThresholdedReLU':
        return {'kind': 'ReLU', 'name': name, 'threshold': float(rng.choice([0.25, 0.5, 1.0]))}
    if kind == 'LeakyReLU':
        return {'kind': 'LeakyReLU', 'name': name, 'slope': float(rng.choice([0.1, 0.125, 0.3]))}
    return {'kind': 'Activation', 'name': name, 'activation': str(rng.choice(['relu', 'tanh', 'sigmoid']))}


def unsupported(case: FuzzCase) -> list[str]:
    """The layers of a case drawn to be refused (ReLU6, ELU)."""
    return [s['name'] for s in case.layers if s.get('max_value') is not None or s.get('activation') == 'elu']


def draw(seed: int) -> FuzzCase:
    """The case of a seed: 1-3 conv blocks, 0-2 dense blocks and a dense output, with a precision config."""
    rng = np.random.default_rng(seed)
    bn_rng = np.random.default_rng([seed, 2])
    size = input_size = int(rng.integers(6, 15))
    channels = int(rng.integers(1, 4))
    layers: list[dict] = []
    for i in range(int(rng.integers(1, 4))):
        kernel = int(rng.integers(1, min(5, size) + 1))
        stride = int(rng.choice([1, 1, 1, 2]))
        padding = str(rng.choice(['valid', 'same']))
        out = -(-size // stride) if padding == 'same' else (size - kernel) // stride + 1
        if out < 1:
            break
        separate = rng.random() < 0.35
        activation = None if separate else rng.choice(ACTIVATIONS)
        conv = {'kind': 'Conv2D', 'name': f'conv{i}', 'filters': int(rng.integers(1, 7)), 'kernel': kernel}
        conv.update(stride=stride, padding=padding, activation=None if activation is None else str(activation))
        layers.append(conv)
        size = out
        if bn_rng.random() < BATCHNORM_SHARE:  # fused into the conv by hls4ml, or its own layer after an activation
            layers.append({'kind': 'BatchNormalization', 'name': f'bn{i}'})
        if separate:
            layers.append(_activation_layer(rng, f'act{i}'))
        if size >= 2 and rng.random() < 0.5:
            pool = int(rng.choice([2, 2, 3])) if size >= 3 else 2
            kind = str(rng.choice(['MaxPooling2D', 'AveragePooling2D']))
            layers.append({'kind': kind, 'name': f'pool{i}', 'pool': pool})
            size //= pool
    layers.append({'kind': 'Flatten', 'name': 'flat'})
    if rng.random() < 0.3:
        layers.append({'kind': 'Dropout', 'name': 'drop'})
    for i in range(int(rng.integers(0, 3))):
        activation = rng.choice(ACTIVATIONS)
        units = int(rng.integers(2, 17))
        layers.append({'kind': 'Dense', 'name': f'fc{i}', 'units': units, 'activation': activation and str(activation)})
    layers.append({'kind': 'Dense', 'name': 'out', 'units': int(rng.integers(2, 11)), 'activation': None})

    config: dict = {'Model': {'Precision': _type(rng, saturate=rng.random() < 0.5)}, 'LayerName': {}}
    for spec in layers:
        if spec['kind'] in ('Flatten', 'Dropout', 'BatchNormalization') or rng.random() < 0.5:
            continue
        precision = {'result': _type(rng, saturate=rng.random() < 0.6)}
        if spec['kind'] in ('Conv2D', 'Dense'):
            precision['accum'] = _type(rng, saturate=rng.random() < 0.5)
            precision['weight'] = _type(rng)
        config['LayerName'][spec['name']] = {'Precision': precision}
    for spec in layers:  # table activations: a random power-of-two table and table type
        act = spec.get('activation')
        if act in ('tanh', 'sigmoid'):
            table = {'table_size': int(rng.choice(TABLE_SIZES)), 'Precision': {'table': _type(rng)}}
            name = spec['name'] if spec['kind'] == 'Activation' else f'{spec["name"]}_{act}'
            config['LayerName'].setdefault(name, {}).update(table)
    softmax_rng = np.random.default_rng([seed, 4])
    if softmax_rng.random() < SOFTMAX_SHARE:
        out_type = config['LayerName'].get('out', {}).get('Precision', {}).get('result', config['Model']['Precision'])
        layers.append({'kind': 'Activation', 'name': 'softmax', 'activation': 'softmax'})
        config['LayerName']['softmax'] = _softmax_config(softmax_rng, FixedType.parse(out_type).width)
    backend = BACKENDS[seed % len(BACKENDS)]
    hgq2_rng = np.random.default_rng([seed, 5])
    # hls4ml takes no precision config for HGQ2 models, nor a softmax's: a case with a softmax stays a float model
    if hgq2_rng.random() < HGQ2_SHARE and 'softmax' not in config['LayerName']:
        layers, quantizers = _as_hgq2(hgq2_rng, layers)
        return FuzzCase(seed, (input_size, input_size, channels), layers, {}, backend, quantizers)
    return FuzzCase(seed, (input_size, input_size, channels), layers, config, backend)


def _softmax_config(rng, input_width: int) -> dict:
    """hls4ml's config of a softmax: an implementation, its tables' size and types. The tables are indexed by the
    top bits of the input (of its max-normalized difference for stable) and of inv_inp_t, so the size stays
    within both widths; a larger one is refused at extraction, which the fuzzer does not draw on purpose."""
    impl = str(rng.choice(SOFTMAX_IMPLEMENTATIONS))
    config = {'Implementation': impl, 'Precision': {'result': _type(rng, saturate=rng.random() < 0.6)}}
    if impl == 'argmax':
        return config
    inv_inp = FixedType(int(rng.integers(5, 13)), int(rng.integers(1, 7)), signed=False)
    index_bits = int(rng.integers(2, min(input_width - 1, inv_inp.width, 10) + 1))
    return config | {
        'table_size': 1 << index_bits,
        'exp_table_t': _type(rng, saturate=rng.random() < 0.5),
        'inv_table_t': _type(rng, saturate=rng.random() < 0.5),
        'inv_inp_t': inv_inp.cpp(),
        'accum_t': _type(rng, saturate=rng.random() < 0.5),
    }


def random_inputs(t: FixedType, shape: tuple, n: int, seed: int) -> np.ndarray:
    """n real inputs spread over the whole range of the input type t, its rails included."""
    rng = np.random.default_rng(seed)
    raw = rng.integers(t.raw_min, t.raw_max + 1, size=(n, *shape))
    raw[0], raw[-1] = t.raw_min, t.raw_max
    return raw.astype(np.float64) * 2.0 ** (-t.frac)


def run_case(
    case: FuzzCase, images: int = 200, rtl: bool = False, rtl_images: int = 10, work: Path | None = None
) -> dict:
    """The case through the flow; returns its record: status ok | refused | failed, with the stage, reason,
    elements compared and mismatches (golden vs C simulation, and RTL vs golden when rtl)."""
    record = {'seed': case.seed, 'backend': case.backend, 'layers': [s['kind'] for s in case.layers]}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f'fuzz{case.seed}-', dir=work) as tmp:
        try:
            record.update(_run(case, Path(tmp), images, rtl, rtl_images))
        except Exception as e:  # noqa: BLE001 - any escape is the fuzzer's finding
            record.update(status='failed', stage=record.get('stage', 'unknown'), reason=_reason(e))
    record['seconds'] = round(time.perf_counter() - start, 1)
    return record


def _reason(e: Exception) -> str:
    if isinstance(e, UserError):
        return f'{type(e).__name__}: {e}'
    return ''.join(traceback.format_exception_only(e)).strip() + '\n' + ''.join(traceback.format_tb(e.__traceback__))


def _run(case: FuzzCase, tmp: Path, images: int, rtl: bool, rtl_images: int) -> dict:
    from lenet5_hls.frontend.convert import convert, write_and_compile
    from lenet5_hls.frontend.extract import extract
    from lenet5_hls.golden import GoldenModel
    from lenet5_hls.verify.reference_runs import bounded_predict

    try:
        with _CONVERT_LOCK:
            model = case.model()
            graph = convert(model, tmp / 'hls', backend=case.backend, precision_config=case.config or None)
            spec = extract(graph)
    except UserError as e:
        return {'status': 'refused', 'stage': 'extraction', 'reason': f'{type(e).__name__}: {e}'}
    out = {'kinds': [la.kind for la in spec.layers], 'stage': 'csim'}
    write_and_compile(graph)
    golden = GoldenModel(spec)
    x = random_inputs(spec.input.type, spec.input.shape, images, case.seed)
    expected = golden.run(golden.quantize_input(x)).reshape(len(x), -1)
    got = bounded_predict(graph, x)
    raw = got * 2.0**spec.output.type.frac
    out['elements'] = int(expected.size)
    out['csim_mismatches'] = int(np.count_nonzero(raw != expected))
    if out['csim_mismatches'] or not rtl:
        out['status'] = 'failed' if out['csim_mismatches'] else 'ok'
        return out
    out.update(_rtl(spec, golden, x[:rtl_images], expected[:rtl_images], tmp))
    return out


def _rtl(spec, golden, x: np.ndarray, expected: np.ndarray, tmp: Path) -> dict:
    from lenet5_hls.rtl.generator import RtlGenerationError, generate
    from lenet5_hls.verify.simulate import simulate

    try:
        desc = generate(spec, tmp / 'rtl')
    except RtlGenerationError as e:
        return {'status': 'failed', 'stage': 'rtl', 'reason': f'refused after extraction: {e}'}
    result = simulate(
        tmp / 'rtl' / f'{desc.top}.json',
        golden.quantize_input(x),
        expected.reshape(len(x), *spec.output.shape),
        tmp / 'sim',
        jobs=1,
        progress=lambda *_: None,
        optimize=False,  # a small model, a few images: the compile is the cost (77 -> 55 s for seed 1)
    )
    timing = {'ii_cycles': result['ii_cycles'], 'latency_cycles': result['latency_cycles']}
    analytical = {'ii_cycles': desc.folding.ii_cycles, 'latency_cycles': desc.timing.latency_cycles}
    ok = result['mismatches'] == 0 and result['extra_beats'] == 0
    return {
        'stage': 'rtl',
        'status': 'ok' if ok else 'failed',
        'rtl_elements': result['elements'],
        'rtl_mismatches': result['mismatches'],
        'measured': timing,
        'analytical': analytical,
    }


def summary(records: list[dict]) -> dict:
    """Counts over a campaign: tried, extracted, refused (by reason), failed, mismatching elements."""
    refused: dict[str, int] = {}
    for r in records:
        if r['status'] == 'refused':
            reason = r['reason'].split(';')[0]
            refused[reason] = refused.get(reason, 0) + 1
    return {
        'models_tried': len(records),
        'extracted': sum(r['status'] != 'refused' for r in records),
        'refused': sum(r['status'] == 'refused' for r in records),
        'refused_reasons': dict(sorted(refused.items(), key=lambda kv: -kv[1])),
        'failed': sum(r['status'] == 'failed' for r in records),
        'failed_seeds': [r['seed'] for r in records if r['status'] == 'failed'],
        'csim_elements': sum(r.get('elements', 0) for r in records),
        'csim_mismatches': sum(r.get('csim_mismatches', 0) for r in records),
        'rtl_models': sum('rtl_elements' in r for r in records),
        'rtl_elements': sum(r.get('rtl_elements', 0) for r in records),
        'rtl_mismatches': sum(r.get('rtl_mismatches', 0) for r in records),
        # FINN's check: simulated cycles against the analytical model (padded layers: issue 11)
        'rtl_ii_equal_analytical': sum(_cycles_equal(r, 'ii_cycles') for r in records),
        'rtl_latency_equal_analytical': sum(_cycles_equal(r, 'latency_cycles') for r in records),
    }


def _cycles_equal(record: dict, key: str) -> bool:
    return 'measured' in record and record['measured'][key] == record['analytical'][key]
