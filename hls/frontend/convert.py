"""Keras model -> hls4ml ModelGraph (io_stream) -> HLS project on disk + g++ C simulation."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from lenet5_hls.core.cache import write_atomic
from lenet5_hls.core.errors import UserError
from lenet5_hls.core.output_dir import fresh_output_dir

log = logging.getLogger(__name__)

BACKENDS = ('Vitis', 'Vivado')
DEFAULT_PRECISION = 'ap_fixed<16,6>'


class ConversionError(UserError):
    """The model or configuration cannot be converted; the message names the problem."""


def load_model(path: str | os.PathLike):
    """Load a .keras model, HGQ2-quantized or plain float."""
    import hgq  # noqa: F401  registers the HGQ2 layers with Keras
    import keras

    path = Path(path)
    if not path.is_file():
        raise ConversionError(f'model file {path} not found (train one with `lenet5-hls train` or pass --model)')
    if path.suffix != '.keras':
        raise ConversionError(f'model file {path}: expected a Keras 3 .keras file')
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as e:  # keras raises many types for a bad archive
        raise ConversionError(f'model file {path} cannot be loaded by Keras: {e}') from None


def is_quantized(model) -> bool:
    """True for an HGQ2 (quantization-aware) model: its layers carry their own fixed-point types."""
    return any(type(layer).__module__.startswith('hgq') for layer in model.layers)


def _unary_lut_problem(layer) -> str:
    """Why hls4ml 1.3's QUnaryFunctionLUT handler (converters/keras_v3/hgq2/unary_lut.py) fails on this
    layer, which it reports as a bare assertion or AttributeError; '' when it converts."""
    from hgq.quantizer.internal import FixedPointQuantizerBase

    if layer._allow_heterogeneous_table:
        return 'hls4ml converts it only with one table for every element: pass allow_heterogeneous_table=False'
    if not (layer.enable_iq and layer.enable_oq):
        return 'hls4ml converts it only with both quantizers enabled (enable_iq=True, enable_oq=True)'
    iq, oq = layer.iq.quantizer, layer.oq.quantizer
    if not (isinstance(iq, FixedPointQuantizerBase) and isinstance(oq, FixedPointQuantizerBase)):
        return 'hls4ml converts it only with fixed-point input and output quantizers (no float quantizers)'
    rank = len(oq.kif[0].shape)
    if rank > 2:
        return (
            f'its output quantizer was built for a rank-{rank} input (a feature map), and hls4ml builds the table by '
            'applying it to a (1, table_size) array, which fails; build the layer on a flat shape before calling '
            'it, e.g. `lut.build((None, 1))`: its per-tensor quantizers then apply to a feature map as well'
        )
    return ''


def _refuse_unconvertible(model) -> None:
    """Layers hls4ml's Keras 3 parser stops on with a bare assertion, or converts into something else: name them and
    say why."""
    for layer in model.layers:
        max_value = getattr(layer, 'max_value', None)
        if type(layer).__name__ == 'ReLU' and max_value is not None and float(max_value) != float('inf'):
            raise ConversionError(
                f'layer {layer.name!r} (ReLU): max_value={float(max_value):g} is not supported (hls4ml converts '
                'ReLU only without max_value and has no io_stream relu6/relu_max)'
            )
        if type(layer).__name__ == 'QUnaryFunctionLUT' and (why := _unary_lut_problem(layer)):
            raise ConversionError(f'layer {layer.name!r} (QUnaryFunctionLUT): {why}')
        if type(layer).__name__ == 'BatchNormalization':
            ndim = len(layer.input.shape)
            axes = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
            if [a % ndim for a in axes] != [ndim - 1]:
                raise ConversionError(
                    f'layer {layer.name!r} (BatchNormalization): axis={layer.axis} is not supported (hls4ml '
                    'normalizes the last axis, the channels, whatever the axis)'
                )


def hls_config(
    model, precision: str | None = None, reuse_factor: int = 1, precision_config: dict | None = None
) -> dict:
    """The hls4ml configuration dict.

    HGQ2 models take every type from their quantizers (hls4ml's bit-exact propagation); a float model is
    quantized post-training with `precision` everywhere, refined per layer by `precision_config`, a dict in
    hls4ml's own format ({'Model': {...}, 'LayerName': {name: {'Precision': ...}}}).
    """
    import hls4ml

    if reuse_factor < 1:
        raise ConversionError(f'reuse factor must be >= 1, got {reuse_factor}')
    _refuse_unconvertible(model)
    if is_quantized(model):
        if precision_config:
            raise ConversionError('a precision config applies to float models only; HGQ2 models carry their own types')
        config = {
            'Model': {'Precision': precision or DEFAULT_PRECISION, 'ReuseFactor': reuse_factor, 'Strategy': 'Latency'}
        }
        return config
    config = hls4ml.utils.config_from_keras_model(
        model, granularity='name', default_precision=precision or DEFAULT_PRECISION, default_reuse_factor=reuse_factor
    )
    config['Model']['Strategy'] = 'Latency'
    for key, value in (precision_config or {}).items():
        if key == 'Model':
            config['Model'].update(value)
        elif key == 'LayerName':
            for name, layer_conf in value.items():
                if name not in config['LayerName']:
                    known = ', '.join(config['LayerName'])
                    raise ConversionError(
                        f'precision config names layer {name!r}, which the model does not have ({known})'
                    )
                config['LayerName'][name].update(layer_conf)
        else:
            raise ConversionError(f'precision config key {key!r} not understood; use "Model" and "LayerName"')
    return config


def load_precision_config(path: str | os.PathLike | None) -> dict | None:
    if path is None:
        return None
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ConversionError(f'precision config {path}: {e}') from None


def convert(
    model,
    output_dir: str | os.PathLike | None,
    backend: str = 'Vitis',
    reuse_factor: int = 1,
    precision: str | None = None,
    precision_config: dict | None = None,
    project_name: str = 'myproject',
    clock_period: float = 5,
    trace: bool = False,
):
    """Convert to an io_stream ModelGraph. With output_dir=None the graph is for inspection only.

    trace=True makes the C simulation record every layer's output (ModelGraph.trace), for localizing
    mismatches; the trace code is excluded from synthesis.
    """
    import hls4ml

    if backend not in BACKENDS:
        raise ConversionError(f'backend {backend!r} not supported; choose one of {", ".join(BACKENDS)}')
    config = hls_config(model, precision, reuse_factor, precision_config)
    scratch = None
    if output_dir is None:
        scratch = output_dir = tempfile.mkdtemp(prefix='lenet5-hls-')
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # hls4ml prints every layer it parses
            graph = hls4ml.converters.convert_from_keras_model(
                model,
                output_dir=str(output_dir),
                project_name=project_name,
                backend=backend,
                io_type='io_stream',
                hls_config=config,
                clock_period=clock_period,
            )
    except Exception as e:
        raise ConversionError(f'hls4ml could not convert the model: {type(e).__name__}: {e}') from e
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    if trace:
        for layer in graph.get_layers():
            layer.set_attr('trace', True)
    return graph


def write_and_compile(graph) -> bool:
    """Write the HLS project (synthesizable as is by Vitis/Vivado HLS) and link its C simulation into the graph
    (graph.predict). The library comes from the content-keyed cache (csim_build), compiled by the project's
    build_lib.sh unless these sources were compiled on this machine before; True if g++ ran now."""
    import ctypes

    from lenet5_hls.frontend.csim_build import CSimError, build_csim, csim_bundle, project_library

    with contextlib.redirect_stdout(io.StringIO()):
        graph.write()
    project = graph.config.get_project_name()
    try:
        bundle = csim_bundle(Path(graph.config.get_output_dir()), project)
    except CSimError:  # not a build_lib.sh project: hls4ml compiles the project just written its own way
        with contextlib.redirect_stdout(io.StringIO()):
            graph._compile()
        return True
    library, built, _ = build_csim(bundle, project)
    linked = project_library(graph)
    write_atomic(linked, library.read_bytes())  # a new file: a library the process has loaded stays intact
    graph._top_function_lib = ctypes.cdll.LoadLibrary(str(linked))  # as ModelGraph.compile links it
    return built


def build_project(
    model,
    out: str | os.PathLike,
    backend: str = 'Vitis',
    reuse_factor: int = 1,
    precision: str | None = None,
    precision_config: dict | None = None,
    project_name: str = 'myproject',
    force: bool = False,
    trace: bool = False,
    progress=log.info,
):
    """Write the HLS project to `out`, compile its C simulation and write `out/spec.json|npz`.

    On any failure the output directory is removed again, so no half-written project is left behind.
    Returns (graph, spec).
    """
    from lenet5_hls.frontend.extract import extract

    with fresh_output_dir(out, force, ConversionError) as out:
        progress(f'[hls] converting with hls4ml ({backend} backend, io_stream, reuse factor {reuse_factor})')
        graph = convert(model, out, backend, reuse_factor, precision, precision_config, project_name, trace=trace)
        progress('[hls] extracting the pipeline spec')
        source = {'backend': backend, 'io_type': 'io_stream', 'reuse_factor': reuse_factor, 'hls4ml': _hls4ml_version()}
        spec = extract(graph, source=source)
        progress(f'[hls] writing the HLS project to {out} and compiling the C simulation with g++')
        if not write_and_compile(graph):
            progress('[hls] the C simulation of these sources was compiled before: the cached library is linked')
        spec.save(out / 'spec.json')
    return graph, spec


def _hls4ml_version() -> str:
    import hls4ml

    return hls4ml.__version__


def hls_types(model) -> dict[str, dict[str, str]]:
    """The C++ types hls4ml gives every tensor of the model (its containers may be wider than the values)."""
    types = {}
    for layer in convert(model, output_dir=None).get_layers():
        entry = {'output': str(layer.get_output_variable().type.precision)}
        entry.update({name: str(w.type.precision) for name, w in layer.weights.items()})
        types[layer.name] = entry
    return types
