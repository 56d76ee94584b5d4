"""Content-keyed caches (core/cache.py): an entry made once when several processes want it at the same time,
never visible half-written, and an interrupted entry or build made again by the next caller."""

import subprocess
import sys

import pytest

from lenet5_hls.core.cache import KEY_FILE, keyed_build, keyed_file

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
