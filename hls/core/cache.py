"""Content-keyed caches on the machine a task runs on (simulator builds, C-simulation libraries, Yosys runs).

Each worker keeps its own cache directory (no shared filesystem needed). An entry is made under an exclusive
file lock, so two tasks (threads or processes of a machine) that need the same key take turns and the second
reuses the first's result; an entry is published only once complete (a key file written last, or a file
renamed into place), so a task killed mid-build or a concurrent reader never sees half of one.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

KEY_FILE = 'build_key.sha256'  # in a keyed build directory: the key of the complete build it holds
LOCK_FILE = 'build.lock'


def cache_dir(kind: str) -> Path:
    """This machine's cache of one kind of entry: $LENET5_CACHE/KIND, else ~/.cache/lenet5-hls/KIND."""
    return Path(os.environ.get('LENET5_CACHE', Path.home() / '.cache' / 'lenet5-hls')) / kind


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on PATH (created if missing): holders on one machine take turns; the kernel releases
    it if its holder dies."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'w') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def write_atomic(path: Path, data: bytes) -> None:
    """Write PATH through a temporary file in its directory renamed into place: readers see the old file or
    the whole new one, never a part."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def keyed_build(build_dir: Path, key: str, make: Callable[[Path], None]) -> bool:
    """make(build_dir) unless build_dir holds a complete build of `key`; True if it was built now. The key
    file goes last, so an interrupted build is redone by the next caller."""
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    key_file = build_dir / KEY_FILE
    with locked(build_dir / LOCK_FILE):
        if key_file.exists() and key_file.read_text() == key:
            os.utime(key_file)  # last use, for prune_builds
            return False
        key_file.unlink(missing_ok=True)
        make(build_dir)
        write_atomic(key_file, key.encode())
    return True


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob('*') if f.is_file() and not f.is_symlink())


def prune_builds(cache: Path, max_bytes: int, min_idle_s: float = 3600) -> list[Path]:
    """Delete the least recently used keyed builds in `cache` until it holds at most max_bytes (a LeNet-5
    Verilator build is about 300 MB, so an unbounded cache fills a disk). A build used in the last min_idle_s
    seconds stays (a task may be about to run it: only its build step holds the lock), and so does one another
    task holds locked. Returns the deleted directories."""
    idle_since = time.time() - min_idle_s
    entries = [d for d in Path(cache).iterdir() if (d / KEY_FILE).exists()] if Path(cache).is_dir() else []
    entries.sort(key=lambda d: (d / KEY_FILE).stat().st_mtime)  # oldest use first
    sizes = {d: _size(d) for d in entries}
    total = sum(sizes.values())
    deleted = []
    for d in entries:
        if total <= max_bytes or (d / KEY_FILE).stat().st_mtime > idle_since:
            break
        with open(d / LOCK_FILE, 'w') as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # in use
            (d / KEY_FILE).unlink(missing_ok=True)  # no longer a complete build, even if the removal stops
            shutil.rmtree(d, ignore_errors=True)
        total -= sizes[d]
        deleted.append(d)
    return deleted


def keyed_file(path: Path, make: Callable[[], bytes]) -> tuple[bytes, bool]:
    """The contents of PATH, made by make() (under the lock, written atomically) if it does not exist yet;
    (contents, made now)."""
    path = Path(path)
    if path.exists():  # complete by write_atomic: no lock needed to read it
        return path.read_bytes(), False
    with locked(path.with_name(path.name + '.lock')):
        if path.exists():  # another task made it while this one waited
            return path.read_bytes(), False
        data = make()
        write_atomic(path, data)
    return data, True


@functools.lru_cache(maxsize=16)
def _tool_version(exe: str, mtime_ns: int, flag: str) -> str:
    import subprocess

    return subprocess.run([exe, flag], capture_output=True, text=True, check=True).stdout.strip()


def tool_version(exe: str, flag: str = '--version') -> str:
    """`exe flag`'s output, asked once per installed executable (a reinstalled tool is asked again): part of
    a cache key, since another version may give another result."""
    return _tool_version(exe, os.stat(exe).st_mtime_ns, flag)
