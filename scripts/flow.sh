#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the main flow on the committed LeNet-5: hls4ml HLS project + C
# simulation + pipeline spec in build/lenet5_hls, the generated Verilog in build/lenet5_rtl, then golden
# model vs C simulation on 2,000 MNIST test images (bit-exact check and speed) into build/bench_golden.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/lenet5-hls hls --out build/lenet5_hls --force
.venv/bin/lenet5-hls rtl --spec build/lenet5_hls/spec.json --out build/lenet5_rtl --force
.venv/bin/python -m lenet5_hls.bench_golden --images 2000 --out build/bench_golden.json
