"""The HLS project's C simulation library, compiled once per content: the sources build_lib.sh compiles
(csim_bundle) and the g++ version make the key of a build in this machine's cache (cache_dir('csim'), built
under a file lock), so a project written again with the same sources, by another test, a later flow or a
worker of the execution layer, reuses the library instead of paying g++ again.

The cache's copy of build_lib.sh keeps hls4ml's flags, includes and link step but compiles the project's
sources as one translation unit at -O2 instead of two at -O3: the headers are parsed once, and -O3 buys no run
time here. The committed LeNet-5: 11.4 s of CPU instead of 16.5 s, the same outputs on 1,000 MNIST images,
97.5-99.2 images/s against 96.7-99.8 (-O1 would compile in 10.3 s but run at 87 images/s)."""

from __future__ import annotations

import hashlib
import re
import shutil
import time
from pathlib import Path

from lenet5_hls.core.cache import cache_dir, keyed_build, tool_version
from lenet5_hls.core.errors import ToolMissing, UserError
from lenet5_hls.core.execution import pack_files, run_child, unpack_files

SOURCES_STAMP = 'csim'  # the library stamp the bundle's build_lib.sh is given (hls4ml's is random per project)
OPT_LEVEL = '-O2'  # for hls4ml's -O3
UNITY_SOURCE = 'csim_unity.cpp'  # includes the sources build_lib.sh compiles one by one
_COMPILE = re.compile(r'^(\$\{CC\} .*) -c (\S+) -o \S+\.o$', re.M)  # one object per source
_LINK = re.compile(r'^\$\{CC\} .* -shared (?:\S+\.o )+(-o .*)$', re.M)  # the objects into the library
_CFLAGS = re.compile(r'^CFLAGS="[^"]*-O3\b[^"]*"$', re.M)
# what a script not of hls4ml's shape leaves the caller to do
_NOT_HLS4ML = '(hls4ml changed its build script); run the C simulation in the process (tasks=False)'


class CSimError(UserError):
    """The C simulation could not be compiled or run."""


def project_library(graph) -> Path:
    """Where hls4ml's compile of the graph's project puts the library, named by the project's own stamp."""
    c = graph.config
    return Path(c.get_output_dir()) / 'firmware' / f'{c.get_project_name()}-{c.get_config_value("Stamp")}.so'


def csim_bundle(project_dir: Path, project: str) -> dict[str, bytes]:
    """What build_lib.sh compiles (the script, the bridge, firmware/ without libraries), by path relative
    to the project; the script's library stamp fixed to SOURCES_STAMP so that equal sources give equal keys."""
    project_dir = Path(project_dir)
    script, bridge = project_dir / 'build_lib.sh', project_dir / f'{project}_bridge.cpp'
    firmware = [p for p in sorted((project_dir / 'firmware').rglob('*')) if p.is_file() and p.suffix != '.so']
    if not script.is_file() or not bridge.is_file() or not firmware:
        raise CSimError(
            f'{project_dir}: no build_lib.sh, {bridge.name} or firmware/; write the project with `lenet5-hls hls`'
        )
    _, files = pack_files([script, bridge, *firmware])
    text, stamps = re.subn(r'^LIB_STAMP=.*$', f'LIB_STAMP={SOURCES_STAMP}', script.read_text(), flags=re.M)
    if stamps != 1:
        raise CSimError(f'{script}: no LIB_STAMP= line to name the library by {_NOT_HLS4ML}')
    files['build_lib.sh'], files[UNITY_SOURCE] = one_unit(text, project, script)
    return files


def one_unit(script_text: str, project: str, script: Path) -> tuple[bytes, bytes]:
    """(build_lib.sh compiling one translation unit at OPT_LEVEL, that unit's source): the script's compile
    lines replaced by one that builds the library from UNITY_SOURCE, with the first compile line's flags and
    the link line's output."""
    compiles, link = list(_COMPILE.finditer(script_text)), list(_LINK.finditer(script_text))
    flags = _CFLAGS.findall(script_text)
    if not compiles or len(link) != 1 or len(flags) != 1:
        raise CSimError(f"{script}: not the compile, link and CFLAGS= lines of hls4ml's build_lib.sh {_NOT_HLS4ML}")
    unit = f'{compiles[0].group(1)} -shared {UNITY_SOURCE} {link[0].group(1)}'
    text = script_text[: compiles[0].start()] + unit + script_text[link[0].end() :]
    text = text.replace(flags[0], flags[0].replace('-O3', OPT_LEVEL))
    sources = [m.group(2).replace('${PROJECT}', project) for m in compiles]
    return text.encode(), ''.join(f'#include "{src}"\n' for src in sources).encode()


def csim_key(bundle: dict[str, bytes], compiler: str) -> str:
    """Identity of a build: the sources' names and contents and the compiler's version."""
    h = hashlib.sha256(tool_version(compiler).encode())
    for name in sorted(bundle):
        h.update(name.encode() + b'\0' + hashlib.sha256(bundle[name]).digest())
    return h.hexdigest()


def build_csim(bundle: dict[str, bytes], project: str, cache: Path | None = None) -> tuple[Path, bool, float]:
    """The compiled library of bundle in this machine's cache (built now if missing):
    (library path, built now, seconds)."""
    compiler = shutil.which('g++')
    if compiler is None:
        raise ToolMissing('g++ not found on PATH: install the Debian package `g++` (apt-get install g++)')
    key = csim_key(bundle, compiler)
    build_dir = (cache or cache_dir('csim')) / f'{project}-{key[:16]}'
    library = build_dir / 'firmware' / f'{project}-{SOURCES_STAMP}.so'
    start = time.perf_counter()

    def make(build_dir: Path) -> None:
        unpack_files(bundle, build_dir)
        proc = run_child(['bash', 'build_lib.sh'], capture_output=True, text=True, cwd=build_dir)
        if proc.returncode != 0 or not library.is_file():
            tail = '\n'.join((proc.stdout + proc.stderr).splitlines()[-15:])
            raise CSimError(f'compiling the C simulation of {project} in {build_dir} failed:\n{tail}')

    built = keyed_build(build_dir, key, make)
    return library, built, time.perf_counter() - start if built else 0.0
