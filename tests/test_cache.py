"""Content-keyed caches (core/cache.py): an entry made once when several processes want it at the same time,
never visible half-written, an interrupted entry or build made again by the next caller, and a build cache
kept under its size by deleting the least recently used builds."""

import fcntl
import os
import subprocess
import sys

import pytest

from lenet5_hls.core.cache import KEY_FILE, LOCK_FILE, keyed_build, keyed_file, prune_builds

ENTRY = b'x' * 1_000_000
# A process that wants the entry at argv[1]: its make() is slow, so the processes overlap; prints 1 if it made it.
WANT = """
import sys, time
from pathlib import Path
from lenet5_hls.core.cache import keyed_file

path = Path(sys.argv[1])

def make():
    assert not path.exists(), 'the entry is visible before it is complete'
    time.sleep(0.5)
    return b'x' * 1_000_000

data, made = keyed_file(path, make)
assert data == b'x' * 1_000_000
print(int(made))
"""


def test_concurrent_processes_make_an_entry_once(tmp_path):
    entry = tmp_path / 'e.json'
    procs = [
        subprocess.Popen([sys.executable, '-c', WANT, str(entry)], stdout=subprocess.PIPE, text=True) for _ in range(3)
    ]
    made = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0]
    assert sorted(made) == ['0', '0', '1']
    assert entry.read_bytes() == ENTRY
    assert sorted(p.name for p in tmp_path.iterdir()) == ['e.json', 'e.json.lock']  # no temporary file left


def test_interrupted_entry_is_made_again(tmp_path):
    entry = tmp_path / 'e.json'

    def fail():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        keyed_file(entry, fail)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['e.json.lock']
    assert keyed_file(entry, lambda: ENTRY) == (ENTRY, True)
    assert keyed_file(entry, lambda: b'other') == (ENTRY, False)


def test_interrupted_build_is_redone(tmp_path):
    calls = []

    def half_build(d):
        calls.append('half')
        (d / 'lib.so').write_bytes(b'half')
        raise KeyboardInterrupt

    def build(d):
        calls.append('full')
        (d / 'lib.so').write_bytes(b'full')

    with pytest.raises(KeyboardInterrupt):
        keyed_build(tmp_path / 'b', 'k1', half_build)
    assert not (tmp_path / 'b' / KEY_FILE).exists()
    assert keyed_build(tmp_path / 'b', 'k1', build) is True
    assert keyed_build(tmp_path / 'b', 'k1', build) is False
    assert calls == ['half', 'full'] and (tmp_path / 'b' / 'lib.so').read_bytes() == b'full'


def test_prune_deletes_least_recently_used_builds(tmp_path):
    """Five 1 MB builds, used in the order b0..b4 except that b1 is used again last (now), pruned to 2.5 MB: the
    oldest uses go (b0, b2), a build another task holds locked (b3) stays, so the next one goes (b4); one used
    within the idle time (b1) stays."""
    for n in range(5):
        keyed_build(tmp_path / f'b{n}', f'k{n}', lambda d: (d / 'sim').write_bytes(b'x' * 1_000_000))
    for n, when in enumerate([100, 500, 200, 300, 400]):
        os.utime(tmp_path / f'b{n}' / KEY_FILE, (when, when))
    assert not keyed_build(tmp_path / 'b1', 'k1', lambda d: None)  # a cache hit counts as a use
    with open(tmp_path / 'b3' / LOCK_FILE, 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        deleted = prune_builds(tmp_path, 2_500_000)
    assert sorted(d.name for d in deleted) == ['b0', 'b2', 'b4']
    assert sorted(d.name for d in tmp_path.iterdir()) == ['b1', 'b3']
    assert prune_builds(tmp_path, 10_000_000) == []
