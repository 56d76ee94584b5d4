"""Lint and formatting: `ruff check` and `ruff format --check` pass on the whole tree (config in pyproject.toml)."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RUFF = {'check': ['check', '--no-fix', '--output-format', 'concise', '.'], 'format': ['format', '--check', '.']}


@pytest.mark.parametrize('command', RUFF)
def test_ruff(command):
    args = RUFF[command]
    result = subprocess.run([sys.executable, '-m', 'ruff', *args], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, f'ruff {" ".join(args)} (exit {result.returncode}):\n{result.stdout}{result.stderr}'
