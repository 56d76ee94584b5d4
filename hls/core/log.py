"""Logging and progress for every stage: messages go through the `lenet5_hls` logger (the CLI sets the
level from -v/-q), progress bars through tqdm on stderr, shown only on a terminal at the default level."""

from __future__ import annotations

import logging

from tqdm import tqdm

ROOT = 'lenet5_hls'


def progress_bar(iterable=None, *, total: int | None = None, desc: str = '', unit: str = 'it'):
    """A tqdm bar when stderr is a terminal and INFO messages are shown; otherwise a plain iterator."""
    quiet = not logging.getLogger(ROOT).isEnabledFor(logging.INFO)
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=True if quiet else None, leave=False)
