"""The C simulation's build (frontend/csim_build.py): what it compiles, its failures named, and a project written
again linking the library compiled before instead of running g++."""

from pathlib import Path

import numpy as np
import pytest

from lenet5_hls.core.errors import ToolMissing
from lenet5_hls.frontend import csim_build as B
from lenet5_hls.frontend.convert import write_and_compile
from lenet5_hls.golden import GoldenModel
from lenet5_hls.model.mnist import to_model_input


def test_csim_bundle_is_what_build_lib_compiles(lenet5):
    project_dir = Path(lenet5.graph.config.get_output_dir())
    bundle = B.csim_bundle(project_dir, 'myproject')
    assert {'build_lib.sh', 'myproject_bridge.cpp', 'firmware/myproject.cpp', 'firmware/weights/w3.txt'} <= set(bundle)
    assert not [n for n in bundle if n.endswith('.so') or n.startswith('tb_data')]
    assert b'\nLIB_STAMP=csim\n' in bundle['build_lib.sh']  # equal sources, equal key, whatever hls4ml's stamp
    # one translation unit of both sources, hls4ml's flags but -O2, its link step's output
    script = bundle['build_lib.sh'].decode()
    assert bundle[B.UNITY_SOURCE] == b'#include "firmware/myproject.cpp"\n#include "myproject_bridge.cpp"\n'
    assert 'CFLAGS="-O2 -fPIC"' in script and '-O3' not in script and ' -c ' not in script
    assert '-shared csim_unity.cpp -o firmware/${PROJECT}-${LIB_STAMP}.so\n' in script
    assert bundle['firmware/parameters.h'] == (project_dir / 'firmware' / 'parameters.h').read_bytes()
    with pytest.raises(B.CSimError, match='no build_lib.sh, other_bridge.cpp or firmware/'):
        B.csim_bundle(project_dir, 'other')


@pytest.mark.parametrize(
    'script, message',
    [
        ('g++ -shared firmware/p.cpp -o firmware/p.so\n', 'no LIB_STAMP= line'),
        (
            'CFLAGS="-O3"\nLIB_STAMP=s\ng++ -shared firmware/p.cpp -o firmware/p.so\n',
            'not the compile, link and CFLAGS',
        ),
    ],
    ids=['no-stamp', 'no-compile-lines'],
)
def test_build_script_not_hls4mls_is_named(tmp_path, script, message):
    for name in ('build_lib.sh', 'p_bridge.cpp', 'firmware/p.cpp'):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(script)
    with pytest.raises(B.CSimError, match=message):
        B.csim_bundle(tmp_path, 'p')


def test_failing_compile_is_reported(tmp_path, monkeypatch):
    bundle = {'build_lib.sh': b'echo "error: no such type ap_fixed<0,0>" >&2; exit 3\n'}
    with pytest.raises(B.CSimError, match=r'compiling the C simulation of p in .* failed:\nerror: no such type'):
        B.build_csim(bundle, 'p', tmp_path)
    monkeypatch.setenv('PATH', str(tmp_path))
    with pytest.raises(ToolMissing, match='Debian package `g\\+\\+`'):
        B.build_csim(bundle, 'p', tmp_path)


def test_project_written_again_links_the_cached_library(lenet5, mnist_data, tmp_path, monkeypatch):
    """The session's LeNet-5 written to a second directory: no g++ run, the project holds its own copy of the
    library, and its C simulation gives the golden model's outputs."""
    graph = lenet5.graph
    monkeypatch.setitem(graph.config.config, 'OutputDir', str(tmp_path))
    assert write_and_compile(graph) is False
    stamp = graph.config.get_config_value('Stamp')
    assert (tmp_path / 'firmware' / f'myproject-{stamp}.so').is_file()
    x = to_model_input(mnist_data.x_test[:20]).astype(np.float64)
    csim = np.asarray(graph.predict(np.ascontiguousarray(x))).reshape(len(x), -1)
    assert np.array_equal(csim, GoldenModel(lenet5.spec).predict(x))
