"""One output directory policy for every command that writes a tree: never overwrite a non-empty
directory without --force, and remove a half-written one when generation fails."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path


@contextlib.contextmanager
def fresh_output_dir(out: str | os.PathLike, force: bool, error: type[Exception]):
    """Yield `out` emptied (a non-empty one only with force, else `error`); delete it if the body fails."""
    out = Path(out)
    if out.exists():
        if any(out.iterdir()) and not force:
            raise error(f'output directory {out} exists and is not empty; choose another --out or pass --force')
        shutil.rmtree(out)
    try:
        yield out
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
