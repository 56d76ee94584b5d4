#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the main flow on the committed LeNet-5 (`lenet5-hls flow`): hls4ml
# HLS project + C simulation, pipeline spec, golden model, generated Verilog, cocotb simulation of 1,000
# MNIST test images under Verilator, every output element compared; figures in build/flow/summary.json.
# Extra arguments go to `lenet5-hls flow` (e.g. --images 10000, --sim icarus, --data-dir DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/lenet5-hls flow --out build/flow --images 1000 --force "$@"
